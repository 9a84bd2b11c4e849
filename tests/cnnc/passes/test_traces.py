"""Shape and receptive-field traces that the reference README lists, layer by layer."""

from __future__ import annotations

import math

import cnnc
from cnnc.ir import keys


def trace(name: str, ops: set[str]) -> list[tuple[int, ...]]:
    c = cnnc.compile_file(name)
    return [c.node(n)[keys.SHAPE] for n in c.layers if c.node(n)[keys.LAYER].op in ops]


def test_lenet5_shapes():
    assert trace("lenet5", {"conv", "maxpool", "linear"}) == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120,), (84,), (10,)]


def test_mnist1d_cnn_shapes():
    assert trace("mnist1d_cnn", {"conv", "linear"}) == [(15, 19), (15, 9), (15, 4), (10,)]


def test_unet_original_shapes():
    sizes = [s[1] for s in trace("unet_original", {"conv", "maxpool", "conv_transpose"})]
    assert sizes == [570, 568, 284, 282, 280, 140, 138, 136, 68, 66, 64, 32, 30, 28,
                     56, 54, 52, 104, 102, 100, 200, 198, 196, 392, 390, 388, 388]
    c = cnnc.compile_file("unet_original")
    assert c.output_shape == (2, 388, 388)


def test_alexnet_paper_receptive_fields():
    c = cnnc.compile_file("alexnet_paper")
    sizes = {n: c.node(n)[keys.RECEPTIVE_FIELD][0].size for n in c.layers}
    assert [sizes[n] for n in ("conv1", "pool1", "conv2", "pool2", "conv3")] == [11, 19, 51, 67, 99]


def test_receptive_field_jump_and_start_through_a_stride():
    c = cnnc.compile_text("name: t\ninput: [1, 32]\nlayers:\n"
                          "  - {op: conv, out: 1, kernel: 3, stride: 2, padding: 1}\n"
                          "  - {op: conv, out: 1, kernel: 3, dilation: 2}\n")
    first, second = (c.node(n)[keys.RECEPTIVE_FIELD][0] for n in c.layers)
    assert (first.size, first.jump, first.start) == (3, 2, 0)    # centred on pixel 0
    assert (second.size, second.jump, second.start) == (11, 2, 4)  # dilated kernel spans 5


def test_a_merge_takes_the_largest_field():
    c = cnnc.compile_text("name: t\ninput: [1, 16, 16]\nlayers:\n"
                          "  - {id: wide, op: conv, out: 1, kernel: 5, padding: 2}\n"
                          "  - {id: narrow, op: conv, out: 1, kernel: 1, from: input}\n"
                          "  - {op: add, from: [narrow, wide]}\n")
    assert c.node("add_1")[keys.RECEPTIVE_FIELD][0].size == 5


def test_a_broadcast_gate_gives_its_size_but_not_its_spacing():
    # squeeze-and-excitation: the (1, 1, 1) gate sees the whole input, but the product's units
    # are the 8x8 map's, 2 input pixels apart (the gate's jump, 16, would grow the next kernel 8x)
    c = cnnc.compile_text("name: t\ninput: [1, 16, 16]\nlayers:\n"
                          "  - {id: conv, op: conv, out: 1, kernel: 3, stride: 2, padding: 1}\n"
                          "  - {id: gate, op: global_avgpool}\n"
                          "  - {id: scaled, op: mul, from: [gate, conv]}\n"
                          "  - {id: after, op: conv, out: 1, kernel: 3, padding: 1}\n")
    gate, scaled, after = (c.node(n)[keys.RECEPTIVE_FIELD][0]
                           for n in ("gate", "scaled", "after"))
    assert (gate.size, gate.jump) == (17, 16)
    assert (scaled.size, scaled.jump, scaled.start) == (17, 2, 0)
    assert after.size == 17 + 2 * 2


def test_peak_memory_frees_each_tensor_after_its_last_reader():
    # a chain keeps at most two tensors alive; a long skip keeps the input alive to the end
    chain = cnnc.compile_text("name: t\ninput: [1, 10]\nlayers:\n"
                              "  - {op: relu}\n  - {op: relu}\n  - {op: relu}\n")
    assert chain.totals.peak_activation_bytes == 2 * 40
    skip = cnnc.compile_text("name: t\ninput: [1, 10]\nlayers:\n"
                             "  - {op: relu}\n  - {op: relu}\n  - {op: add, from: [relu_2, input]}\n")
    assert skip.totals.peak_activation_bytes == 3 * 40
    assert skip.totals.activation_bytes == 3 * 40


def test_a_tensor_read_only_for_its_size_is_not_kept_alive_for_it():
    # upsample to the size of `big` (`from: [small, big]`) against the same size given as
    # numbers: the compiler's peak and the runtime's inference plan agree, and `big` is freed
    # after the pooling, its last reader of values (Rule.size_inputs)
    def spec(target: str) -> str:
        return ("name: t\ninput: [1, 32, 32]\nlayers:\n"
                "  - {id: big, op: conv, out: 8, kernel: 3, padding: 1}\n"
                "  - {id: small, op: maxpool, kernel: 4}\n"
                "  - {id: conv, op: conv, out: 8, kernel: 1}\n"
                f"  - {{op: upsample, {target}}}\n")
    like, sized = cnnc.compile_text(spec("from: [conv, big]")), cnnc.compile_text(spec("size: 32"))
    assert like.node("upsample_1")[keys.SHAPE] == sized.node("upsample_1")[keys.SHAPE]
    assert like.totals.peak_activation_bytes == sized.totals.peak_activation_bytes
    plan = cnnc.build_model(like).plan
    assert plan.inference.peak_bytes == like.totals.peak_activation_bytes
    steps = [s.id for s in plan.inference.steps]
    assert "big" in plan.inference.frees[steps.index("small")]


def test_training_only_heads_count_in_params_not_in_inference_macs():
    main, aux = cnnc.compile_file("googlenet"), cnnc.compile_file("googlenet_aux")
    assert aux.totals.macs == main.totals.macs
    assert aux.totals.training_macs > aux.totals.macs
    assert aux.totals.params > main.totals.params
    assert [o for o in aux.outputs] == ["fc", "aux2.fc2", "aux1.fc2"]
    assert aux.totals.peak_activation_bytes == main.totals.peak_activation_bytes


def test_the_widest_adaptive_bin_in_closed_form_is_the_widest_bin_walked():
    from cnnc.ops.adaptive_avgpool import AdaptiveAvgPoolAttrs
    from cnnc.ops.pooling import receptive_adaptive
    for n in range(1, 40):
        for m in range(1, 40):
            walked = max(math.ceil((i + 1) * n / m) - (i * n) // m for i in range(m))
            (window,) = receptive_adaptive(AdaptiveAvgPoolAttrs(op="adaptive_avgpool", size=m),
                                           ((1, n),))
            assert window.kernel == walked, (n, m)


def test_a_billion_adaptive_bins_take_no_time():
    c = cnnc.compile_text("name: t\ninput: [3, 8, 8]\nlayers:\n"
                          "  - {op: adaptive_avgpool, size: 1000000000}\n")
    assert c.output_shape == (3, 10**9, 10**9)


def test_wavenet_receptive_field_is_the_architectures():
    """WaveNet's field, from its dilations as ibab/tensorflow-wavenet's calculate_receptive_field
    counts it: (width - 1) x the sum of the dilations + 1, plus width - 1 for the first causal
    conv; layer by layer, and causal: every output's field ends at its own sample."""
    c = cnnc.compile_file("wavenet")
    width, dilations = 2, [2**k for k in range(10)] * 5  # kernel 2; 1, 2, ..., 512, five stacks
    filters = [c.node(n)[keys.LAYER].attrs for n in c.layers if n.endswith(".filter")]
    assert [(a.kernel, a.dilation) for a in filters] == [(width, d) for d in dilations]

    def field(node: str) -> tuple[int, float]:
        (axis,) = c.node(node)[keys.RECEPTIVE_FIELD]
        return axis.size, axis.start + (axis.size - 1) / 2 * axis.jump  # size, last sample seen

    first = width  # the causal conv
    for j in range(len(dilations)):
        assert field(f"stack.{j}.skip") == (first + (width - 1) * sum(dilations[:j + 1]), 0)
    known = (width - 1) * sum(dilations) + 1 + (width - 1)
    assert field(c.outputs[0]) == (known, 0)
    assert known == 5117
