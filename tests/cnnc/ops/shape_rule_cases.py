"""What every shape-rule test against PyTorch shares (tests/cnnc/ops/test_shape_rules_*.py):
outcomes (a shape, or REFUSED), attribute spellings as PyTorch takes them, and the
hypothesis strategies for feature maps.

Each property test builds the attributes with the op's pydantic model, runs the rule on the
shape without the batch axis and the PyTorch op on a batch of one, and compares the outcomes:
either both give the same shape, or both refuse. Where cnnc accepts more than PyTorch spells
(per-side padding, `same` with a stride), the PyTorch side pads explicitly with `F.pad` first.
Known disagreements are kept out of the properties with `assume` and pinned by xfail cases.
"""

from __future__ import annotations

import pytest
from hypothesis import note, settings
from hypothesis import strategies as st

from cnnc.errors import RuleError
from cnnc.ops import RULES

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # `same` with an even kernel

SETTINGS = settings(max_examples=40, deadline=None)
REFUSED = "refused"
TORCH_REFUSALS = (RuntimeError, ValueError, NotImplementedError)
TORCH_PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                  "circular": "circular"}
CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
MAXPOOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
BATCHNORM = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
LINEAR_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}


def rule_outcome(op: str, attrs, *shapes: tuple[int, ...]):
    """The rule's output shape, or REFUSED when it raises RuleError."""
    try:
        return RULES[op].infer(attrs, shapes)
    except RuleError as e:
        note(f"rule refused: {e.message}")
        return REFUSED


def torch_outcome(run):
    """The shape of `run()` without the batch axis, or REFUSED when PyTorch raises.

    An empty output counts as refused: PyTorch's 2D/3D transposed convs return one where the 1D
    op and every other op raise, and cnnc refuses any axis below 1.
    """
    try:
        with torch.no_grad():
            y = run()
    except TORCH_REFUSALS as e:
        note(f"torch refused: {str(e).splitlines()[0]}")
        return REFUSED
    if y.numel() == 0:
        note(f"torch gave an empty {tuple(y.shape)}")
        return REFUSED
    return tuple(y.shape[1:])


def batch(shape: tuple[int, ...]):
    return torch.randn(1, *shape)  # never zeros


def tup(value):
    """An attribute as PyTorch takes it: an int or a tuple."""
    return tuple(value) if isinstance(value, list) else value


def expand(value, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list) else (value,) * n


def flat_pads(pads: list[tuple[int, int]]) -> list[int]:
    """Per-axis (before, after) pairs in F.pad's order: last axis first."""
    return [v for before, after in reversed(pads) for v in (before, after)]


def param_shapes(module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in module.named_parameters()}


def per_axis(n: int, lo: int, hi: int) -> st.SearchStrategy:
    """An attribute given once (int) or once per spatial axis (list)."""
    return st.one_of(st.integers(lo, hi), st.lists(st.integers(lo, hi), min_size=n, max_size=n))


@st.composite
def feature_map(draw, max_size: int = 12, min_size: int = 1, max_channels: int = 4):
    n = draw(st.integers(1, 3))
    top = max_size if n < 3 else min(max_size, 8)
    sizes = draw(st.lists(st.integers(min_size, top), min_size=n, max_size=n))
    return (draw(st.integers(1, max_channels)), *sizes)
