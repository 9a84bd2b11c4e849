"""Independent PyTorch reference for ShuffleNet V2 1.0x (Ma et al. 2018), written from
torchvision's torchvision/models/shufflenetv2.py, not from the cnnc spec. Part of
torch_classics.py's CLASSICS, written the same way (see there): module names are torchvision's
(stage2.0.branch1.0, stage3.1.branch2.5, conv5.0, fc), so state_dict() lists tensors in
torchvision's order, which is the spec's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's channel_shuffle: (N, C, H, W) viewed as (N, g, C/g, H, W), transposed."""
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w)  # (N, g, C/g, H, W)
    return torch.transpose(x, 1, 2).contiguous().view(n, c, h, w)


def depthwise_bn(channels: int, stride: int) -> list[nn.Module]:
    """A 3x3 depthwise conv (no bias, pad 1) and its BN, no activation."""
    return [nn.Conv2d(channels, channels, 3, stride=stride, padding=1, groups=channels,
                      bias=False), nn.BatchNorm2d(channels)]


def pointwise_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]


class InvertedResidual(nn.Module):
    """torchvision's ShuffleNet V2 unit. Stride 1: the channels split in halves, the first kept,
    the second through branch 2 (1x1 + BN + ReLU, depthwise 3x3 + BN, 1x1 + BN + ReLU). Stride 2:
    branch 1 (depthwise 3x3/2 + BN, 1x1 + BN + ReLU) and branch 2 both on the whole input. Then
    concatenation and a channel shuffle of 2 groups."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(*depthwise_bn(cin, stride), *pointwise_bn_relu(cin, half))
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(*pointwise_bn_relu(cin if stride > 1 else half, half),
                                     *depthwise_bn(half, stride), *pointwise_bn_relu(half, half))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet V2 1.0x as torchvision's shufflenet_v2_x1_0: 3x3/2 conv to 24 + BN + ReLU,
    3x3/2 max pool, stages of (4, 8, 4) units to (116, 232, 464) channels, each opened by a
    stride-2 unit, 1x1 conv to 1024 + BN + ReLU, global average pool, fc 1024-1000."""

    def __init__(self, repeats: tuple[int, ...] = (4, 8, 4),
                 widths: tuple[int, ...] = (24, 116, 232, 464, 1024)) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, widths[0], 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU())
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = widths[0]
        for name, n, cout in zip(("stage2", "stage3", "stage4"), repeats, widths[1:]):
            units = [InvertedResidual(cin, cout, 2)]
            units += [InvertedResidual(cout, cout, 1) for _ in range(n - 1)]
            setattr(self, name, nn.Sequential(*units))
            cin = cout
        self.conv5 = nn.Sequential(*pointwise_bn_relu(cin, widths[-1]))
        self.fc = nn.Linear(widths[-1], 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        # torchvision's x.mean([2, 3]), as the pool call that the figures count (measure_figures.py)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
