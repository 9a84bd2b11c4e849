"""Independent PyTorch references for the two encoder-decoder networks whose decoders unpool at
their encoders' max-pooling indices: SegNet and DeconvNet. Part of torch_classics.py's CLASSICS,
written the same way: modules registered in the spec's order, so parameters and BatchNorm
statistics line up one for one. Pools keep their indices (`return_indices=True`) and every
unpooling is given its pool's input size (`output_size`), which restores odd sizes.
"""

from __future__ import annotations

import torch
from torch import nn

VGG16_STAGES = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))  # (convs, width) per stage


def bn_relu_stack(layer: type[nn.Module], widths: list[int], cin: int) -> nn.Sequential:
    """3x3 (de)convs with pad 1 and bias, each followed by BatchNorm and ReLU, through `widths`."""
    modules: list[nn.Module] = []
    for width in widths:
        modules += [layer(cin, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        cin = width
    return nn.Sequential(*modules)


class UnpoolingNet(nn.Module):
    """VGG16's five conv stages, each ended by a 2x2/2 max pool that keeps its indices, a `middle`
    between encoder and decoder, and five decoder stages, deepest first: each unpools to the
    size its pool was given, then runs its layers. Subclasses fill in the parts."""

    encoder: nn.ModuleList
    pools: nn.ModuleList
    decoder: nn.ModuleList
    head: nn.Module

    def __init__(self, ceil_mode: bool) -> None:
        super().__init__()
        self.pools = nn.ModuleList([nn.MaxPool2d(2, ceil_mode=ceil_mode, return_indices=True)
                                    for _ in VGG16_STAGES])
        self.unpool = nn.MaxUnpool2d(2)

    def middle(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taken = []
        for stage, pool in zip(self.encoder, self.pools):
            x = stage(x)
            size = x.shape[-2:]
            x, indices = pool(x)
            taken.append((indices, size))
        x = self.middle(x)
        for stage, (indices, size) in zip(self.decoder, reversed(taken)):
            x = stage(self.unpool(x, indices, output_size=size))
        return self.head(x)


def vgg16_encoder() -> nn.ModuleList:
    """VGG16's 13 convs in their five stages (the pools are UnpoolingNet's)."""
    cins = [3] + [w for _, w in VGG16_STAGES[:-1]]
    return nn.ModuleList([bn_relu_stack(nn.Conv2d, [w] * n, cin)
                          for (n, w), cin in zip(VGG16_STAGES, cins)])


def decoder_widths() -> list[list[int]]:
    """The mirrored stages' widths, deepest first: stage k repeats encoder stage k's width and
    narrows, in its last layer, to the width of the stage above it (SegNet's conv4_1_D and
    DeconvNet's deconv4-3: 512 -> 256); the first stage stays at 64."""
    above = [64] + [w for _, w in VGG16_STAGES[:-1]]
    return [[w] * (n - 1) + [out] for (n, w), out in zip(reversed(VGG16_STAGES), reversed(above))]


class SegNet(UnpoolingNet):
    """Badrinarayanan et al. 2017 as the authors' Caffe model (SegNet-Tutorial's
    segnet_train.prototxt): Caffe pools round up (ceil mode); the decoder's last conv,
    conv1_1_D, gives the classes without BN or ReLU, so the last stage keeps one conv of 64."""

    def __init__(self, classes: int = 11) -> None:
        super().__init__(ceil_mode=True)
        self.encoder = vgg16_encoder()
        stages = decoder_widths()
        stages[-1] = stages[-1][:-1]  # conv1_1_D is the head
        self.decoder = nn.ModuleList([bn_relu_stack(nn.Conv2d, widths, widths[0])
                                      for widths in stages])
        self.head = nn.Conv2d(64, classes, 3, padding=1)


class DeconvNet(UnpoolingNet):
    """Noh et al. 2015, table 1: fc6 (7x7 conv to 4096) and fc7 (1x1 conv to 4096) after pool5,
    deconv-fc6 (7x7 transposed conv back to 512x7x7), each with BN and ReLU; the decoder's 3x3
    deconvs with BN and ReLU; a 1x1 deconv to the 21 classes."""

    def __init__(self, classes: int = 21) -> None:
        super().__init__(ceil_mode=False)
        self.encoder = vgg16_encoder()
        self.fc6 = nn.Sequential(nn.Conv2d(512, 4096, 7), nn.BatchNorm2d(4096), nn.ReLU())
        self.fc7 = nn.Sequential(nn.Conv2d(4096, 4096, 1), nn.BatchNorm2d(4096), nn.ReLU())
        self.deconv_fc6 = nn.Sequential(nn.ConvTranspose2d(4096, 512, 7), nn.BatchNorm2d(512),
                                        nn.ReLU())
        self.decoder = nn.ModuleList([
            bn_relu_stack(nn.ConvTranspose2d, widths, widths[0]) for widths in decoder_widths()])
        self.head = nn.ConvTranspose2d(64, classes, 1)

    def middle(self, x: torch.Tensor) -> torch.Tensor:
        return self.deconv_fc6(self.fc7(self.fc6(x)))
