"""PyTorch references for the zoo's ResNets (resnet20_cifar, resnet18, resnet50; the bench
builds resnet152 from the same class): torchvision's BasicBlock and Bottleneck with their
projection shortcuts, and the stages made of them. Part of torch_models.MODELS; the conventions
are torch_models.py's.
"""

from __future__ import annotations

import torch
from torch import nn


def projection(cin: int, cout: int, stride: int) -> nn.Sequential:
    """The shortcut where the shape changes: 1x1 conv (no bias) + BN, torchvision's downsample."""
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: two 3x3 convs (stride on the first) with BN, residual add, ReLU;
    a projection shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = projection(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (ResNet v1.5): 1x1 reduce, 3x3 with the stride (in `groups`
    groups: ResNeXt's), 1x1 expand to 4x `planes`, each with BN; residual add, ReLU; a
    projection shortcut when the shape changes. The inner width is torchvision's,
    planes * base_width / 64 * groups: `planes` for a ResNet."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1, groups: int = 1,
                 base_width: int = 64) -> None:
        super().__init__()
        width, cout = int(planes * (base_width / 64)) * groups, planes * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, groups=groups,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = projection(cin, cout, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


def basic_stage(cin: int, cout: int, blocks: int, stride: int) -> nn.Sequential:
    """`blocks` basic blocks; the first one strides (and projects when the shape changes)."""
    return nn.Sequential(*[BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1)
                           for i in range(blocks)])


def bottleneck_stage(cin: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    """`blocks` bottlenecks; the first one strides and projects."""
    cout = width * Bottleneck.expansion
    return nn.Sequential(*[Bottleneck(cin if i == 0 else cout, width, stride if i == 0 else 1)
                           for i in range(blocks)])


class ResNet20Cifar(nn.Module):
    """ResNet-20 for CIFAR-10 (He et al. 2016, CVPR, section 4.2, n = 3): 3x3 conv x16 + BN +
    ReLU, three stages of three basic blocks (16/32/64, stride 2 entering stages 2 and 3) with
    1x1 conv + BN projection shortcuts (option B), global avg pool, fc 64-10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = basic_stage(16, 16, 3, 1)
        self.layer2 = basic_stage(16, 32, 3, 2)
        self.layer3 = basic_stage(32, 64, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class ResNet(nn.Module):
    """ResNet-18/50 (He et al. 2016, CVPR) as torchvision's resnet18/resnet50: 7x7/2 stem, 3x3/2
    max pool, four stages of basic blocks (2, 2, 2, 2) or bottlenecks (3, 4, 6, 3) of widths
    64/128/256/512, global avg pool, fc to 1000."""

    def __init__(self, bottleneck: bool, blocks: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        cin = 64
        for i, (width, count) in enumerate(zip((64, 128, 256, 512), blocks)):
            stride = 1 if i == 0 else 2
            if bottleneck:
                stage = bottleneck_stage(cin, width, count, stride)
                cin = width * Bottleneck.expansion
            else:
                stage = basic_stage(cin, width, count, stride)
                cin = width
            setattr(self, f"layer{i + 1}", stage)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
