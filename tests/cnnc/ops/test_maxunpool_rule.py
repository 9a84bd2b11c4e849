"""The maxunpool shape rule against PyTorch's MaxUnpool1d/2d/3d (with and without
`output_size`), its refusals, and maxpool's declared `indices` output."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cnnc.errors import RuleError
from cnnc.ops import RULES
from cnnc.ops.maxunpool import MaxUnpoolAttrs, infer, receptive

torch = pytest.importorskip("torch")
UNPOOL = {1: torch.nn.MaxUnpool1d, 2: torch.nn.MaxUnpool2d, 3: torch.nn.MaxUnpool3d}


@st.composite
def unpool_case(draw):
    n = draw(st.integers(1, 3))
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    sizes = tuple(draw(st.integers(1, 6)) for _ in range(n))
    return n, k, s, p, sizes


def torch_shape(n, k, s, p, x, output_size=None):
    values = torch.ones((1, *x))
    indices = torch.zeros((1, *x), dtype=torch.int64)  # always inside: only sizes are tested
    return tuple(UNPOOL[n](k, s, p)(values, indices, output_size=output_size).shape[1:])


@settings(max_examples=150, deadline=None)
@given(case=unpool_case(), shift=st.lists(st.integers(-4, 4), min_size=3, max_size=3),
       like=st.booleans())
def test_maxunpool_rule_matches_torch(case, shift, like):
    n, k, s, p, sizes = case
    a = MaxUnpoolAttrs(op="maxunpool", kernel=k, stride=s, padding=p)
    x = (2, *sizes)
    default = tuple((d - 1) * s - 2 * p + k for d in sizes)
    want = tuple(d + e for d, e in zip(default, shift))
    assume(not like or min(want) >= 1)  # every tensor of a graph has a size
    xs = (x, x) + (((3, *want),) if like else ())
    try:
        theirs = torch_shape(n, k, s, p, x, want if like else None)
    except (ValueError, RuntimeError):
        theirs = None
    try:
        ours = infer(a, xs)
    except RuleError:
        ours = None
    if min(default) < 1:  # PyTorch makes an empty output
        assert ours is None
        return
    assert ours == theirs


def test_values_and_indices_must_agree_and_like_must_match_the_axes():
    a = MaxUnpoolAttrs(op="maxunpool", kernel=2)
    with pytest.raises(RuleError, match="values 4x8x8 and indices 4x4x4 differ in shape"):
        infer(a, ((4, 8, 8), (4, 4, 4)))
    with pytest.raises(RuleError, match="different numbers of spatial axes"):
        infer(a, ((4, 8, 8), (4, 8, 8), (4, 16)))
    assert infer(a, ((4, 8, 8), (4, 8, 8), (1, 17, 16))) == (4, 17, 16)  # odd input restored


def test_maxunpool_sees_like_a_transposed_window_and_maxpool_declares_indices():
    (w,) = receptive(MaxUnpoolAttrs(op="maxunpool", kernel=3, stride=2, padding=1), ((1, 4),) * 2)
    assert (w.kernel, w.stride, w.offset) == (2, 0.5, 0.0)
    assert RULES["maxpool"].outputs == ("indices",)
    assert RULES["maxunpool"].arity == (2, 3) and RULES["maxunpool"].outputs == ()
