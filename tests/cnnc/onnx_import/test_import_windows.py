"""The window forms (cnnc/onnx_import/patterns_windows.py, patterns_slices.py) beyond cnnc's own
export, which test_import_variants.py covers: ONNX's own MaxPool -> MaxUnpool pair, indices
that feed anything else or count column-major, unpooling sizes cnnc cannot say, blocks
(repeat.py) around pools whose indices are read later, ONNX's wrap padding, and the
export variants' forms on 1D and 3D inputs."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from import_check import assert_outputs_equal, imported, round_trip
from onnx import helper
from test_import_ops import entries, graph

from cnnc.compiler import compile_text
from cnnc.errors import CnncError
from cnnc.export.model import to_onnx

# test_import_variants.py has these forms in 2D
RANKS = {
    "unpool_ceil_1d": ("[3, 17]", ("{id: p, op: maxpool, kernel: 3, stride: 2, ceil_mode: true}"
                                   "\n  - {op: maxunpool, kernel: 3, stride: 2, from: [p, "
                                   "p.indices, input]}")),
    "unpool_ceil_3d": ("[2, 5, 6, 7]", ("{id: p, op: maxpool, kernel: 2, ceil_mode: true}\n  - "
                                        "{op: maxunpool, kernel: 2, from: [p, p.indices, input]}")),
    "conv_circular_1d": ("[3, 17]", ("{op: conv, out: 4, kernel: 3, padding: [[2, 1]], "
                                     "padding_mode: circular}")),
    "pad_circular_3d": ("[2, 5, 6, 7]", "{op: pad, padding: [1, 0, 2], mode: circular}"),
    "adaptive_maxpool_3d": ("[2, 5, 6, 7]", "{op: adaptive_maxpool, size: [3, 4, 5]}"),
}


@pytest.mark.parametrize("case", sorted(RANKS))
def test_other_ranks_round_trip(case):
    shape, layers = RANKS[case]
    round_trip(compile_text(f"name: t\ninput: {shape}\nlayers:\n  - {layers}\n"))


def _pool_unpool(unpool_inputs: list[str], extra: list = ()):
    """x -> MaxPool 2x2 (values p, whole-tensor indices i) -> MaxUnpool to x's shape."""
    return graph([helper.make_node("MaxPool", ["x"], ["p", "i"], name="pool",
                                   kernel_shape=[2, 2], strides=[2, 2]),
                  *extra,
                  helper.make_node("Shape", ["x"], ["size"], name="size"),
                  helper.make_node("MaxUnpool", unpool_inputs, ["y"], name="unpool",
                                   kernel_shape=[2, 2], strides=[2, 2])],
                 (3, 6, 8), (3, 6, 8))


def test_onnx_maxpool_indices_into_maxunpool_are_cnnc_pool_and_unpool():
    # whole-tensor indices into planes of the pooling's input size: cnnc's plane-relative pair
    model = _pool_unpool(["p", "i", "size"])
    c, tensors, _ = imported(model)
    assert entries(model) == ["- {id: pool, op: maxpool, kernel: 2}",
                              ('- {id: unpool, op: maxunpool, kernel: 2, '
                               'from: [pool, "pool.indices"]}')]
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 8)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    assert_outputs_equal(c, tensors, x, want)


def test_indices_read_by_anything_but_an_unpooling_are_refused_in_one_line():
    model = _pool_unpool(["p", "j", "size"], [helper.make_node("Neg", ["i"], ["j"], name="neg")])
    with pytest.raises(CnncError) as e:
        imported(model)
    assert "node 'pool' (MaxPool): whole-tensor indices" in str(e.value)


def test_no_block_hides_a_pool_whose_indices_are_read_after_it():
    # conv + pool twice is a run of two copies, but a block would qualify the pools' ids
    spec = ("name: t\ninput: [2, 8, 8]\nlayers:\n"
            "  - {id: c1, op: conv, out: 2, kernel: 3, padding: 1}\n"
            "  - {id: p1, op: maxpool, kernel: 2}\n"
            "  - {id: c2, op: conv, out: 2, kernel: 3, padding: 1}\n"
            "  - {id: p2, op: maxpool, kernel: 2}\n"
            "  - {id: u2, op: maxunpool, kernel: 2, from: [p2, p2.indices]}\n"
            "  - {id: u1, op: maxunpool, kernel: 2, from: [u2, p1.indices]}\n")
    c = compile_text(spec)
    back, _, text = imported(to_onnx(c))
    assert "block" not in text and '"p1.indices"' in text
    assert back.output_shape == c.output_shape


def test_column_major_indices_are_not_taken_for_cnnc_indices():
    model = _pool_unpool(["p", "i", "size"])
    model.graph.node[0].attribute.append(helper.make_attribute("storage_order", 1))
    with pytest.raises(CnncError) as e:
        imported(model)
    assert "node 'pool' (MaxPool): whole-tensor indices" in str(e.value)


def test_an_unpooling_to_a_size_other_than_its_pools_input_is_refused_in_one_line():
    # 9x10 pools to 4x5 (default unpooled size 8x10); `like` is a 7x10 conv output
    spec = ("name: t\ninput: [2, 9, 10]\nlayers:\n"
            "  - {id: c, op: conv, out: 2, kernel: [3, 1]}\n"
            "  - {id: p, op: maxpool, kernel: 2, from: input}\n"
            "  - {op: maxunpool, kernel: 2, from: [p, p.indices, c]}\n")
    with pytest.raises(CnncError) as e:
        imported(to_onnx(compile_text(spec)))
    assert "an output size [7, 10] that is neither the default nor the pooling's input" \
        in str(e.value)


def test_onnx_wrap_padding_is_circular_and_a_channel_concat_of_a_slice_is_no_padding():
    ints = [("pads", np.asarray([0, 0, 1, 2, 0, 0, 1, 0])), ("lo", np.asarray([0])),
            ("hi", np.asarray([2])), ("ch", np.asarray([1]))]
    model = graph([helper.make_node("Pad", ["x", "pads"], ["w"], name="wrap", mode="wrap"),
                   helper.make_node("Slice", ["w", "lo", "hi", "ch"], ["s"], name="first"),
                   helper.make_node("Concat", ["w", "s"], ["y"], name="join", axis=1)],
                  (3, 4, 5), (5, 6, 7))
    model.graph.initializer.extend(
        [onnx.numpy_helper.from_array(a.astype(np.int64), name) for name, a in ints])
    model.opset_import[0].version = 19  # Pad's `wrap` mode
    assert entries(model) == ["- {id: wrap, op: pad, padding: [[1, 1], [2, 0]], mode: circular}",
                              "- {id: first, op: slice, axis: 0, start: 0, stop: 2}",
                              "- {id: join, op: concat, from: [wrap, first]}"]
