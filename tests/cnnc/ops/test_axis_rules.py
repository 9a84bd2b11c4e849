"""The shape rules of slice, permute, stack, scale and upsample-to-a-reference against
PyTorch's own ops (indexing, permute, stack, F.interpolate(size=)), and their refusals, with
the kind and the attribute the error points at."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnc import CnncError, compile_text
from cnnc.errors import RuleError
from cnnc.ops import RULES

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=60, deadline=None)
shapes = st.lists(st.integers(1, 6), min_size=1, max_size=4).map(tuple)


def attrs(op: str, **spec):
    return RULES[op].attrs.model_validate({"op": op, **spec})


def refusal(op: str, spec: dict, *xs: tuple[int, ...]) -> RuleError:
    with pytest.raises(RuleError) as info:
        RULES[op].infer(attrs(op, **spec), xs)
    return info.value


def torch_shape(t) -> tuple[int, ...]:
    return tuple(t.shape[1:])


@SETTINGS
@given(x=shapes, data=st.data())
def test_slice_matches_torch_indexing_or_refuses_what_python_would_clamp(x, data):
    axis = data.draw(st.integers(-len(x), len(x) - 1))
    n = x[axis]
    start = data.draw(st.integers(-n - 2, n + 2))
    stop = data.draw(st.none() | st.integers(-n - 2, n + 2))
    step = data.draw(st.integers(1, 3))
    spec = {"start": start, "stop": stop, "step": step, "axis": axis}
    index = (slice(None),) * (axis % len(x) + 1) + (slice(start, stop, step),)
    want = torch_shape(torch.zeros(1, *x)[index])
    in_range = all(-n <= i <= n for i in (start, n if stop is None else stop))
    if in_range and want[axis] > 0:
        assert RULES["slice"].infer(attrs("slice", **spec), (x,)) == want
    else:  # Python clamps or gives an empty slice; cnnc says so
        e = refusal("slice", spec, x)
        assert (e.kind, e.attr) in {("shape", "start"), ("shape", "stop"), ("size", "start"),
                                    ("size", "stop")}
        assert f"the {n} " in e.message


def test_slice_errors_name_the_channel_count():
    e = refusal("slice", {"start": 0, "stop": 40}, (32, 8, 8))
    assert (e.kind, e.attr) == ("shape", "stop") and "32 channels of 32x8x8" in e.message
    e = refusal("slice", {"start": 16, "stop": 16}, (32, 8, 8))
    assert (e.kind, e.attr) == ("size", "stop") and "16:16" in e.message and "empty" in e.message
    e = refusal("slice", {"start": 2, "axis": 3}, (32, 8, 8))
    assert (e.kind, e.attr) == ("shape", "axis") and "3 axes" in e.message


@pytest.mark.parametrize("spec, resolved", [
    ({"stop": 4}, (1, 0, 4, 1, True)), ({"start": -4}, (1, 4, 8, 1, True)),
    ({"step": 2, "stop": -1}, (1, 0, 7, 2, False)), ({"axis": -2, "start": 1}, (2, 1, 6, 1, False))])
def test_slice_lowers_resolved_indices_and_whether_it_is_a_view(spec, resolved):
    a = attrs("slice", **spec)
    x = (8, 6, 6)
    lowered = RULES["slice"].lower(a, (x,), RULES["slice"].infer(a, (x,)))
    assert tuple(lowered[k] for k in ("axis", "start", "stop", "step", "view")) == resolved


def test_a_spatial_slice_moves_the_receptive_field_like_a_crop():
    a = attrs("slice", start=2, step=2, axis=1)
    windows = RULES["slice"].receptive(a, ((3, 9, 9),))
    assert [(w.kernel, w.stride, w.offset) for w in windows] == [(1, 2, 2), (1, 1, 0)]
    assert RULES["slice"].receptive(attrs("slice", stop=2), ((3, 9, 9),)) is None


@SETTINGS
@given(x=shapes, data=st.data())
def test_permute_matches_torch(x, data):
    dims = data.draw(st.permutations(range(len(x))))
    dims = [d - len(x) if data.draw(st.booleans()) else d for d in dims]  # negatives too
    want = torch_shape(torch.zeros(1, *x).permute(0, *(d % len(x) + 1 for d in dims)))
    assert RULES["permute"].infer(attrs("permute", dims=dims), (x,)) == want


@pytest.mark.parametrize("dims, kind, phrase", [
    ([1, 0], "shape", "2 entries but 2x3x4x5 has 4 axes"),
    ([0, 1, 1, 2], "type", "not a permutation"), ([0, 1, 2, 4], "type", "not a permutation")])
def test_permute_refuses(dims, kind, phrase):
    e = refusal("permute", {"dims": dims}, (2, 3, 4, 5))
    assert (e.kind, e.attr) == (kind, "dims") and phrase in e.message


@SETTINGS
@given(x=shapes, k=st.integers(1, 4), data=st.data())
def test_stack_matches_torch(x, k, data):
    axis = data.draw(st.integers(-len(x) - 1, len(x)))
    want = torch_shape(torch.stack([torch.zeros(1, *x)] * k, dim=axis + 1 if axis >= 0 else axis))
    assert RULES["stack"].infer(attrs("stack", axis=axis), (x,) * k) == want


def test_stack_refuses_unequal_shapes_naming_the_input_and_a_bad_axis():
    e = refusal("stack", {}, (4, 8, 8), (4, 8, 8), (4, 8, 7))
    assert (e.kind, e.attr) == ("shape", "from")
    assert "input 0 is 4x8x8, input 2 is 4x8x7" in e.message
    e = refusal("stack", {"axis": 4}, (4, 8, 8), (4, 8, 8))
    assert (e.kind, e.attr) == ("shape", "axis") and "gives 4 axes" in e.message


@pytest.mark.parametrize("x", [(7,), (3, 5), (4, 2, 3), (2, 3, 2, 2)])
def test_scale_has_one_weight_per_channel_no_macs_and_its_constant_init(x):
    rule, a = RULES["scale"], attrs("scale", init=1e-6)
    assert rule.infer(a, (x,)) == x and rule.params(a, (x,)) == {"weight": (x[0],)}
    assert rule.macs(a, (x,), x) == 0 and rule.receptive(a, (x,)) is None
    init = rule.init(a)["weight"]
    assert (init.kind, init.value) == ("constant", 1e-6)
    assert rule.init(attrs("scale"))["weight"].value == 1.0  # identity unless told
    assert rule.init(attrs("scale", init=0))["weight"].value == 0.0  # ReZero


@SETTINGS
@given(x=st.lists(st.integers(1, 6), min_size=2, max_size=4).map(tuple), data=st.data())
def test_upsample_to_a_reference_matches_interpolate_size(x, data):
    ref = (data.draw(st.integers(1, 5)),
           *data.draw(st.lists(st.integers(1, 9), min_size=len(x) - 1, max_size=len(x) - 1)))
    mode = data.draw(st.sampled_from(["nearest", {2: "linear", 3: "bilinear", 4: "trilinear"}[
        len(x)]]))
    want = torch_shape(torch.nn.functional.interpolate(torch.zeros(1, *x), size=ref[1:],
                                                       mode=mode))
    a = attrs("upsample", mode=mode)
    assert RULES["upsample"].infer(a, (x, ref)) == want
    assert RULES["upsample"].lower(a, (x, ref), want)["out"] == ref[1:]


@pytest.mark.parametrize("spec, xs, kind, attr, phrase", [
    ({"scale": 2}, ((4, 8, 8), (4, 16, 16)), "type", "scale", "second input"),
    ({"size": 16}, ((4, 8, 8), (4, 16, 16)), "type", "size", "second input"),
    ({}, ((4, 8, 8), (4, 16, 16, 16)), "shape", "from", "different numbers of spatial axes"),
    ({}, ((4, 8, 8), (16,)), "shape", None, "vector"),
    ({}, ((4, 8, 8),), "type", "scale", "or a second input"),
])
def test_upsample_refusals_with_a_reference(spec, xs, kind, attr, phrase):
    e = refusal("upsample", spec, *xs)
    assert (e.kind, e.attr) == (kind, attr) and phrase in e.message


def test_errors_point_at_the_attribute_in_the_spec():
    text = """
name: t
input: [8, 6, 6]
layers:
  - {id: a, op: slice, stop: 4}
  - {id: b, op: slice, start: 5, stop: 20, from: input}
  - {op: stack, from: [a, b]}
"""
    with pytest.raises(CnncError) as info:
        compile_text(text)
    (d,) = info.value.diagnostics
    assert (d.kind, d.span.line, d.span.col) == ("shape", 6, 40) and "`stop` 20" in d.message


@pytest.mark.parametrize("x, spec, pointwise", [
    ((8, 6, 6), {"op": "reshape", "shape": [2, 4, 6, 6]}, (True, True)),  # channels into groups
    ((2, 4, 6, 6), {"op": "reshape", "shape": [8, 6, 6]}, (False, True, True)),  # and back
    ((8, 6, 6), {"op": "reshape", "shape": [48, 6]}, (False, True)),
    ((8, 6, 6), {"op": "reshape", "shape": [8, 36]}, (False, False)),
    ((2, 4, 6, 6), {"op": "permute", "dims": [1, 0, 2, 3]}, (False, True, True)),
    ((8, 6, 5), {"op": "permute", "dims": [0, 2, 1]}, (False, False)),
    ((8, 6, 5), {"op": "permute", "dims": [1, 0, 2]}, (False, True)),
])
def test_reshape_and_permute_keep_the_fields_of_axes_left_in_place(x, spec, pointwise):
    a = attrs(spec["op"], **{k: v for k, v in spec.items() if k != "op"})
    windows = RULES[spec["op"]].receptive(a, (x,))
    assert tuple(w.kernel == 1 and w.stride == 1 and w.offset == 0 for w in windows) == pointwise
    for w, n, kept in zip(windows, x[1:], pointwise):
        assert kept or (w.kernel, w.stride) == (n, n)  # a moved axis: the whole map


def test_a_channel_shuffle_keeps_the_receptive_field():
    text = """
name: t
input: [8, 6, 6]
layers:
  - {id: c, op: conv, out: 8, kernel: 3, padding: 1}
  - {op: reshape, shape: [2, -1, 6, 6]}
  - {op: permute, dims: [1, 0, 2, 3]}
  - {id: shuffled, op: reshape, shape: [8, 6, 6]}
"""
    from cnnc.ir import keys

    c = compile_text(text)
    assert c.node("shuffled")[keys.RECEPTIVE_FIELD] == c.node("c")[keys.RECEPTIVE_FIELD]
