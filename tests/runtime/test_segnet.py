"""A SegNet-like encoder/decoder (max pooling's indices feed max unpooling) through the Python
API: whole-network gradients in float64, and a few training steps that lower the loss."""

import numpy as np
import pytest
from gradcheck import numeric_grad

from cnnc import build_model, compile_text
from cnnc_runtime.optim import SGD

# Two poolings whose indices come back in the decoder, one inside a block instance; the
# second unpool takes its size from the pooling's input (odd sizes: 7x7 -> 3x3 -> 7x7).
SEGNET = """
name: tiny_segnet
input: [2, 7, 7]
blocks:
  down:
    layers:
      - {op: conv, out: 4, kernel: 3, padding: 1}
      - {op: batchnorm}
      - {id: act, op: relu}
      - {id: pool, op: maxpool, kernel: 2}
layers:
  - {id: enc1, block: down}
  - {id: enc2, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: up1, op: maxunpool, kernel: 2, from: [enc2, enc1.pool.indices, enc1.act]}
  - {op: conv, out: 4, kernel: 3, padding: 1}
  - {op: relu}
  - {op: conv, out: 2, kernel: 1}
"""


def mse(y, target):
    d = y - target
    return float(np.mean(d * d)), 2 * d / d.size


def model(dtype="float64", fuse=True):
    return build_model(compile_text(SEGNET), dtype=dtype, seed=0, fuse=fuse)


def test_the_pooling_step_writes_its_indices_for_the_unpooling():
    m = model()
    pool = next(s for s in m.plan.training.steps if s.id == "enc1.pool")
    up = next(s for s in m.plan.training.steps if s.id == "up1")
    assert pool.outputs == ("indices",)
    # `like` (enc1.act) gives only the size, which the step has in its attributes
    assert up.inputs == ("enc2", "enc1.pool.indices")
    assert tuple(up.attrs["out"]) == m.plan.shapes["enc1.act"][1:]
    infer = {s.id: s for s in m.plan.inference.steps}
    assert infer["enc1.pool"].outputs == ("indices",)  # inference reads them too
    assert "enc1.pool.indices" in m.plan.inference.frees[list(infer).index("up1")]
    assert "enc1.act" in m.plan.inference.frees[list(infer).index("enc1.pool")]


@pytest.mark.parametrize("fuse", [True, False])
def test_whole_network_gradients_match_central_differences(fuse):
    m = model(fuse=fuse)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 2, 7, 7))
    target = rng.standard_normal(x.shape)
    _, dy = mse(m.forward(x, training=True), target)
    grads = m.backward(dy, input_grad=True)
    state = {k: v.copy() for k, v in m.state.items()}

    def loss():
        m.state.update({k: v.copy() for k, v in state.items()})
        return mse(m.forward(x, training=True), target)[0]

    np.testing.assert_allclose(m.input_grad, numeric_grad(loss, x), rtol=1e-5, atol=1e-8)
    for name in ("enc1.conv_1.weight", "enc1.batchnorm_1.bias", "conv_3.bias"):
        np.testing.assert_allclose(grads[name], numeric_grad(loss, m.params[name]),
                                   rtol=1e-5, atol=1e-8, err_msg=name)


def test_a_few_training_steps_lower_the_reconstruction_loss():
    m = model(dtype="float32")
    x = np.random.default_rng(2).standard_normal((8, 2, 7, 7)).astype(np.float32)
    opt = SGD(m.params, m.trainable, np, momentum=0.9, nesterov=False, weight_decay=0.0)
    losses = []
    for _ in range(30):
        loss, dy = mse(m.forward(x, training=True), x)
        opt.step(m.backward(dy), lr=0.1)
        m.changed()
        losses.append(loss)
    assert losses[-1] < 0.75 * losses[0]
    y = m.forward(x)  # inference: BN folded, indices still made for the unpooling
    assert y.shape == x.shape and np.isfinite(y).all()
