"""The shape rules of shape ops, linear, normalisation, activations and merges against PyTorch's
own op: same output shape, same parameter shapes, the MAC conventions, and a refusal (RuleError)
wherever PyTorch refuses.

How the tests compare: tests/cnnc/ops/shape_rule_cases.py.
"""

from __future__ import annotations

import math
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shape_rule_cases import (
    BATCHNORM,
    REFUSED,
    SETTINGS,
    batch,
    feature_map,
    param_shapes,
    rule_outcome,
    torch_outcome,
)

from cnnc.errors import RuleError
from cnnc.ops import RULES
from cnnc.ops.add import AddAttrs
from cnnc.ops.batchnorm import BatchNormAttrs
from cnnc.ops.concat import ConcatAttrs
from cnnc.ops.crop import CropAttrs
from cnnc.ops.flatten import FlattenAttrs
from cnnc.ops.gelu import GeluAttrs
from cnnc.ops.groupnorm import GroupNormAttrs
from cnnc.ops.hardsigmoid import HardsigmoidAttrs
from cnnc.ops.hardswish import HardswishAttrs
from cnnc.ops.layernorm import LayerNormAttrs
from cnnc.ops.linear import LinearAttrs
from cnnc.ops.lrn import LrnAttrs
from cnnc.ops.mul import MulAttrs
from cnnc.ops.reshape import ReshapeAttrs
from cnnc.ops.silu import SiluAttrs

torch = pytest.importorskip("torch")
nn = torch.nn

# --- shape ops ---------------------------------------------------------------------------------

@SETTINGS
@given(x_shape=st.one_of(st.tuples(st.integers(1, 20)), feature_map()))
def test_flatten_matches_torch(x_shape):
    got = rule_outcome("flatten", FlattenAttrs.model_validate({"op": "flatten"}), x_shape)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: nn.Flatten()(x))


@st.composite
def reshape_target(draw, x_shape: tuple[int, ...]) -> list[int]:
    """Mostly a valid target (a factorisation, maybe with one -1), sometimes any list."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.lists(st.sampled_from([-2, -1, 0, 1, 2, 3, 4, 6]), min_size=1,
                             max_size=4))
    left, dims = math.prod(x_shape), []
    while left > 1:
        d = draw(st.sampled_from([f for f in range(2, left + 1) if left % f == 0]))
        dims.append(d)
        left //= d
    dims += [1] * draw(st.integers(0 if dims else 1, 1))
    dims = draw(st.permutations(dims))
    if draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return list(dims)


@SETTINGS
@given(x_shape=feature_map(max_size=6), data=st.data())
def test_reshape_matches_torch(x_shape, data):
    shape = data.draw(reshape_target(x_shape))
    got = rule_outcome("reshape", ReshapeAttrs.model_validate({"op": "reshape", "shape": shape}),
                       x_shape)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: x.reshape(1, *shape))


@SETTINGS
@given(features=st.integers(1, 20), out=st.integers(1, 20), bias=st.booleans(),
       declared=st.sampled_from([None, 0, 1]))
def test_linear_matches_torch(features, out, bias, declared):
    attrs = {"op": "linear", "out": out, "bias": bias}
    if declared is not None:
        attrs["in"] = features + declared  # `in` checked: right, or one too many
    a = LinearAttrs.model_validate(attrs)
    module = nn.Linear(attrs.get("in", features), out, bias=bias)
    x = batch((features,))
    got = rule_outcome("linear", a, (features,))
    assert got == torch_outcome(lambda: module(x))
    if got != REFUSED:
        assert RULES["linear"].params(a, ((features,),)) == param_shapes(module)
        assert RULES["linear"].macs(a, ((features,),), got) == module.weight.numel()  # in x out


def test_linear_refuses_a_feature_map():
    a = LinearAttrs.model_validate({"op": "linear", "out": 3})
    with pytest.raises(RuleError) as info:
        RULES["linear"].infer(a, ((2, 4, 4),))
    assert "flatten" in info.value.hint


# --- normalisation -----------------------------------------------------------------------------

@SETTINGS
@given(x_shape=st.one_of(st.tuples(st.integers(1, 8)), feature_map(max_channels=8)),
       affine=st.booleans(), declared=st.sampled_from([None, 0, 1]))
def test_batchnorm_matches_torch(x_shape, affine, declared):
    c = x_shape[0]
    attrs = {"op": "batchnorm", "affine": affine, "eps": 1e-3, "momentum": 0.2}
    if declared is not None:
        attrs["in"] = c + declared
    a = BatchNormAttrs.model_validate(attrs)
    module = BATCHNORM[len(x_shape) - 1](attrs.get("in", c), eps=1e-3, momentum=0.2,
                                         affine=affine).eval()
    got = rule_outcome("batchnorm", a, x_shape)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: module(x))
    if got != REFUSED:
        assert RULES["batchnorm"].params(a, (x_shape,)) == param_shapes(module)
        # PyTorch's num_batches_tracked is a training counter, not a tensor the plan allocates.
        stats = {name: tuple(b.shape) for name, b in module.named_buffers()
                 if name != "num_batches_tracked"}
        assert RULES["batchnorm"].buffers(a, (x_shape,)) == stats


@SETTINGS
@given(x_shape=feature_map(max_channels=8), size=st.integers(1, 6))
def test_lrn_matches_torch(x_shape, size):
    a = LrnAttrs.model_validate({"op": "lrn", "size": size, "alpha": 1e-3, "beta": 0.5, "k": 2.0})
    got = rule_outcome("lrn", a, x_shape)
    module = nn.LocalResponseNorm(size, alpha=1e-3, beta=0.5, k=2.0)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: module(x))
    assert RULES["lrn"].params(a, (x_shape,)) == param_shapes(module) == {}


def test_lrn_refuses_a_vector():
    with pytest.raises(ValueError, match="3D or higher"):
        nn.LocalResponseNorm(3)(batch((8,)))
    with pytest.raises(RuleError):  # the rule returns (8,)
        RULES["lrn"].infer(LrnAttrs.model_validate({"op": "lrn", "size": 3}), ((8,),))


@SETTINGS
@given(x_shape=st.one_of(st.tuples(st.integers(1, 8)), feature_map(max_channels=8)),
       groups=st.integers(1, 8), affine=st.booleans())
def test_groupnorm_matches_torch(x_shape, groups, affine):
    a = GroupNormAttrs.model_validate({"op": "groupnorm", "groups": groups, "affine": affine})
    got = rule_outcome("groupnorm", a, x_shape)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: nn.GroupNorm(groups, x_shape[0], affine=affine)(x))
    if got != REFUSED:
        module = nn.GroupNorm(groups, x_shape[0], affine=affine)
        assert RULES["groupnorm"].params(a, (x_shape,)) == param_shapes(module)
        assert RULES["groupnorm"].buffers(a, (x_shape,)) == {}
        assert RULES["groupnorm"].macs(a, (x_shape,), got) == 0
        assert RULES["groupnorm"].receptive(a, (x_shape,)) is None  # pointwise


@pytest.mark.parametrize("c, groups, near", [(6, 4, "3 or 6"), (4, 8, "4"), (10, 3, "2 or 5")])
def test_groupnorm_refusal_suggests_groups_that_divide(c, groups, near):
    a = GroupNormAttrs.model_validate({"op": "groupnorm", "groups": groups})
    with pytest.raises(RuleError) as info:
        RULES["groupnorm"].infer(a, ((c, 8, 8),))
    e = info.value
    assert (e.kind, e.attr) == ("channels", "groups")
    assert f"channels ({c})" in e.message and f"groups ({groups})" in e.message
    assert f"{near} would" in e.hint


def test_groupnorm_refuses_groups_of_one_value():
    a = GroupNormAttrs.model_validate({"op": "groupnorm", "groups": 4})
    with pytest.raises(RuleError) as info:
        RULES["groupnorm"].infer(a, ((4,),))
    assert (info.value.kind, info.value.attr) == ("size", "groups")
    assert RULES["groupnorm"].infer(a, ((4, 2),)) == (4, 2)  # two values a group will do


@SETTINGS
@given(x_shape=st.one_of(st.tuples(st.integers(1, 8)), feature_map(max_channels=8)),
       affine=st.booleans())
def test_layernorm_matches_torch_on_channels_last(x_shape, affine):
    a = LayerNormAttrs.model_validate({"op": "layernorm", "affine": affine, "eps": 1e-6})
    got = rule_outcome("layernorm", a, x_shape)
    module = nn.LayerNorm(x_shape[0], eps=1e-6, elementwise_affine=affine, bias=affine)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: module(x.movedim(1, -1)).movedim(-1, 1))
    assert RULES["layernorm"].params(a, (x_shape,)) == param_shapes(module)
    assert RULES["layernorm"].lower(a, (x_shape,), got) == {"eps": 1e-6}
    assert RULES["layernorm"].macs(a, (x_shape,), got) == 0
    assert RULES["layernorm"].receptive(a, (x_shape,)) is None


# --- activations -------------------------------------------------------------------------------

ACTIVATIONS = {  # op: (attrs model, extra attributes, PyTorch module)
    "silu": (SiluAttrs, {}, nn.SiLU()),
    "gelu": (GeluAttrs, {}, nn.GELU()),
    "gelu_tanh": (GeluAttrs, {"approximate": "tanh"}, nn.GELU(approximate="tanh")),
    "hardswish": (HardswishAttrs, {}, nn.Hardswish()),
    "hardsigmoid": (HardsigmoidAttrs, {}, nn.Hardsigmoid()),
}


@pytest.mark.parametrize("x_shape", [(7,), (3, 9), (2, 5, 6), (2, 3, 4, 5)])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_torch(name, x_shape):
    model, extra, module = ACTIVATIONS[name]
    op = name.removesuffix("_tanh")
    a = model.model_validate({"op": op} | extra)
    got = rule_outcome(op, a, x_shape)
    assert got == torch_outcome(lambda: module(batch(x_shape)))
    assert RULES[op].params(a, (x_shape,)) == param_shapes(module) == {}
    assert RULES[op].macs(a, (x_shape,), got) == 0
    assert RULES[op].receptive(a, (x_shape,)) is None


def test_gelu_lowers_its_approximation():
    for approximate in ("none", "tanh"):
        a = GeluAttrs.model_validate({"op": "gelu", "approximate": approximate})
        assert RULES["gelu"].lower(a, ((4,),), (4,)) == {"approximate": approximate}
    assert GeluAttrs.model_validate({"op": "gelu"}).approximate == "none"


# --- merges ------------------------------------------------------------------------------------

@SETTINGS
@given(x_shape=feature_map(), data=st.data())
def test_crop_matches_a_centre_crop_slice(x_shape, data):
    ref = (data.draw(st.integers(1, 4)),
           *(data.draw(st.integers(1, s)) for s in x_shape[1:]))
    got = rule_outcome("crop", CropAttrs.model_validate({"op": "crop"}), x_shape, ref)
    x = batch(x_shape)
    window = tuple(slice((s - r) // 2, (s - r) // 2 + r) for s, r in zip(x_shape[1:], ref[1:]))
    assert got == torch_outcome(lambda: x[(slice(None), slice(None), *window)])
    assert got == (x_shape[0], *ref[1:])


@pytest.mark.parametrize("x_shape, ref, why", [
    ((2, 8, 8), (2, 9, 8), "reference larger than the input"),
    ((2, 8, 8), (2, 8), "different numbers of spatial axes"),
    ((2, 8), (8,), "a vector"),
])
def test_crop_refuses(x_shape, ref, why):
    with pytest.raises(RuleError):
        RULES["crop"].infer(CropAttrs.model_validate({"op": "crop"}), (x_shape, ref))


@SETTINGS
@given(first=feature_map(max_size=6), data=st.data())
def test_concat_matches_torch(first, data):
    """Channels add up; any other mismatch (an axis, the rank) is refused by both."""
    shapes = [first]
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.integers(0, 4)) == 0:
            shapes.append(data.draw(feature_map(max_size=6)))
        else:
            shapes.append((data.draw(st.integers(1, 4)), *first[1:]))
    got = rule_outcome("concat", ConcatAttrs.model_validate({"op": "concat"}), *shapes)
    xs = [batch(s) for s in shapes]
    assert got == torch_outcome(lambda: torch.cat(xs, dim=1))


@SETTINGS
@given(first=feature_map(max_size=6), data=st.data(), op=st.sampled_from(["add", "mul"]))
def test_elementwise_merge_matches_torch(first, data, op):
    """Equal shapes pass through; an axis of size 1 broadcasts (a (C,1,1) gate over a (C,H,W)
    map); other differences are refused, by both."""
    shapes = [first]
    for _ in range(data.draw(st.integers(1, 3))):
        shape = list(first)
        for axis in range(len(first)):
            kind = data.draw(st.integers(0, 4))
            if kind == 0:
                shape[axis] = 1
            elif kind == 1:
                shape[axis] = data.draw(st.integers(1, 8))
        shapes.append(tuple(shape))
    model = AddAttrs if op == "add" else MulAttrs
    got = rule_outcome(op, model.model_validate({"op": op}), *shapes)
    xs = [batch(s) for s in shapes]
    fn = torch.add if op == "add" else torch.mul
    assert got == torch_outcome(lambda: reduce(fn, xs))


@pytest.mark.parametrize("op", ["add", "mul"])
def test_elementwise_merge_refuses_a_missing_axis_that_torch_would_broadcast(op):
    """Stricter than PyTorch on purpose: inputs of different ranks are a spec mistake (a
    vector gate is reshaped to (C,1,1) first)."""
    model = AddAttrs if op == "add" else MulAttrs
    for shapes in [((4, 8, 8), (8, 8)), ((4, 8, 8), (8,)), ((4, 1, 1), (4,))]:
        with pytest.raises(RuleError, match="different ranks"):
            RULES[op].infer(model.model_validate({"op": op}), shapes)
    gate = RULES[op].infer(model.model_validate({"op": op}), ((4, 8, 8), (4, 1, 1), (1, 8, 8)))
    assert gate == (4, 8, 8)
