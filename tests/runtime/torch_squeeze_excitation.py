"""torchvision.ops.SqueezeExcitation (torchvision/ops/misc.py), for the PyTorch references of
EfficientNet-B0 and MobileNetV3-Large, each with its own activations."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    """Global average pool, 1x1 conv (with bias) to `squeeze` channels + `activation`, 1x1 conv
    back + `scale_activation`; the input times that gate. Module names are torchvision's."""

    def __init__(self, channels: int, squeeze: int, activation: nn.Module,
                 scale_activation: nn.Module) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation
        self.scale_activation = scale_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.activation(self.fc1(self.avgpool(x)))
        return self.scale_activation(self.fc2(scale)) * x
