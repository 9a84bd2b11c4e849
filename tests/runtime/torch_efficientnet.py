"""Independent PyTorch reference for EfficientNet-B0 (Tan & Le 2019), written from torchvision's
efficientnet_b0 (torchvision/models/efficientnet.py, and Conv2dNormActivation and
SqueezeExcitation of torchvision/ops/misc.py), not from the cnnc spec.

torchvision's module tree and names are kept, so its state_dict loads as it is: features.0 the
stem, features.1 to features.7 the stages (an nn.Sequential of MBConv blocks each), features.8
the 1x1 head conv, avgpool, classifier (dropout, fc). Stochastic depth is torchvision's ("row"
mode, 0.2 * k / 16 for the k-th of the sixteen blocks), created only on the blocks that add
their input, where torchvision applies it, with masks a parity test can hand in
(torch_dropout.py).
"""

from __future__ import annotations

import torch
from torch import nn
from torch_dropout import MaskedDropout, MaskedStochasticDepth
from torch_squeeze_excitation import SqueezeExcitation

# torchvision's _efficientnet_conf for B0 (width and depth 1.0, so no channel rounding applies):
# (expand ratio t, kernel, stride of the first block, input channels, output channels, blocks)
STAGES = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
          (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))


def conv_bn_silu(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: bool = True) -> nn.Sequential:
    """torchvision's Conv2dNormActivation with BatchNorm2d's defaults (B0 passes no norm layer:
    eps 1e-5, momentum 0.1): conv without bias, padding (k - 1) // 2, BN, SiLU unless `act` is
    false."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([nn.SiLU()] if act else []))


class MBConv(nn.Module):
    """torchvision's MBConv: 1x1 expansion to t x cin + BN + SiLU (none where that is cin),
    depthwise k x k with the stride + BN + SiLU, squeeze-excitation to max(1, cin // 4), linear
    1x1 projection + BN; the input is added where the stride is 1 and cin == cout."""

    def __init__(self, t: int, kernel: int, stride: int, cin: int, cout: int,
                 sd_prob: float) -> None:
        super().__init__()
        hidden = cin * t
        layers = [conv_bn_silu(cin, hidden)] if hidden != cin else []
        layers += [conv_bn_silu(hidden, hidden, kernel, stride, groups=hidden),
                   SqueezeExcitation(hidden, max(1, cin // 4), nn.SiLU(), nn.Sigmoid()),
                   conv_bn_silu(hidden, cout, act=False)]
        self.block = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == cout
        if self.use_res_connect:
            self.stochastic_depth = MaskedStochasticDepth(sd_prob)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_res_connect:
            return self.block(x)
        return self.stochastic_depth(self.block(x)) + x


class EfficientNetB0(nn.Module):
    """EfficientNet-B0 as torchvision's efficientnet_b0: 3x3/2 stem to 32, the seven stages of
    table 1, 1x1 conv to 1280 (4 x 320), global avg pool, dropout 0.2, fc 1280-1000."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_silu(3, STAGES[0][3], 3, stride=2)]
        total, k = sum(stage[-1] for stage in STAGES), 0  # blocks, and the index of the next
        for t, kernel, stride, cin, cout, n in STAGES:
            layers.append(nn.Sequential(*(MBConv(t, kernel, stride if i == 0 else 1,
                                                 cin if i == 0 else cout, cout,
                                                 0.2 * float(k + i) / total)
                                          for i in range(n))))
            k += n
        layers.append(conv_bn_silu(STAGES[-1][4], 4 * STAGES[-1][4]))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(MaskedDropout(0.2), nn.Linear(4 * STAGES[-1][4], 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
