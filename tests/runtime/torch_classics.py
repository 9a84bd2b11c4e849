"""Independent PyTorch references for the classic CNNs of the zoo: MobileNet v1 and v2, SqueezeNet
1.0 and 1.1, ResNeXt-50 32x4d, WRN-28-10, pre-activation ResNet-164, Network in Network, YOLO v1
and the 3D U-Net (SegNet and DeconvNet are in torch_segmentation.py).

Written from the papers and the definitions they follow (torchvision's source for the torchvision
models, the authors' code otherwise), not from the cnnc specs; each class's docstring says which.
The three residual variants are in torch_resnet_variants.py, the stacked hourglass and WaveNet in
torch_hourglass_wavenet.py.
Every activation, pool and BN is a call of its own, as in the specs, and modules are declared in
the order the specs define their layers, so `state_dict()` lists tensors in the spec's order.
tests/runtime/measure_figures.py measures the reference figures on these models.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch_convnext import ConvNeXtTiny
from torch_dropout import MaskedDropout
from torch_efficientnet import EfficientNetB0
from torch_hourglass_wavenet import StackedHourglass, WaveNet
from torch_mobilenet_v3_large import MobileNetV3Large
from torch_resnet_variants import PreActResNet164, ResNeXt50, WRN28x10
from torch_segmentation import DeconvNet, SegNet
from torch_shufflenet_v2_x1_0 import ShuffleNetV2

# ---------------------------------------------------------------------------------------------
# MobileNets


class SamePad2d(nn.Module):
    """TensorFlow's SAME padding for a k x k window of stride s: the output is ceil(n / s), and
    an odd total of padding puts the extra pixel after."""

    def __init__(self, kernel: int, stride: int) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for n in (x.shape[-1], x.shape[-2]):  # F.pad takes the last axis first
            total = max((math.ceil(n / self.stride) - 1) * self.stride + self.kernel - n, 0)
            pads += [total // 2, total - total // 2]
        return F.pad(x, pads)


def tf_conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1,
                    groups: int = 1) -> nn.Sequential:
    """MobileNet v1's conv (no bias, SAME padding) + BN + ReLU, as the authors' TensorFlow code."""
    return nn.Sequential(OrderedDict([
        ("pad", SamePad2d(kernel, stride)),
        ("conv", nn.Conv2d(cin, cout, kernel, stride=stride, groups=groups, bias=False)),
        ("bn", nn.BatchNorm2d(cout)),
        ("relu", nn.ReLU()),
    ]))


class MobileNetV1(nn.Module):
    """MobileNet v1 1.0-224 (Howard et al. 2017), table 1: 3x3/2 conv to 32, thirteen depthwise
    separable convs (depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU), 7x7 avg pool, fc
    1024-1000. The last depthwise conv has stride 1 (table 1's "s2" there is a misprint: its
    output stays 7x7)."""

    # (output channels of the pointwise conv, stride of the depthwise conv)
    CFG = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
           (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))

    def __init__(self) -> None:
        super().__init__()
        layers = [tf_conv_bn_relu(3, 32, 3, stride=2)]
        cin = 32
        for cout, stride in self.CFG:
            layers += [tf_conv_bn_relu(cin, cin, 3, stride=stride, groups=cin),
                       tf_conv_bn_relu(cin, cout, 1)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AvgPool2d(7)
        self.fc = nn.Linear(1024, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def conv_bn_relu6(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                  act: bool = True) -> nn.Sequential:
    """torchvision's Conv2dNormActivation for MobileNet v2: conv (no bias, pad (k-1)/2), BN,
    ReLU6 unless `act` is false (the linear bottleneck)."""
    layers = [nn.Conv2d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2,
                        groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([nn.ReLU6()] if act else []))


class InvertedResidual(nn.Module):
    """torchvision's InvertedResidual: 1x1 expansion by t (none for t = 1), 3x3 depthwise with
    the stride, linear 1x1 projection; the input is added where stride is 1 and cin == cout."""

    def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
        super().__init__()
        hidden = round(cin * t)
        layers = [conv_bn_relu6(cin, hidden, 1)] if t != 1 else []
        layers += [conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
                   conv_bn_relu6(hidden, cout, 1, act=False)]
        self.conv = nn.Sequential(*layers)
        self.use_res_connect = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNet v2 1.0-224 (Sandler et al. 2018) as torchvision's mobilenet_v2: table 2's rows
    (t, c, n, s), a 1x1 conv to 1280, global avg pool, dropout 0.2, fc 1280-1000."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu6(3, 32, 3, stride=2)]
        cin = 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn_relu6(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(MaskedDropout(0.2), nn.Linear(1280, 1000))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


# ---------------------------------------------------------------------------------------------
# SqueezeNets


class Fire(nn.Module):
    """torchvision's Fire: 1x1 squeeze + ReLU, then 1x1 and 3x3 (pad 1) expand convs, each +
    ReLU, concatenated [1x1, 3x3]."""

    def __init__(self, cin: int, squeeze: int, expand: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze, expand, 1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze, expand, 3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet (Iandola et al. 2016) as torchvision's squeezenet1_0 / squeezenet1_1: the stem
    conv + ReLU, ceil-mode 3x3/2 max pools and fire modules; dropout 0.5, 1x1 conv to 1000 +
    ReLU, global avg pool."""

    def __init__(self, version: str) -> None:
        super().__init__()

        def pool() -> nn.Module:
            return nn.MaxPool2d(3, stride=2, ceil_mode=True)

        if version == "1_0":
            features = [nn.Conv2d(3, 96, 7, stride=2), nn.ReLU(), pool(),
                        Fire(96, 16, 64), Fire(128, 16, 64), Fire(128, 32, 128), pool(),
                        Fire(256, 32, 128), Fire(256, 48, 192), Fire(384, 48, 192),
                        Fire(384, 64, 256), pool(), Fire(512, 64, 256)]
        else:
            features = [nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(), pool(),
                        Fire(64, 16, 64), Fire(128, 16, 64), pool(),
                        Fire(128, 32, 128), Fire(256, 32, 128), pool(),
                        Fire(256, 48, 192), Fire(384, 48, 192), Fire(384, 64, 256),
                        Fire(512, 64, 256)]
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(MaskedDropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU(),
                                        nn.AdaptiveAvgPool2d(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


# ---------------------------------------------------------------------------------------------
# Network in Network, YOLO v1


def mlpconv(cin: int, out: int, mid1: int, mid2: int, kernel: int) -> nn.Sequential:
    """NIN's mlpconv: k x k conv (same size) + ReLU, 1x1 conv + ReLU, 1x1 conv + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, out, kernel, padding=kernel // 2), nn.ReLU(),
                         nn.Conv2d(out, mid1, 1), nn.ReLU(), nn.Conv2d(mid1, mid2, 1), nn.ReLU())


class NiNCifar10(nn.Sequential):
    """Network in Network for CIFAR-10 (Lin et al. 2014), the authors' released model: mlpconv
    192-160-96 (5x5), max pool 3/2, dropout 0.5, mlpconv 192-192-192 (5x5), avg pool 3/2, dropout
    0.5, mlpconv 192-192-10 (3x3), global avg pool. Pools round up, as Caffe's do."""

    def __init__(self) -> None:
        super().__init__(
            mlpconv(3, 192, 160, 96, 5), nn.MaxPool2d(3, stride=2, ceil_mode=True),
            MaskedDropout(0.5),
            mlpconv(96, 192, 192, 192, 5), nn.AvgPool2d(3, stride=2, ceil_mode=True),
            MaskedDropout(0.5),
            mlpconv(192, 192, 192, 10, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())


class YOLOv1(nn.Module):
    """YOLO v1 (Redmon et al. 2016), figure 3: 24 convs with bias (padding k // 2) + leaky ReLU
    0.1, 2x2/2 max pools, fc 50176-4096 + leaky ReLU, dropout 0.5, fc 4096-1470 viewed as 30x7x7
    (the paper's 7x7x30, channels first)."""

    # (out, kernel, stride) per conv; "M" is a 2x2/2 max pool
    CFG = ((64, 7, 2), "M", (192, 3, 1), "M",
           (128, 1, 1), (256, 3, 1), (256, 1, 1), (512, 3, 1), "M",
           *((256, 1, 1), (512, 3, 1)) * 4, (512, 1, 1), (1024, 3, 1), "M",
           *((512, 1, 1), (1024, 3, 1)) * 2, (1024, 3, 1), (1024, 3, 2),
           (1024, 3, 1), (1024, 3, 1))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for entry in self.CFG:
            if entry == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            out, kernel, stride = entry
            layers += [nn.Conv2d(cin, out, kernel, stride=stride, padding=kernel // 2),
                       nn.LeakyReLU(0.1)]
            cin = out
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(1024 * 7 * 7, 4096)
        self.leaky = nn.LeakyReLU(0.1)
        self.dropout = MaskedDropout(0.5)
        self.fc2 = nn.Linear(4096, 7 * 7 * 30)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.features(x), 1)
        return self.fc2(self.dropout(self.leaky(self.fc1(x)))).view(-1, 30, 7, 7)


# ---------------------------------------------------------------------------------------------
# 3D U-Net


class DoubleConv3d(nn.Sequential):
    """Two valid 3x3x3 convs with bias, each + BN (no learned scale or shift) + ReLU."""

    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__(
            nn.Conv3d(cin, mid, 3), nn.BatchNorm3d(mid, affine=False), nn.ReLU(),
            nn.Conv3d(mid, cout, 3), nn.BatchNorm3d(cout, affine=False), nn.ReLU())


def center_crop3d(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """x cut to ref's spatial size around its centre; an odd leftover voxel is dropped after."""
    starts = [(n - r) // 2 for n, r in zip(x.shape[2:], ref.shape[2:])]
    return x[(..., *(slice(s, s + r) for s, r in zip(starts, ref.shape[2:])))]


class Up3d(nn.Module):
    """2x2x2/2 up-conv (no bias) keeping the channels, the skip centre-cropped and concatenated
    before it, a double conv."""

    def __init__(self, channels: int, skip: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose3d(channels, channels, 2, stride=2, bias=False)
        self.conv = DoubleConv3d(skip + channels, cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(x)
        return self.conv(torch.cat([center_crop3d(skip, up), up], 1))


class UNet3d(nn.Module):
    """3D U-Net (Cicek et al. 2016), figure 1: analysis levels 32-64, 64-128, 128-256, 256-512,
    a 2x2x2 max pool opening each but the first, synthesis levels of 256, 128, 64, a 1x1x1 conv
    to 3 labels. 3 x 132 x 132 x 116 -> 3 x 44 x 44 x 28; 19,069,955 parameters, the paper's
    count."""

    def __init__(self) -> None:
        super().__init__()
        self.level1 = DoubleConv3d(3, 32, 64)
        self.level2 = nn.Sequential(nn.MaxPool3d(2), DoubleConv3d(64, 64, 128))
        self.level3 = nn.Sequential(nn.MaxPool3d(2), DoubleConv3d(128, 128, 256))
        self.level4 = nn.Sequential(nn.MaxPool3d(2), DoubleConv3d(256, 256, 512))
        self.up3 = Up3d(512, 256, 256)
        self.up2 = Up3d(256, 128, 128)
        self.up1 = Up3d(128, 64, 64)
        self.outc = nn.Conv3d(64, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.level1(x)
        x2 = self.level2(x1)
        x3 = self.level3(x2)
        x = self.level4(x3)
        return self.outc(self.up1(self.up2(self.up3(x, x3), x2), x1))


# ---------------------------------------------------------------------------------------------

CLASSICS: dict[str, Callable[[], nn.Module]] = {
    "mobilenet_v1": MobileNetV1,
    "mobilenet_v2": MobileNetV2,
    "squeezenet1_0": lambda: SqueezeNet("1_0"),
    "squeezenet1_1": lambda: SqueezeNet("1_1"),
    "resnext50_32x4d": ResNeXt50,
    "wrn28_10_cifar": WRN28x10,
    "preact_resnet164_cifar": PreActResNet164,
    "nin_cifar10": NiNCifar10,
    "yolov1": YOLOv1,
    "unet3d": UNet3d,
    "hourglass_hg8": StackedHourglass,
    "wavenet": WaveNet,
    "segnet": SegNet,
    "deconvnet": DeconvNet,
    "convnext_tiny": ConvNeXtTiny,
    "mobilenet_v3_large": MobileNetV3Large,
    "shufflenet_v2_x1_0": ShuffleNetV2,
    "efficientnet_b0": EfficientNetB0,
}
