"""Independent PyTorch references for three residual-network variants of the zoo: ResNeXt-50
32x4d (torchvision's), WRN-28-10 and pre-activation ResNet-164 (the authors' code). Part of
torch_classics.py's CLASSICS, written the same way (see there).
"""

from __future__ import annotations

import torch
from torch import nn
from torch_resnets import Bottleneck


class ResNeXt50(nn.Module):
    """ResNeXt-50 32x4d (Xie et al. 2017) as torchvision's resnext50_32x4d: ResNet-50's stem,
    stages (3, 4, 6, 3) of grouped bottlenecks (torch_resnets.Bottleneck with groups 32 and
    width_per_group 4: 1x1, grouped 3x3 with the stride, 1x1 to 4 x planes) with planes
    64/128/256/512, avg pool, fc 2048-1000."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin, stages = 64, []
        for i, (planes, count) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
            blocks = []
            for j in range(count):
                blocks.append(Bottleneck(cin, planes, 2 if i > 0 and j == 0 else 1, groups=32,
                                          base_width=4))
                cin = planes * 4
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class WideBasic(nn.Module):
    """The authors' WRN block (szagoruyko/wide-residual-networks, pytorch/resnet.py): o1 =
    relu(bn(x)), conv3x3 (stride), relu(bn), conv3x3; plus x, or plus a 1x1 conv (stride) of o1
    where the width changes. Convs without bias."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride=stride, bias=False) if cin != cout
                         else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1 = self.relu1(self.bn1(x))
        z = self.conv2(self.relu2(self.bn2(self.conv1(o1))))
        return z + (x if self.shortcut is None else self.shortcut(o1))


class WRN28x10(nn.Module):
    """WRN-28-10 (Zagoruyko & Komodakis 2016) for CIFAR-10: conv3x3 to 16, groups of 4 blocks of
    widths 160/320/640 (strides 1, 2, 2), BN-ReLU, 8x8 avg pool, fc 640-10."""

    def __init__(self, depth: int = 28, k: int = 10) -> None:
        super().__init__()
        n = (depth - 4) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        cin, groups = 16, []
        for width, stride in ((16 * k, 1), (32 * k, 2), (64 * k, 2)):
            blocks = [WideBasic(cin if i == 0 else width, width, stride if i == 0 else 1)
                      for i in range(n)]
            groups.append(nn.Sequential(*blocks))
            cin = width
        self.block1, self.block2, self.block3 = groups
        self.bn = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.block3(self.block2(self.block1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(self.relu(self.bn(x))), 1))


class PreActBottleneck(nn.Module):
    """resnet-pre-act.lua's bottleneck (KaimingHe/resnet-1k-layers): BN-ReLU-1x1 (out/4),
    BN-ReLU-3x3 (stride), BN-ReLU-1x1 (out); shortcut identity, or a 1x1 conv (stride) where the
    width changes, of the raw input, or of the first BN-ReLU with 'both_preact'."""

    def __init__(self, cin: int, cout: int, stride: int, both_preact: bool) -> None:
        super().__init__()
        mid = cout // 4
        self.bn1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(mid)
        self.relu3 = nn.ReLU()
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride=stride, bias=False) if cin != cout
                         else None)
        self.both_preact = both_preact

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu1(self.bn1(x))
        out = self.conv1(pre)
        out = self.conv2(self.relu2(self.bn2(out)))
        out = self.conv3(self.relu3(self.bn3(out)))
        if self.shortcut is None:
            return out + x
        return out + self.shortcut(pre if self.both_preact else x)


class PreActResNet164(nn.Module):
    """Pre-activation ResNet-164 for CIFAR-10 (He et al. 2016, "Identity Mappings") as the
    authors' resnet-pre-act.lua: conv3x3 to 16, three stages of 18 bottlenecks (outputs
    64/128/256, strides 1, 2, 2; stage 1's first block 'both_preact'), BN-ReLU, 8x8 avg pool, fc
    256-10. Convs without bias (removed under cuDNN 4+ in that code)."""

    def __init__(self, n: int = 18) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        cin, stages = 16, []
        for i, (cout, stride) in enumerate(((64, 1), (128, 2), (256, 2))):
            blocks = [PreActBottleneck(cin if j == 0 else cout, cout, stride if j == 0 else 1,
                                       both_preact=i == 0 and j == 0) for j in range(n)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.stage1, self.stage2, self.stage3 = stages
        self.bn = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU()
        self.avgpool = nn.AvgPool2d(8)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.conv1(x))))
        return self.fc(torch.flatten(self.avgpool(self.relu(self.bn(x))), 1))
