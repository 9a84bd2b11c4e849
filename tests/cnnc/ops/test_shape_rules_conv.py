"""The shape rules of convolutions and transposed convolutions against PyTorch's own op: same
output shape, same parameter shapes, the MAC conventions, and a refusal (RuleError) wherever
PyTorch refuses.

How the tests compare: tests/cnnc/ops/shape_rule_cases.py.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shape_rule_cases import (
    CONV,
    CONV_T,
    REFUSED,
    SETTINGS,
    TORCH_PAD_MODE,
    TORCH_REFUSALS,
    F,
    batch,
    feature_map,
    flat_pads,
    param_shapes,
    per_axis,
    rule_outcome,
    torch_outcome,
    tup,
)

from cnnc.errors import RuleError
from cnnc.ops import RULES
from cnnc.ops.conv import ConvAttrs
from cnnc.ops.conv_transpose import ConvTransposeAttrs

torch = pytest.importorskip("torch")
nn = torch.nn

# --- conv --------------------------------------------------------------------------------------

@st.composite
def conv_case(draw):
    """(attrs dict, input shape) with int, per-axis or `valid` padding: PyTorch spells all of it."""
    n = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 12 if n < 3 else 7), min_size=n, max_size=n))
    groups = draw(st.sampled_from([1, 1, 2, 3, "depthwise"]))
    c_in = draw(st.integers(1, 6))
    out = draw(st.integers(1, 6))
    if draw(st.booleans()):  # divisible by the groups half the time, else at random
        g = c_in if groups == "depthwise" else groups
        c_in = c_in if groups == "depthwise" else g * draw(st.integers(1, 2))
        out = g * draw(st.integers(1, 2))
    attrs = {"op": "conv", "out": out, "kernel": draw(per_axis(n, 1, 4)),
             "stride": draw(per_axis(n, 1, 3)), "dilation": draw(per_axis(n, 1, 2)),
             "padding": draw(st.one_of(st.integers(0, 3), st.just("valid"),
                                       st.lists(st.integers(0, 3), min_size=n, max_size=n))),
             "groups": groups, "bias": draw(st.booleans()),
             "padding_mode": draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))}
    if draw(st.integers(0, 4)) == 0:
        attrs["in"] = draw(st.sampled_from([c_in, c_in + 1]))
    return attrs, (c_in, *sizes)


def torch_conv(attrs: dict, c_in: int, n: int, padding):
    """The nn.ConvNd the attributes describe, with `padding` as PyTorch should receive it."""
    c_in = attrs.get("in", c_in)
    groups = c_in if attrs["groups"] == "depthwise" else attrs["groups"]
    return CONV[n](c_in, attrs["out"], tup(attrs["kernel"]), stride=tup(attrs["stride"]),
                   padding=padding, dilation=tup(attrs["dilation"]), groups=groups,
                   bias=attrs["bias"], padding_mode=attrs["padding_mode"])


def check_conv(attrs: dict, x_shape: tuple[int, ...], module, run) -> None:
    """Outcomes agree; when both accept, parameters and MACs agree too."""
    a = ConvAttrs.model_validate(attrs)
    got, want = rule_outcome("conv", a, x_shape), torch_outcome(run)
    assert got == want
    if got != REFUSED:
        assert RULES["conv"].params(a, (x_shape,)) == param_shapes(module)
        # output elements x Cin/groups x prod(kernel); PyTorch's weight is (O, I/groups, *K)
        assert RULES["conv"].macs(a, (x_shape,), got) == math.prod(want) * math.prod(
            module.weight.shape[1:])


@SETTINGS
@given(conv_case())
def test_conv_matches_torch(case):
    attrs, x_shape = case
    n = len(x_shape) - 1
    x = batch(x_shape)
    try:
        module = torch_conv(attrs, x_shape[0], n, tup(attrs["padding"]))
    except ValueError:  # channels not divisible by groups: refused at construction
        assert rule_outcome("conv", ConvAttrs.model_validate(attrs), x_shape) == REFUSED
        return
    check_conv(attrs, x_shape, module, lambda: module(x))


@SETTINGS
@given(case=conv_case(), as_pairs=st.data())
def test_conv_per_side_padding_matches_explicit_pad(case, as_pairs):
    """[[before, after], ...] (mixed with plain ints) equals F.pad and then an unpadded conv."""
    attrs, x_shape = case
    n = len(x_shape) - 1
    spec = as_pairs.draw(st.lists(st.one_of(st.integers(0, 3),
                                            st.lists(st.integers(0, 3), min_size=2, max_size=2)),
                                  min_size=n, max_size=n))
    attrs = attrs | {"padding": spec}
    pads = [(p, p) if isinstance(p, int) else tuple(p) for p in spec]
    x = batch(x_shape)
    try:
        module = torch_conv(attrs | {"padding_mode": "zeros"}, x_shape[0], n, 0)
    except ValueError:
        assert rule_outcome("conv", ConvAttrs.model_validate(attrs), x_shape) == REFUSED
        return
    mode = TORCH_PAD_MODE[attrs["padding_mode"]]
    check_conv(attrs, x_shape, module, lambda: module(F.pad(x, flat_pads(pads), mode=mode)))


@SETTINGS
@given(case=conv_case())
def test_conv_same_padding_matches_torch(case):
    """`same` with stride 1 is PyTorch's padding='same' (the odd pixel after), in every mode."""
    attrs, x_shape = case
    attrs = attrs | {"padding": "same", "stride": 1}
    n = len(x_shape) - 1
    x = batch(x_shape)
    try:
        module = torch_conv(attrs, x_shape[0], n, "same")
    except ValueError:
        assert rule_outcome("conv", ConvAttrs.model_validate(attrs), x_shape) == REFUSED
        return
    check_conv(attrs, x_shape, module, lambda: module(x))
    got = rule_outcome("conv", ConvAttrs.model_validate(attrs), x_shape)
    assert got == REFUSED or got[1:] == x_shape[1:]


@SETTINGS
@given(x_shape=feature_map(), k=st.integers(1, 5), s=st.integers(2, 3), d=st.integers(1, 2),
       out=st.integers(1, 4))
def test_conv_same_padding_with_a_stride_is_tensorflow_same(x_shape, k, s, d, out):
    """PyTorch refuses padding='same' with a stride; cnnc follows TensorFlow: ceil(in / stride),
    the extra padding pixel after. Checked against F.pad with TensorFlow's padding."""
    n = len(x_shape) - 1
    attrs = {"op": "conv", "out": out, "kernel": k, "stride": s, "dilation": d, "padding": "same",
             "groups": 1, "bias": True, "padding_mode": "zeros"}
    pads = []
    for size in x_shape[1:]:
        total = max((-(-size // s) - 1) * s + d * (k - 1) + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
    module = torch_conv(attrs, x_shape[0], n, 0)
    x = batch(x_shape)
    check_conv(attrs, x_shape, module, lambda: module(F.pad(x, flat_pads(pads))))
    got = RULES["conv"].infer(ConvAttrs.model_validate(attrs), (x_shape,))
    assert got == (out, *(-(-size // s) for size in x_shape[1:]))


@SETTINGS
@given(x_shape=feature_map(max_channels=4), mult=st.integers(1, 3), k=st.integers(1, 3),
       bias=st.booleans())
def test_depthwise_conv_matches_torch(x_shape, mult, k, bias):
    c = x_shape[0]
    attrs = {"op": "conv", "out": c * mult, "kernel": k, "padding": k // 2, "groups": "depthwise",
             "bias": bias}
    module = CONV[len(x_shape) - 1](c, c * mult, k, padding=k // 2, groups=c, bias=bias)
    x = batch(x_shape)
    check_conv(attrs | {"padding_mode": "zeros"}, x_shape, module, lambda: module(x))
    assert RULES["conv"].params(ConvAttrs.model_validate(attrs), (x_shape,))["weight"][1] == 1


@pytest.mark.parametrize("attrs, x_shape, why", [
    ({"kernel": 5}, (2, 4, 4), "kernel larger than the input"),
    ({"kernel": 3, "dilation": 3}, (2, 6), "dilated kernel larger than the input"),
    ({"kernel": 3, "groups": 2}, (3, 8, 8), "input channels not divisible by groups"),
    ({"kernel": 3, "groups": 2, "out": 3}, (4, 8, 8), "output channels not divisible by groups"),
    ({"kernel": 3, "groups": "depthwise", "out": 5}, (2, 8), "depthwise with 5 out of 2 in"),
    ({"kernel": 3, "padding": 4, "padding_mode": "reflect"}, (2, 4, 4), "reflect pad >= size"),
    ({"kernel": 3, "padding": 3, "padding_mode": "circular"}, (2, 2), "circular pad > size"),
    ({"kernel": 3, "in": 4}, (3, 8, 8), "`in` says 4 channels"),
])
def test_conv_refuses_what_torch_refuses(attrs, x_shape, why):
    attrs = {"op": "conv", "out": 4} | attrs
    a = ConvAttrs.model_validate(attrs)
    with pytest.raises(RuleError):
        RULES["conv"].infer(a, (x_shape,))
    with pytest.raises(TORCH_REFUSALS):
        module = torch_conv({"stride": 1, "dilation": 1, "groups": 1, "bias": True,
                             "padding_mode": "zeros", "padding": 0} | attrs,
                            x_shape[0], len(x_shape) - 1, attrs.get("padding", 0))
        module(batch(x_shape))


# --- conv_transpose ----------------------------------------------------------------------------

@SETTINGS
@given(x_shape=feature_map(max_size=8), data=st.data())
def test_conv_transpose_matches_torch(x_shape, data):
    n = len(x_shape) - 1
    g = data.draw(st.sampled_from([1, 1, 2]))
    c_in = g * data.draw(st.integers(1, 2)) if data.draw(st.booleans()) else x_shape[0]
    x_shape = (c_in, *x_shape[1:])
    attrs = {"op": "conv_transpose", "out": g * data.draw(st.integers(1, 3)),
             "kernel": data.draw(per_axis(n, 1, 4)), "stride": data.draw(per_axis(n, 1, 3)),
             "padding": data.draw(per_axis(n, 0, 3)),
             "output_padding": data.draw(st.one_of(st.just(0), per_axis(n, 0, 2))),
             "dilation": data.draw(per_axis(n, 1, 2)), "groups": g,
             "bias": data.draw(st.booleans())}
    a = ConvTransposeAttrs.model_validate(attrs)
    got = rule_outcome("conv_transpose", a, x_shape)
    try:
        module = CONV_T[n](c_in, attrs["out"], tup(attrs["kernel"]), stride=tup(attrs["stride"]),
                           padding=tup(attrs["padding"]),
                           output_padding=tup(attrs["output_padding"]), groups=g,
                           bias=attrs["bias"], dilation=tup(attrs["dilation"]))
    except ValueError:  # channels not divisible by groups
        assert got == REFUSED
        return
    x = batch(x_shape)
    want = torch_outcome(lambda: module(x))
    assert got == want
    if got != REFUSED:
        assert RULES["conv_transpose"].params(a, (x_shape,)) == param_shapes(module)
        # input elements x Cout/groups x prod(kernel); PyTorch's weight is (I, O/groups, *K)
        assert RULES["conv_transpose"].macs(a, (x_shape,), got) == math.prod(x_shape) * math.prod(
            module.weight.shape[1:])


@pytest.mark.parametrize("attrs, x_shape, why", [
    ({"kernel": 3, "stride": 2, "output_padding": 2}, (2, 5), "output_padding >= stride"),
    ({"kernel": 3, "stride": 2, "dilation": 3, "output_padding": 3}, (2, 5, 5),
     "output_padding >= stride and dilation"),
    ({"kernel": 1, "padding": 2}, (2, 3), "output below 1"),
    ({"kernel": 3, "groups": 2}, (3, 4, 4), "input channels not divisible by groups"),
])
def test_conv_transpose_refuses_what_torch_refuses(attrs, x_shape, why):
    attrs = {"op": "conv_transpose", "out": 4} | attrs
    with pytest.raises(RuleError):
        RULES["conv_transpose"].infer(ConvTransposeAttrs.model_validate(attrs), (x_shape,))
    with pytest.raises(TORCH_REFUSALS):
        module = CONV_T[len(x_shape) - 1](
            x_shape[0], attrs["out"], attrs["kernel"], stride=attrs.get("stride", 1),
            padding=attrs.get("padding", 0), output_padding=attrs.get("output_padding", 0),
            dilation=attrs.get("dilation", 1), groups=attrs.get("groups", 1))
        module(batch(x_shape))


