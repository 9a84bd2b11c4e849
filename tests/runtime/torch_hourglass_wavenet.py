"""Independent PyTorch references for two networks built on the spec language's recursion and
gathers: the stacked hourglass (the authors' Torch code, hg.lua and Residual.lua) and WaveNet
(see WaveNet's docstring for the implementation it follows). Part of torch_classics.py's
CLASSICS, written the same way: modules registered in the spec's order, so parameters and
BatchNorm statistics line up one for one.
"""

from __future__ import annotations

import torch
from torch import nn


class Residual(nn.Module):
    """Residual.lua: BN-ReLU-1x1 to cout/2, BN-ReLU-3x3, BN-ReLU-1x1 to cout, added to the input,
    or to its 1x1 conv where the width changes. Every conv has a bias (Torch's default)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = cout // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), nn.Conv2d(mid, cout, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv1(torch.relu(self.bn1(x)))
        y = self.conv2(torch.relu(self.bn2(y)))
        y = self.conv3(torch.relu(self.bn3(y)))
        return y + (x if self.skip is None else self.skip(x))


class Hourglass(nn.Module):
    """hg.lua's hourglass(n, f): a residual at full size; a 2x2 max pool, a residual, the
    hourglass of depth n - 1 (a residual at n = 1), a residual, nearest upsampling x2; summed."""

    def __init__(self, depth: int, f: int) -> None:
        super().__init__()
        self.up1 = Residual(f, f)
        self.pool = nn.MaxPool2d(2)
        self.low1 = Residual(f, f)
        self.low2 = Hourglass(depth - 1, f) if depth > 1 else Residual(f, f)
        self.low3 = Residual(f, f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low3(self.low2(self.low1(self.pool(x))))
        return self.up1(x) + nn.functional.interpolate(low, scale_factor=2, mode="nearest")


class HourglassStack(nn.Module):
    """One stack of hg.lua's createModel: hourglass, residual, lin (1x1 conv + BN + ReLU), the
    heatmaps; unless last, the next input: input + 1x1(features) + 1x1(heatmaps)."""

    def __init__(self, f: int, joints: int, last: bool) -> None:
        super().__init__()
        self.hg = Hourglass(4, f)
        self.res = Residual(f, f)
        self.lin = nn.Conv2d(f, f, 1)
        self.lin_bn = nn.BatchNorm2d(f)
        self.heatmaps = nn.Conv2d(f, joints, 1)
        self.back = None if last else nn.ModuleList([nn.Conv2d(f, f, 1), nn.Conv2d(joints, f, 1)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = torch.relu(self.lin_bn(self.lin(self.res(self.hg(x)))))
        heatmaps = self.heatmaps(features)
        if self.back is not None:
            x = x + self.back[0](features) + self.back[1](heatmaps)
        return x, heatmaps


class StackedHourglass(nn.Module):
    """Newell et al. 2016 as hg.lua with its defaults (nFeats 256, nModules 1): 7x7/2 conv 64 +
    BN + ReLU, residuals 64-128, max pool, 128-128, 128-256, then `stacks` stacks of 16
    heatmaps each. Returns the list of every stack's heatmaps (intermediate supervision)."""

    def __init__(self, stacks: int = 8, f: int = 256, joints: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.r1 = Residual(64, 128)
        self.pool = nn.MaxPool2d(2)
        self.r4 = Residual(128, 128)
        self.r5 = Residual(128, f)
        self.stacks = nn.ModuleList([HourglassStack(f, joints, i == stacks - 1)
                                     for i in range(stacks)])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.r5(self.r4(self.pool(self.r1(torch.relu(self.bn1(self.conv1(x)))))))
        outputs = []
        for stack in self.stacks:
            x, heatmaps = stack(x)
            outputs.append(heatmaps)
        return outputs


class GatedResidualLayer(nn.Module):
    """One layer of ibab/tensorflow-wavenet's _create_dilation_layer (wavenet/model.py): the
    filter and gate convs of width 2 at `dilation`, causal (left padding of `dilation`, so output
    t sees inputs t - dilation and t); tanh(filter) * sigmoid(gate); its 1x1 skip conv; and,
    unless nothing reads it (the last layer), the 1x1 "dense" conv added to the input. Every conv
    has a bias (use_biases)."""

    def __init__(self, dilation: int, residual: int, gate: int, skip: int, last: bool) -> None:
        super().__init__()
        self.dilation = dilation
        self.filter = nn.Conv1d(residual, gate, 2, dilation=dilation)
        self.gate = nn.Conv1d(residual, gate, 2, dilation=dilation)
        self.skip = nn.Conv1d(gate, skip, 1)
        self.dense = None if last else nn.Conv1d(gate, residual, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        past = nn.functional.pad(x, (self.dilation, 0))  # (N, C, L + dilation): causal
        out = torch.tanh(self.filter(past)) * torch.sigmoid(self.gate(past))  # (N, gate, L)
        residual = None if self.dense is None else x + self.dense(out)
        return residual, self.skip(out)


class WaveNet(nn.Module):
    """van den Oord et al. 2016 as ibab/tensorflow-wavenet (3c973c0, wavenet/model.py) with its
    wavenet_params.json: one-hot input of 256 mu-law classes; a causal conv of width 2 to 32
    residual channels without bias (_create_causal_layer); the gated layers at dilations
    1, 2, ..., 512, five times; the sum of all 50 skip outputs (512 channels), ReLU, 1x1 conv,
    ReLU, 1x1 conv to the 256 classes (logits of each sample's next value). Where ibab's valid
    convs shorten the sequence, these pad on the left and keep its length."""

    def __init__(self, stacks: int = 5, layers_per_stack: int = 10, residual: int = 32,
                 gate: int = 32, skip: int = 512, classes: int = 256) -> None:
        super().__init__()
        dilations = [2**k for k in range(layers_per_stack)] * stacks
        self.causal = nn.Conv1d(classes, residual, 2, bias=False)
        self.layers = nn.ModuleList([
            GatedResidualLayer(d, residual, gate, skip, last=i == len(dilations) - 1)
            for i, d in enumerate(dilations)])
        self.postprocess1 = nn.Conv1d(skip, skip, 1)
        self.postprocess2 = nn.Conv1d(skip, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.causal(nn.functional.pad(x, (1, 0)))  # (N, residual, L)
        total = 0
        for layer in self.layers:
            x, skip = layer(x)
            total = total + skip  # (N, skip, L), summed as it comes: 50 of them would not fit
        return self.postprocess2(torch.relu(self.postprocess1(torch.relu(total))))
