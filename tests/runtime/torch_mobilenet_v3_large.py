"""Independent PyTorch reference for MobileNetV3-Large (Howard et al. 2019), written from
torchvision's torchvision/models/mobilenetv3.py and torchvision.ops.SqueezeExcitation, not from the
cnnc spec. Part of torch_classics.py's CLASSICS, written the same way (see there): module names
are torchvision's (features.4.block.2.fc1, classifier.3), so state_dict() lists tensors in
torchvision's order, which is the spec's.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torch_dropout import MaskedDropout
from torch_squeeze_excitation import SqueezeExcitation

# torchvision's norm_layer for MobileNetV3 (TensorFlow's defaults: eps 1e-3, decay 0.99)
BatchNorm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)


def make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's _make_divisible: the nearest multiple of `divisor`, at least `divisor`, and
    never more than 10% below `v`."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                act: type[nn.Module] | None = nn.Hardswish) -> nn.Sequential:
    """torchvision's Conv2dNormActivation: conv (no bias, pad (k-1)/2), BN, the activation."""
    layers = [nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2,
                        groups=groups, bias=False), BatchNorm(cout)]
    return nn.Sequential(*layers, *([act()] if act is not None else []))


class Hardsigmoid(nn.Module):
    """nn.Hardsigmoid's min(max(x + 3, 0), 6) / 6, in its order of operations, with an exact
    gradient: PyTorch's CPU backward multiplies by the float constant 1.0f / 6.0f, 3e-8 off in
    float64, which alone takes the SE gradients of test_parity.py's float64 step past its 1e-9
    (cnnc divides by 6). The ends (x = -3, 3 exactly) pass the gradient here; they have measure
    zero in the tests' random data."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x + 3, 0, 6) / 6


class InvertedResidual(nn.Module):
    """torchvision's MobileNetV3 InvertedResidual: 1x1 expansion (where the expanded width
    differs from the input's), k x k depthwise with the stride, SE where the row has it, linear
    1x1 projection; the input is added where the stride is 1 and cin == cout."""

    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, se: bool, act: str,
                 stride: int) -> None:
        super().__init__()
        activation = nn.Hardswish if act == "HS" else nn.ReLU
        layers: list[nn.Module] = []
        if expanded != cin:
            layers.append(conv_bn_act(cin, expanded, 1, act=activation))
        layers.append(conv_bn_act(expanded, expanded, kernel, stride, groups=expanded,
                                  act=activation))
        if se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4), nn.ReLU(),
                                            Hardsigmoid()))
        layers.append(conv_bn_act(expanded, cout, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x) + x if self.use_res_connect else self.block(x)


class MobileNetV3Large(nn.Module):
    """MobileNetV3-Large 1.0 as torchvision's mobilenet_v3_large: a 3x3/2 conv to 16 + BN +
    hardswish, table 1's fifteen bottlenecks, a 1x1 conv to 960 + BN + hardswish, global avg
    pool, fc 960-1280 + hardswish, dropout 0.2, fc 1280-1000."""

    # (input channels, kernel, expanded, out, SE, nonlinearity, stride): torchvision's bneck_conf
    SETTINGS = ((16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
                (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
                (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
                (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
                (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
                (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
                (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
                (160, 5, 960, 160, True, "HS", 1))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_act(3, 16, 3, stride=2)]
        layers += [InvertedResidual(*row) for row in self.SETTINGS]
        layers.append(conv_bn_act(160, 6 * 160, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(960, 1280), nn.Hardswish(), MaskedDropout(0.2),
                                        nn.Linear(1280, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
