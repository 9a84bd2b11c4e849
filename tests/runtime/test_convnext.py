"""ConvNeXt-T's channels-first reference (torch_convnext.py) against torchvision's own form, and
cnnc against the reference with layer scales that let every block's branch be seen.

The zoo's parity test (test_parity.py) runs the reference as initialised, where each layer
scale is 1e-6: the branches then reach the output at a millionth of its size, and a wrong norm
or activation inside them would pass in float32. Here the scales are drawn near 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn
from torch_convnext import EPS, CNBlock
from torch_models import build

from cnnc import build_model, compile_file
from cnnc_runtime.importer import NamesDiffer, map_state_dict


class Permute(nn.Module):
    """torchvision.ops.misc.Permute."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class TorchvisionCNBlock(nn.Module):
    """torchvision's CNBlock as its source writes it, in inference (no stochastic depth):
    channels moved last around the LayerNorm and two nn.Linear layers, layer_scale (C, 1, 1)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=EPS),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * 1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * self.block(x) + x


def test_channels_first_block_computes_torchvisions():
    torch.manual_seed(0)
    ours, theirs = CNBlock(8, 0.0).double(), TorchvisionCNBlock(8).double()
    with torch.no_grad():
        ours.layer_scale.weight.uniform_(0.5, 1.5)
        for i, j in ((0, 0), (1, 2), (2, 3), (4, 5)):  # our block's layers, torchvision's
            theirs.block[j].weight.copy_(ours.block[i].weight.reshape(theirs.block[j].weight.shape))
            theirs.block[j].bias.copy_(ours.block[i].bias)
        theirs.layer_scale.copy_(ours.layer_scale.weight.view(-1, 1, 1))
        x = torch.randn(2, 8, 9, 11, dtype=torch.float64)
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-12, atol=1e-12)


def test_cnnc_matches_the_reference_with_visible_branches():
    torch.manual_seed(0)
    reference = build("convnext_tiny").double().eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, CNBlock):
                module.layer_scale.weight.uniform_(0.5, 1.5)
    compiled = compile_file("convnext_tiny", (3, 32, 32))
    model = build_model(compiled, dtype="float64", seed=1)
    weights = {k: v.numpy() for k, v in reference.state_dict().items()}
    with warnings.catch_warnings():  # torchvision's names are not the spec's: by position
        warnings.simplefilter("ignore", NamesDiffer)
        _, arrays = map_state_dict(model.plan, weights)
    model.load(arrays)
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32))
    with torch.no_grad():
        want = reference(torch.from_numpy(x)).numpy()
    got = model.forward(x)
    assert np.abs(got - want).max() <= 1e-9 * np.abs(want).max()
    assert np.abs(want[0] - want[1]).max() > 1e-3 * np.abs(want).max()  # the input matters
