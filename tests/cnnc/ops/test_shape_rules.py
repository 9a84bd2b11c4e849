"""Every shape rule against PyTorch's own op: same output shape, same parameter shapes, the MAC
conventions, and a refusal (RuleError) wherever PyTorch refuses.

Each property test builds the attributes with the op's pydantic model, runs the rule on the shape
without the batch axis and the PyTorch op on a batch of one, and compares the outcomes: either
both give the same shape, or both refuse. Where cnnc accepts more than PyTorch spells (per-side
padding, `same` with a stride), the PyTorch side pads explicitly with `F.pad` first.
Known disagreements are kept out of the properties with `assume` and pinned by xfail cases.
"""

from __future__ import annotations

import math
from functools import reduce

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from cnnc.errors import RuleError
from cnnc.ops import RULES
from cnnc.ops.adaptive_avgpool import AdaptiveAvgPoolAttrs
from cnnc.ops.adaptive_maxpool import AdaptiveMaxPoolAttrs
from cnnc.ops.add import AddAttrs
from cnnc.ops.avgpool import AvgPoolAttrs
from cnnc.ops.batchnorm import BatchNormAttrs
from cnnc.ops.concat import ConcatAttrs
from cnnc.ops.conv import ConvAttrs
from cnnc.ops.conv_transpose import ConvTransposeAttrs
from cnnc.ops.crop import CropAttrs
from cnnc.ops.flatten import FlattenAttrs
from cnnc.ops.gelu import GeluAttrs
from cnnc.ops.global_avgpool import GlobalAvgPoolAttrs
from cnnc.ops.global_maxpool import GlobalMaxPoolAttrs
from cnnc.ops.groupnorm import GroupNormAttrs
from cnnc.ops.hardsigmoid import HardsigmoidAttrs
from cnnc.ops.hardswish import HardswishAttrs
from cnnc.ops.layernorm import LayerNormAttrs
from cnnc.ops.linear import LinearAttrs
from cnnc.ops.lrn import LrnAttrs
from cnnc.ops.maxpool import MaxPoolAttrs
from cnnc.ops.mul import MulAttrs
from cnnc.ops.pad import PadAttrs
from cnnc.ops.reshape import ReshapeAttrs
from cnnc.ops.silu import SiluAttrs
from cnnc.ops.upsample import UpsampleAttrs

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


# --- helpers ---------------------------------------------------------------------------------

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


# --- pooling -----------------------------------------------------------------------------------

def avgpool3d_input_below_kernel(op: str, sizes, kernel) -> bool:
    """PyTorch's avg_pool3d (only 3D, only average) refuses an unpadded input smaller than the
    kernel even when the padding makes room; the rule accepts it (see the xfail)."""
    return op == "avgpool" and len(sizes) == 3 and any(n < k for n, k in zip(sizes, kernel))


@st.composite
def pool_case(draw, op: str):
    x_shape = draw(feature_map(max_size=10))
    n = len(x_shape) - 1
    pad = st.sampled_from([0, 0, 1, 1, 2])  # 2 is more than half of kernels below 4: refused
    attrs = {"op": op, "kernel": draw(per_axis(n, 1, 4)),
             "stride": draw(st.one_of(st.none(), per_axis(n, 1, 3))),
             "padding": draw(st.one_of(pad, st.lists(pad, min_size=n, max_size=n))),
             "ceil_mode": draw(st.booleans())}
    if op == "maxpool":
        attrs["dilation"] = draw(per_axis(n, 1, 2))
    else:
        attrs["count_include_pad"] = draw(st.booleans())
    return attrs, x_shape


def check_pool(attrs: dict, x_shape: tuple[int, ...]) -> None:
    n = len(x_shape) - 1
    kernel = expand(attrs["kernel"], n)
    assume(not avgpool3d_input_below_kernel(attrs["op"], x_shape[1:], kernel))
    model = MaxPoolAttrs if attrs["op"] == "maxpool" else AvgPoolAttrs
    got = rule_outcome(attrs["op"], model.model_validate(attrs), x_shape)
    common = {"kernel_size": tup(attrs["kernel"]), "stride": tup(attrs["stride"]),
              "padding": tup(attrs["padding"]), "ceil_mode": attrs["ceil_mode"]}
    if attrs["op"] == "maxpool":
        module = MAXPOOL[n](dilation=tup(attrs["dilation"]), **common)
    else:
        module = AVGPOOL[n](count_include_pad=attrs["count_include_pad"], **common)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: module(x))


@SETTINGS
@given(pool_case("maxpool"))
def test_maxpool_matches_torch(case):
    check_pool(*case)


@SETTINGS
@given(pool_case("avgpool"))
def test_avgpool_matches_torch(case):
    check_pool(*case)


@SETTINGS
@given(case=st.one_of(pool_case("maxpool"), pool_case("avgpool")), data=st.data())
def test_pool_per_side_padding_matches_explicit_pad(case, data):
    """[[before, after], ...] equals F.pad (-inf for max, 0 for average) and an unpadded pool.
    Floor mode only: PyTorch has no asymmetric padding to compare ceil_mode with."""
    attrs, x_shape = case
    n = len(x_shape) - 1
    kernel = expand(attrs["kernel"], n)
    pads = [tuple(data.draw(st.lists(st.integers(0, k // 2), min_size=2, max_size=2)))
            for k in kernel]
    attrs = attrs | {"padding": [list(p) for p in pads], "ceil_mode": False}
    assume(not avgpool3d_input_below_kernel(attrs["op"], x_shape[1:], kernel))
    model = MaxPoolAttrs if attrs["op"] == "maxpool" else AvgPoolAttrs
    got = rule_outcome(attrs["op"], model.model_validate(attrs), x_shape)
    if attrs["op"] == "maxpool":
        module = MAXPOOL[n](tup(attrs["kernel"]), tup(attrs["stride"]),
                            dilation=tup(attrs["dilation"]))
        fill = -math.inf
    else:
        module = AVGPOOL[n](tup(attrs["kernel"]), tup(attrs["stride"]))
        fill = 0.0
    x = batch(x_shape)
    assert got == torch_outcome(lambda: module(F.pad(x, flat_pads(pads), value=fill)))


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
@pytest.mark.parametrize("kernel, padding, x_shape", [
    (3, 2, (2, 8)), (2, 2, (2, 8, 8)), ([3, 5], [1, 3], (1, 9, 9)), (3, [[0, 2]], (1, 6)),
])
def test_pool_refuses_padding_above_half_the_kernel(op, kernel, padding, x_shape):
    model = MaxPoolAttrs if op == "maxpool" else AvgPoolAttrs
    a = model.model_validate({"op": op, "kernel": kernel, "stride": 1, "padding": padding})
    with pytest.raises(RuleError, match="half the kernel"):
        RULES[op].infer(a, (x_shape,))
    n = len(x_shape) - 1
    sym = [max(p) if isinstance(p, list) else p for p in expand(padding, n)]
    module = (MAXPOOL if op == "maxpool" else AVGPOOL)[n](tup(kernel), 1, tuple(sym))
    with pytest.raises(RuntimeError, match="half of"):
        module(batch(x_shape))


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
def test_pool_refuses_an_output_below_one(op):
    model = MaxPoolAttrs if op == "maxpool" else AvgPoolAttrs
    with pytest.raises(RuleError):
        RULES[op].infer(model.model_validate({"op": op, "kernel": 3}), ((2, 2, 5),))
    with pytest.raises(RuntimeError):
        (MAXPOOL if op == "maxpool" else AVGPOOL)[2](3)(batch((2, 2, 5)))


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
def test_pool_ceil_mode_with_an_overhanging_window(op):
    module = (MAXPOOL if op == "maxpool" else AVGPOOL)[1](3, 2, ceil_mode=True)
    assert tuple(module(batch((2, 2))).shape[1:]) == (2, 1)
    model = MaxPoolAttrs if op == "maxpool" else AvgPoolAttrs
    a = model.model_validate({"op": op, "kernel": 3, "stride": 2, "ceil_mode": True})
    assert RULES[op].infer(a, ((2, 2),)) == (2, 1)  # raises RuleError


@pytest.mark.xfail(strict=True, reason="avgpool 3D accepts an input smaller than the kernel when "
                                       "the padding makes room; PyTorch's avg_pool3d refuses "
                                       "('input image smaller than kernel size'), unlike its 1D/2D "
                                       "average and all max pools")
def test_avgpool_3d_refuses_an_input_smaller_than_the_kernel():
    with pytest.raises(RuntimeError, match="smaller than kernel size"):
        nn.AvgPool3d(2, padding=1)(batch((2, 1, 5, 5)))
    a = AvgPoolAttrs.model_validate({"op": "avgpool", "kernel": 2, "padding": 1})
    with pytest.raises(RuleError):  # the rule returns (2, 1, 3, 3)
        RULES["avgpool"].infer(a, ((2, 1, 5, 5),))


@SETTINGS
@given(x_shape=feature_map(), data=st.data(), op=st.sampled_from(["adaptive_avgpool",
                                                                   "adaptive_maxpool"]))
def test_adaptive_pool_matches_torch(x_shape, data, op):
    n = len(x_shape) - 1
    size = data.draw(per_axis(n, 1, 14))  # larger than the input too: PyTorch allows it
    model = AdaptiveAvgPoolAttrs if op == "adaptive_avgpool" else AdaptiveMaxPoolAttrs
    got = rule_outcome(op, model.model_validate({"op": op, "size": size}), x_shape)
    fn = getattr(F, f"adaptive_{op.split('_')[1][:3]}_pool{n}d")
    x = batch(x_shape)
    assert got == torch_outcome(lambda: fn(x, tup(size)))


@SETTINGS
@given(x_shape=feature_map(), op=st.sampled_from(["global_avgpool", "global_maxpool"]))
def test_global_pool_matches_torch(x_shape, op):
    model = GlobalAvgPoolAttrs if op == "global_avgpool" else GlobalMaxPoolAttrs
    got = rule_outcome(op, model.model_validate({"op": op}), x_shape)
    axes = tuple(range(2, len(x_shape) + 1))
    reduce_ = torch.mean if op == "global_avgpool" else torch.amax
    x = batch(x_shape)
    assert got == torch_outcome(lambda: reduce_(x, dim=axes, keepdim=True))


# --- upsample ----------------------------------------------------------------------------------

def torch_upsample(x, attrs: dict, n: int):
    align = attrs["align_corners"] if attrs["mode"] != "nearest" else None
    scale = attrs.get("scale")
    scale = tuple(float(s) for s in scale) if isinstance(scale, list) else scale
    return F.interpolate(x, size=tup(attrs.get("size")), scale_factor=scale, mode=attrs["mode"],
                         align_corners=align)


@SETTINGS
@given(x_shape=feature_map(max_size=8), data=st.data())
def test_upsample_by_scale_matches_torch(x_shape, data):
    n = len(x_shape) - 1
    factor = st.one_of(st.integers(1, 3), st.floats(0.25, 3.0, allow_nan=False))
    scale = data.draw(st.one_of(factor, st.lists(factor, min_size=n, max_size=n)))
    mode = data.draw(st.sampled_from(["nearest", "nearest", LINEAR_MODE[n], "linear",
                                      "bilinear", "trilinear"]))
    attrs = {"op": "upsample", "scale": scale, "mode": mode,
             "align_corners": mode != "nearest" and data.draw(st.booleans())}
    assume(all(math.floor(s * f) >= 1 for s, f in zip(x_shape[1:], expand(scale, n))))
    got = rule_outcome("upsample", UpsampleAttrs.model_validate(attrs), x_shape)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: torch_upsample(x, attrs, n))


@SETTINGS
@given(x_shape=feature_map(max_size=8), data=st.data())
def test_upsample_to_a_size_matches_torch(x_shape, data):
    n = len(x_shape) - 1
    mode = data.draw(st.sampled_from(["nearest", LINEAR_MODE[n], "linear", "bilinear",
                                      "trilinear"]))
    attrs = {"op": "upsample", "size": data.draw(per_axis(n, 1, 16)), "mode": mode,
             "align_corners": mode != "nearest" and data.draw(st.booleans())}
    got = rule_outcome("upsample", UpsampleAttrs.model_validate(attrs), x_shape)
    x = batch(x_shape)
    assert got == torch_outcome(lambda: torch_upsample(x, attrs, n))


def test_upsample_refuses_a_scale_that_rounds_to_zero():
    with pytest.raises(RuntimeError, match="greater than 0"):
        F.interpolate(batch((2, 1)), scale_factor=0.5, mode="nearest")
    a = UpsampleAttrs.model_validate({"op": "upsample", "scale": 0.5})
    with pytest.raises(RuleError):  # the rule returns (2, 0)
        RULES["upsample"].infer(a, ((2, 1),))


def test_upsample_refuses_align_corners_with_nearest():
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(batch((2, 3)), scale_factor=2, mode="nearest", align_corners=True)
    a = UpsampleAttrs.model_validate({"op": "upsample", "scale": 2, "align_corners": True})
    with pytest.raises(RuleError):  # the rule returns (2, 6)
        RULES["upsample"].infer(a, ((2, 3),))


# --- pad ---------------------------------------------------------------------------------------

@SETTINGS
@given(x_shape=feature_map(max_size=8), data=st.data())
def test_pad_matches_torch(x_shape, data):
    n = len(x_shape) - 1
    amount = st.integers(0, 4)
    padding = data.draw(st.one_of(
        amount, st.lists(amount, min_size=n, max_size=n),
        st.lists(st.one_of(amount, st.lists(amount, min_size=2, max_size=2)),
                 min_size=n, max_size=n)))
    mode = data.draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    pads = [(p, p) if isinstance(p, int) else tuple(p) for p in
            (padding if isinstance(padding, list) else [padding] * n)]
    attrs = {"op": "pad", "padding": padding, "mode": mode, "value": 1.5}
    got = rule_outcome("pad", PadAttrs.model_validate(attrs), x_shape)
    x = batch(x_shape)
    value = 1.5 if mode == "zeros" else None
    assert got == torch_outcome(lambda: F.pad(x, flat_pads(pads), mode=TORCH_PAD_MODE[mode],
                                              value=value))


def test_pad_refuses_reflect_padding_as_long_as_the_input():
    a = PadAttrs.model_validate({"op": "pad", "padding": [[0, 3], 1], "mode": "reflect"})
    with pytest.raises(RuleError):
        RULES["pad"].infer(a, ((2, 3, 5),))
    with pytest.raises(RuntimeError):
        F.pad(batch((2, 3, 5)), (1, 1, 0, 3), mode="reflect")


def test_pad_refuses_circular_padding_longer_than_the_input():
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        F.pad(batch((2, 3)), (4, 0), mode="circular")
    a = PadAttrs.model_validate({"op": "pad", "padding": [[4, 0]], "mode": "circular"})
    with pytest.raises(RuleError):  # the rule returns (2, 7)
        RULES["pad"].infer(a, ((2, 3),))


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
