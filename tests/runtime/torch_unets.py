"""PyTorch references for the zoo's U-Nets (unet_milesial, unet_original): padded and valid
double convolutions, the contracting path, and the up-steps that concatenate the skip (cropped
to size in the original). Part of torch_models.MODELS; the conventions are torch_models.py's.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn


class PaddedDoubleConv(nn.Sequential):
    """milesial's DoubleConv: (3x3 conv pad 1 without bias, BN, ReLU) x 2. Ids from the spec."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(cin, cout, 3, padding=1, bias=False)),
            ("bn1", nn.BatchNorm2d(cout)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(cout, cout, 3, padding=1, bias=False)),
            ("bn2", nn.BatchNorm2d(cout)),
            ("relu2", nn.ReLU()),
        ]))


class ValidDoubleConv(nn.Sequential):
    """The paper's two unpadded 3x3 convs with bias, each followed by ReLU (each trims 2 px)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(cin, cout, 3)),
            ("relu1", nn.ReLU()),
            ("conv2", nn.Conv2d(cout, cout, 3)),
            ("relu2", nn.ReLU()),
        ]))


class Down(nn.Sequential):
    """One level down the contracting path: 2x2 max pool, then a double conv."""

    def __init__(self, double_conv: nn.Module) -> None:
        super().__init__(OrderedDict([("pool", nn.MaxPool2d(2)), ("conv", double_conv)]))


def center_crop(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """x cut to ref's spatial size around its centre; the odd pixel is dropped after."""
    (h, w), (rh, rw) = x.shape[-2:], ref.shape[-2:]
    top, left = (h - rh) // 2, (w - rw) // 2
    return x[..., top:top + rh, left:left + rw]


class UpMilesial(nn.Module):
    """milesial's Up(channels, out, bilinear=False): 2x2/2 transposed conv to channels // 2,
    concat [skip, up], double conv. (The repo's pad of the upsampled map to the skip's size is a
    no-op at the spec's 256x256 input, and the spec leaves it out; so does this.)"""

    def __init__(self, channels: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(channels, channels // 2, 2, stride=2)
        self.conv = PaddedDoubleConv(channels, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([skip, self.up(x)], 1))


class UpCrop(nn.Module):
    """The paper's expansive step: 2x2 up-conv halving the channels, the skip map centre-cropped
    to its size and concatenated before it ([skip, up]), valid double conv."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(cin, cout, 2, stride=2)
        self.conv = ValidDoubleConv(2 * cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = self.up(x)
        return self.conv(torch.cat([center_crop(skip, up), up], 1))


class UNet(nn.Module):
    """A U-Net frame: inc, down1-4, up1-4 (up1 at the bottom), 1x1 conv outc to 2 classes."""

    def __init__(self, double_conv: Callable[[int, int], nn.Module],
                 up: Callable[[int, int], nn.Module], cin: int) -> None:
        super().__init__()
        self.inc = double_conv(cin, 64)
        self.down1 = Down(double_conv(64, 128))
        self.down2 = Down(double_conv(128, 256))
        self.down3 = Down(double_conv(256, 512))
        self.down4 = Down(double_conv(512, 1024))
        self.up1 = up(1024, 512)
        self.up2 = up(512, 256)
        self.up3 = up(256, 128)
        self.up4 = up(128, 64)
        self.outc = nn.Conv2d(64, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x = self.down4(x4)
        x = self.up1(x, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


class UNetMilesial(UNet):
    """U-Net (Ronneberger et al. 2015) as milesial/Pytorch-UNet's UNet(n_channels=3, n_classes=2,
    bilinear=False): padded convs without bias + BN + ReLU, transposed-conv upsampling, skip first
    in every concat. 3x256x256 -> 2x256x256. Ids from specs/unet_milesial.yaml."""

    def __init__(self) -> None:
        super().__init__(PaddedDoubleConv, UpMilesial, cin=3)


class UNetOriginal(UNet):
    """U-Net as in Ronneberger et al. 2015 (MICCAI), figure 1: valid 3x3 convs with bias + ReLU,
    no BN, 2x2 max pools, 2x2 up-convs, centre-cropped skips concatenated first, 1x1 conv to 2
    classes. 1x572x572 -> 2x388x388. Ids from specs/unet_original.yaml."""

    def __init__(self) -> None:
        super().__init__(ValidDoubleConv, UpCrop, cin=1)
