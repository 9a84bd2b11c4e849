"""Independent PyTorch reference for ConvNeXt-T (Liu et al. 2022), written from torchvision's
convnext_tiny (torchvision/models/convnext.py), not from the cnnc spec.

torchvision's module tree and names are kept (features.0 the stem, features.1/3/5/7 the stages,
features.2/4/6 the downsamplings, avgpool, classifier), with three changes that write the same
network channels first, as the spec does:
- a block's two pointwise nn.Linear layers, which torchvision runs on the channels moved last,
  are 1x1 nn.Conv2d layers on the map (the same weights, (4C, C) reshaped to (4C, C, 1, 1));
  the block's LayerNorm is a LayerNorm2d (nn.LayerNorm over the channels) for the same reason,
  so torchvision's two Permute modules go, and the block's indices are 0-4, not 0, 2, 3, 5;
- the layer scale is a `layer_scale` module with a `weight (C)`, declared after the branch,
  where torchvision has a `layer_scale (C, 1, 1)` parameter of the block itself (which its
  state_dict lists before the branch's tensors);
Stochastic depth is torchvision's ("row" mode, 0.1 * k / 17 for the k-th of the 18 blocks),
with masks a parity test can hand in (torch_dropout.py).
"""

from __future__ import annotations

import torch
from torch import nn
from torch_dropout import MaskedStochasticDepth

EPS = 1e-6  # every LayerNorm of convnext_tiny


class LayerNorm2d(nn.LayerNorm):
    """torchvision's LayerNorm2d: nn.LayerNorm over the channels of an NCHW map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """A learnable scale per channel, started at `init` (CNBlock's layer_scale)."""

    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight.view(-1, 1, 1)


class CNBlock(nn.Module):
    """torchvision's CNBlock, channels first: 7x7 depthwise conv, LayerNorm, 1x1 to 4C, GELU,
    1x1 back to C, layer scale, added to the input."""

    def __init__(self, dim: int, sd_prob: float, layer_scale: float = 1e-6) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            LayerNorm2d(dim, eps=EPS),
            nn.Conv2d(dim, 4 * dim, 1),
            nn.GELU(),
            nn.Conv2d(4 * dim, dim, 1),
        )
        self.layer_scale = LayerScale(dim, layer_scale)
        self.stochastic_depth = MaskedStochasticDepth(sd_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.stochastic_depth(self.layer_scale(self.block(x)))


class ConvNeXtTiny(nn.Module):
    """ConvNeXt-T as torchvision's convnext_tiny: 4x4/4 conv + LayerNorm2d, stages of (3, 3, 9, 3)
    blocks at widths (96, 192, 384, 768) with LayerNorm2d + 2x2/2 conv between them, global
    average pool, LayerNorm2d, flatten, fc 768-1000."""

    DEPTHS, WIDTHS = (3, 3, 9, 3), (96, 192, 384, 768)

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv2d(3, self.WIDTHS[0], 4, stride=4), LayerNorm2d(self.WIDTHS[0], eps=EPS)
            )
        ]
        total, k = sum(self.DEPTHS), 0  # blocks, and the index of the next
        for i, (depth, width) in enumerate(zip(self.DEPTHS, self.WIDTHS)):
            layers.append(nn.Sequential(*(CNBlock(width, 0.1 * (k + j) / (total - 1.0))
                                          for j in range(depth))))
            k += depth
            if i + 1 < len(self.WIDTHS):
                wider = self.WIDTHS[i + 1]
                layers.append(
                    nn.Sequential(LayerNorm2d(width, eps=EPS), nn.Conv2d(width, wider, 2, stride=2))
                )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = self.WIDTHS[-1]
        self.classifier = nn.Sequential(
            LayerNorm2d(last, eps=EPS), nn.Flatten(1), nn.Linear(last, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))
