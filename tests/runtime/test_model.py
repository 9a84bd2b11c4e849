"""The executor and the Model API on small specs: whole-network gradients in float64, fused
against unfused, folding, auxiliary heads, and shape errors."""

import numpy as np
import pytest
from gradcheck import numeric_grad

from cnnc import build_model, compile_text
from cnnc_runtime.kernels import KERNELS
from cnnc_runtime.losses import softmax_cross_entropy

# Fan-out (r1 feeds c2 and the add), a fused chain, a concat, a fused linear + ReLU.
BRANCHY = """
name: branchy
input: [2, 6, 6]
layers:
  - {id: c1, op: conv, out: 3, kernel: 3, padding: 1}
  - {id: b1, op: batchnorm}
  - {id: r1, op: relu}
  - {id: c2, op: conv, out: 3, kernel: 3, padding: 1, bias: false}
  - {id: b2, op: batchnorm}
  - {id: sum, op: add, from: [b2, r1]}
  - {id: c3, op: conv, out: 2, kernel: 1, stride: 2, from: sum}
  - {id: r3, op: relu}
  - {id: tap, op: sigmoid, from: c3}
  - {id: cat, op: concat, from: [r3, tap, c3]}
  - {id: pool, op: maxpool, kernel: 2}
  - {id: flat, op: flatten}
  - {id: fc, op: linear, out: 4}
  - {id: act, op: relu}
  - {id: out, op: linear, out: 3}
"""


def model(fuse=True, dtype="float64", seed=0, text=BRANCHY):
    return build_model(compile_text(text), dtype=dtype, seed=seed, fuse=fuse)


def batch(m, n=3, seed=1):
    return np.random.default_rng(seed).standard_normal((n, *m.plan.input_shape))


def loss_and_grads(m, x, labels):
    y = m.forward(x, training=True)
    loss, dy = softmax_cross_entropy(np, y, labels)
    return float(loss), m.backward(dy, input_grad=True)


@pytest.mark.parametrize("fuse", [True, False])
def test_whole_network_gradients_match_central_differences(fuse):
    m = model(fuse)
    x, labels = batch(m), np.array([0, 2, 1])
    _, grads = loss_and_grads(m, x, labels)
    dx = m.input_grad
    state = {k: v.copy() for k, v in m.state.items()}

    def loss():
        m.state.update({k: v.copy() for k, v in state.items()})  # BN updates them each call
        return float(softmax_cross_entropy(np, m.forward(x, training=True), labels)[0])

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-8)
    for name in ("c1.weight", "b1.weight", "c2.weight", "b2.bias", "c3.bias", "fc.weight"):
        np.testing.assert_allclose(grads[name], numeric_grad(loss, m.params[name]),
                                   rtol=1e-5, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("fuse", [True, False])
def test_skipping_the_input_gradient_leaves_parameter_gradients_alone(fuse, monkeypatch):
    # c1 (a fused conv + BN + ReLU, or a plain conv) reads the input: its dx is left out.
    x, labels = batch(model(fuse)), np.array([0, 2, 1])
    with_dx, without = model(fuse), model(fuse)
    _, expected = loss_and_grads(with_dx, x, labels)
    kernel = KERNELS["conv_bn_relu" if fuse else "conv"]
    asked = []

    def spy(*args, need_dx=True):
        asked.append(need_dx)
        return backward(*args, need_dx=need_dx)

    backward = kernel.backward
    monkeypatch.setattr(kernel, "backward", spy)
    y = without.forward(x, training=True)
    grads = without.backward(softmax_cross_entropy(np, y, labels)[1])
    assert with_dx.input_grad.shape == x.shape and without.input_grad is None
    assert asked[-1] is False and all(asked[:-1])  # c1 runs last in backward
    for name in expected:
        np.testing.assert_array_equal(grads[name], expected[name], err_msg=name)


def test_fused_and_unfused_plans_compute_the_same_thing():
    fused, plain = model(True), model(False)
    x, labels = batch(fused, n=4), np.array([0, 1, 2, 0])
    for training in (True, False, True):
        np.testing.assert_allclose(fused.forward(x, training), plain.forward(x, training),
                                   rtol=1e-12, atol=1e-12)
    loss_f, grads_f = loss_and_grads(fused, x, labels)
    loss_p, grads_p = loss_and_grads(plain, x, labels)
    assert loss_f == pytest.approx(loss_p, rel=1e-12)
    for name in grads_p:
        np.testing.assert_allclose(grads_f[name], grads_p[name], rtol=1e-10, atol=1e-12)
    for name in plain.state:  # running statistics moved the same way
        np.testing.assert_allclose(fused.state[name], plain.state[name], rtol=1e-12)


def test_folded_inference_equals_batchnorm_with_running_statistics():
    fused, plain = model(True), model(False)
    rng = np.random.default_rng(3)
    for m in (fused, plain):  # the same non-trivial statistics and affine parameters in both
        for name in ("b1.running_mean", "b2.running_mean", "b1.bias", "b2.bias"):
            m.set(name, np.random.default_rng(len(name)).standard_normal(3))
        for name in ("b1.running_var", "b2.running_var", "b1.weight", "b2.weight"):
            m.set(name, np.random.default_rng(len(name)).uniform(0.5, 2, 3))
    x = rng.standard_normal((2, 2, 6, 6))
    assert not any(s.op == "batchnorm" for s in fused.plan.inference.steps)
    np.testing.assert_allclose(fused.forward(x), plain.forward(x), rtol=1e-12, atol=1e-12)
    # Writing a parameter through `set` refolds.
    fused.set("b1.weight", np.full(3, 0.25))
    plain.set("b1.weight", np.full(3, 0.25))
    np.testing.assert_allclose(fused.forward(x), plain.forward(x), rtol=1e-12, atol=1e-12)


def test_seed_fixes_the_initialisation_and_float32_is_the_default():
    a, b, c = (build_model(compile_text(BRANCHY), seed=s) for s in (0, 0, 1))
    assert a.params["c1.weight"].dtype == np.float32
    np.testing.assert_array_equal(a.params["fc.weight"], b.params["fc.weight"])
    assert not np.array_equal(a.params["fc.weight"], c.params["fc.weight"])
    bound = 1 / np.sqrt(2 * 9)  # PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert 0.8 * bound < np.abs(a.params["c1.weight"]).max() <= bound


def test_auxiliary_heads_run_in_training_and_get_zero_gradients_when_left_out():
    text = BRANCHY.replace("name: branchy", "name: aux\noutputs: [out, head]") + \
        "  - {id: head, op: linear, out: 3, from: flat, training_only: true}\n"
    m = model(text=text)
    x = batch(m)
    m.forward(x, training=True)
    assert set(m.outputs) == {"out", "head"}
    grads = m.backward(np.ones((3, 3)))
    assert not grads["head.weight"].any() and grads["fc.weight"].any()
    m.forward(x)
    assert set(m.outputs) == {"out"}


def test_set_copies_so_training_never_writes_into_the_callers_array():
    m = model(dtype="float32")
    mean = np.zeros(3, dtype=np.float32)
    m.set("b1.running_mean", mean)
    m.forward(batch(m).astype(np.float32), training=True)
    assert m.state["b1.running_mean"].any() and not mean.any()


def test_wrong_input_and_parameter_shapes_are_refused():
    m = model()
    with pytest.raises(ValueError, match=r"takes inputs \(N, 2, 6, 6\), got \(3, 3, 6, 6\)"):
        m.forward(np.zeros((3, 3, 6, 6)))
    with pytest.raises(ValueError, match=r"'c1.weight' has shape \(3, 2, 3, 3\)"):
        m.set("c1.weight", np.zeros((3, 3, 3, 3)))
    with pytest.raises(KeyError, match="did you|not a parameter"):
        m.set("c9.weight", np.zeros(1))
    with pytest.raises(RuntimeError, match="training=True"):
        m.backward(np.zeros((3, 3)))
