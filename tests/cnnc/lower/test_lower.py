"""Lowering: which chains fuse, the steps of each mode, parameter order and buffer lifetimes."""

import math

import pytest

from cnnc.compiler import compile_file, compile_text
from cnnc.lower import lower

BRANCHY = """
name: branchy
input: [3, 8, 8]
layers:
  - {id: c1, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: b1, op: batchnorm}
  - {id: r1, op: relu}
  - {id: c2, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: b2, op: batchnorm}
  - {id: sum, op: add, from: [b2, r1]}
  - {id: c3, op: conv, out: 4, kernel: 1, from: sum}
  - {id: r3, op: relu}
  - {id: tap, op: relu, from: c3}
  - {id: cat, op: concat, from: [r3, tap]}
  - {id: flat, op: flatten}
  - {id: fc, op: linear, out: 5}
  - {id: act, op: relu}
"""


def steps(plan, mode="training"):
    return [(s.op, s.nodes) for s in getattr(plan, mode).steps]


def test_chains_fuse_only_where_the_intermediates_have_one_reader():
    plan = lower(compile_text(BRANCHY))
    assert steps(plan) == [
        ("conv_bn_relu", ("c1", "b1", "r1")),
        ("conv_bn", ("c2", "b2")),
        ("add", ("sum",)),
        ("conv", ("c3",)),          # c3 feeds two relus: nothing to fuse
        ("relu", ("r3",)),
        ("relu", ("tap",)),
        ("concat", ("cat",)),
        ("flatten", ("flat",)),
        ("linear_relu", ("fc", "act")),
    ]
    # Inference folds the BN away: a conv (+ ReLU) over the folded tensors.
    first, second = plan.inference.steps[:2]
    assert (first.op, first.params) == ("conv_relu", {"bias": "c1.bias:folded",
                                                       "winograd": "c1.weight:folded:winograd"})
    assert plan.transforms[0].weight == "c1.weight:folded"
    assert (second.op, second.id) == ("conv", "b2")
    assert [(f.weight, f.running_var, f.into_bias) for f in plan.folds] == [
        ("c1.weight", "b1.running_var", "c1.bias:folded"),
        ("c2.weight", "b2.running_var", "c2.bias:folded")]


def test_an_output_is_never_fused_away():
    text = BRANCHY.replace("name: branchy", "name: branchy\noutputs: [act, b1]")
    plan = lower(compile_text(text))
    assert steps(plan)[:2] == [("conv_bn", ("c1", "b1")), ("relu", ("r1",))]


def test_unfused_plan_has_one_step_per_layer():
    c = compile_text(BRANCHY)
    plan = lower(c, fuse=False)
    assert [s.nodes for s in plan.training.steps] == [(n,) for n in c.layers]
    assert plan.folds == ()


def test_resnet18_fuses_every_conv_with_its_batchnorm():
    plan = lower(compile_file("resnet18"))
    train = [(s.op, s.nodes) for s in plan.training.steps if len(s.nodes) > 1]
    assert len(plan.folds) == 20  # every conv of ResNet-18 is followed by a BN
    assert sum(op == "conv_bn_relu" for op, _ in train) == 9   # stem + first conv per block
    assert sum(op == "conv_bn" for op, _ in train) == 11       # second convs + 3 shortcuts
    assert ("layer2.0.downsample.conv", "layer2.0.downsample.bn") in [n for _, n in train]


def test_kernel_attributes_are_resolved():
    plan = lower(compile_text(BRANCHY), fuse=False)
    conv = plan.training.steps[0]
    assert conv.attrs == {"stride": (1, 1), "dilation": (1, 1), "padding": ((1, 1), (1, 1)),
                          "groups": 1, "padding_mode": "zeros", "algorithm": "winograd"}
    pool = lower(compile_file("googlenet")).inference.steps[1]
    assert pool.op == "maxpool" and pool.attrs["out"] == (56, 56)  # ceil mode, resolved


def test_parameters_follow_definition_order_like_a_state_dict():
    plan = lower(compile_text(BRANCHY))
    assert plan.tensor_order[:8] == (
        "c1.weight", "c1.bias", "b1.weight", "b1.bias", "b1.running_mean", "b1.running_var",
        "c2.weight", "c2.bias")
    conv = next(t for t in plan.params if t.name == "c1.weight")
    assert conv.init == "uniform" and math.isclose(conv.bound, 1 / math.sqrt(3 * 9))
    assert [(t.init, t.value) for t in plan.state[:2]] == [("constant", 0.0), ("constant", 1.0)]
    bn = [t for t in plan.params if t.name.startswith("b1.")]
    assert [(t.init, t.value) for t in bn] == [("constant", 1.0), ("constant", 0.0)]


def test_each_parameter_starts_as_its_rule_states():
    """A norm's weight 1 and bias 0, a scale's `init`, the rest PyTorch's uniform: each rule
    says so itself (Rule.init); a 1-D weight has no fan-in for the uniform bound."""
    plan = lower(compile_text("""
name: inits
input: [4, 6, 6]
layers:
  - {id: gn, op: groupnorm, groups: 2}
  - {id: ln, op: layernorm}
  - {id: ls, op: scale, init: 1e-6}
  - {id: rz, op: scale, init: 0}
  - {id: c, op: conv, out: 4, kernel: 1}
"""))
    inits = {t.name: (t.init, t.value if t.init == "constant" else t.bound) for t in plan.params}
    assert inits == {"gn.weight": ("constant", 1.0), "gn.bias": ("constant", 0.0),
                     "ln.weight": ("constant", 1.0), "ln.bias": ("constant", 0.0),
                     "ls.weight": ("constant", 1e-6), "rz.weight": ("constant", 0.0),
                     "c.weight": ("uniform", 0.5), "c.bias": ("uniform", 0.5)}


def test_inference_reuses_buffers_after_their_last_reader():
    text = """
name: chain
input: [1, 4, 4]
layers:
  - {id: a, op: relu}
  - {id: b, op: sigmoid}
  - {id: c, op: tanh}
  - {id: d, op: add, from: [c, a]}
  - {id: f, op: flatten}
"""
    sched = lower(compile_text(text)).inference
    assert sched.frees == (("input",), (), ("b",), ("a", "c"), ("d",))
    assert sched.views == frozenset({"f"})
    one = 16 * 4  # bytes of one 1x4x4 float32 map
    assert sched.naive_bytes == 5 * one      # input, a, b, c, d; the flatten view is free
    assert sched.peak_bytes == 3 * one       # a, b and c alive together (then a, c, d)
    assert sched.peak_step == "c"


def test_training_only_layers_run_only_in_training():
    plan = lower(compile_file("googlenet_aux"))
    train_ids = {n for s in plan.training.steps for n in s.nodes}
    infer_ids = {n for s in plan.inference.steps for n in s.nodes}
    assert "aux1.fc2" in train_ids and "aux1.fc2" not in infer_ids
    assert plan.training.outputs == ("fc", "aux2.fc2", "aux1.fc2")
    assert plan.inference.outputs == ("fc",)


def test_stride_1_3x3_convs_run_winograd_with_filters_transformed_once_for_inference():
    plan = lower(compile_file("resnet20_cifar"))
    algorithms = {s.nodes[0]: s.attrs["conv"]["algorithm"] for s in plan.training.steps
                  if s.op.startswith("conv")}
    assert algorithms["layer1.0.conv1"] == "winograd"
    assert algorithms["layer2.0.conv1"] == "im2col"  # stride 2
    assert algorithms["layer2.0.downsample.conv"] == "im2col"  # 1x1
    assert sum(a == "winograd" for a in algorithms.values()) == 17
    # Each inference Winograd step reads its transformed filters, made from the folded weight.
    winograd = [s for s in plan.inference.steps
                if s.attrs.get("conv", s.attrs).get("algorithm") == "winograd"]
    assert [(t.kind, t.into) for t in plan.transforms] == [
        ("winograd", s.params["winograd"]) for s in winograd]
    assert all("weight" not in s.params for s in winograd)
    assert plan.transforms[0].weight == "conv1.weight:folded"
    # On a GPU every conv is im2col, and nothing is transformed.
    gpu = lower(compile_file("resnet20_cifar"), device="gpu")
    assert {s.attrs["conv"]["algorithm"] for s in gpu.training.steps if "conv" in s.attrs} == {
        "im2col"} and gpu.transforms == ()


@pytest.mark.parametrize("size, algorithm", [(8, "winograd"), (4, "winograd"),
                                             (3, "winograd"), (2, "im2col"), (5, "im2col")])
def test_maps_that_4x4_tiles_would_mostly_waste_stay_on_im2col(size, algorithm):
    # 3x3 tiles 16 of 9 cells (1.8x), 5x5 tiles 64 of 25 (2.6x), 2x2 16 of 4 (4x).
    text = f"""
name: small
input: [4, {size}, {size}]
layers:
  - {{op: conv, out: 4, kernel: 3, padding: 1}}
"""
    plan = lower(compile_text(text))
    assert plan.training.steps[0].attrs["algorithm"] == algorithm


def test_compile_fuse_lists_the_chains_and_the_memory_plan(capsys):
    from cnnc.cli import main
    assert main(["compile", "resnet18", "--fuse"]) == 0
    out = capsys.readouterr().out
    assert "conv1 + bn1 + relu" in out and "conv_bn_relu -> conv_relu (BN folded)" in out
    assert "20 chains fused, 20 BatchNorms folded; 40 inference steps" in out
    assert "inference memory plan: peak 3.83 MiB per sample at 'maxpool'" in out
    assert main(["compile", "googlenet_aux", "--fuse", "--format", "json"]) == 0
    import json
    lowering = json.loads(capsys.readouterr().out)["lowering"]
    aux = [r for r in lowering["fusions"] if r["layers"][0].startswith("aux1.")]
    assert aux and all(r["inference"] is None for r in aux)
    assert main(["compile", "lenet5", "--fuse", "--format", "dot"]) == 2
