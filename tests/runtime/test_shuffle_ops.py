"""stack, slice, permute, scale and upsample to a reference in one compiled network: the
counts, the schedule's views, a float64 training step against the same network in PyTorch, a
few training steps, and a ShuffleNet channel shuffle (reshape, permute, reshape) against
PyTorch's channel_shuffle."""

import numpy as np
import pytest
from torch_step import assert_training_step_matches

from cnnc import build_model, compile_text
from cnnc.ir import keys
from cnnc_runtime.losses import softmax_cross_entropy
from cnnc_runtime.optim import make_optimizer

SPEC = """
name: split_shuffle
input: [3, 8, 8]
layers:
  - {id: stem, op: conv, out: 8, kernel: 3, padding: 1}
  - {id: left, op: slice, stop: 4}                  # ShuffleNet v2's channel split
  - {id: right, op: slice, start: -4, from: stem}
  - {id: branch, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: ls, op: scale, init: 1e-6}                 # LayerScale
  - {id: cat, op: concat, from: [left, ls]}
  - {id: groups, op: reshape, shape: [2, -1, 8, 8]}
  - {id: swap, op: permute, dims: [1, 0, 2, 3]}
  - {id: shuffled, op: reshape, shape: [8, 8, 8]}
  - {id: pool, op: maxpool, kernel: 2}
  - {id: up, op: upsample, from: [pool, shuffled], mode: bilinear}
  - {id: pair, op: stack, from: [up, shuffled]}
  - {id: rows, op: slice, start: 1, step: 2, axis: 2}
  - {id: merged, op: reshape, shape: [16, -1, 8]}
  - {op: global_avgpool}
  - {op: flatten}
  - {id: fc, op: linear, out: 5}
"""


def test_counts_and_views():
    c = compile_text(SPEC)
    assert c.output_shape == (5,) and c.node("rows")[keys.SHAPE] == (2, 8, 4, 8)
    # stem 8*27+8, branch 4*36+4, ls 4, fc 16*5+5; only the convs and fc count MACs
    assert c.totals.params == 224 + 148 + 4 + 85
    assert c.totals.macs == 8 * 64 * 27 + 4 * 64 * 36 + 16 * 5
    sched = build_model(c).plan.inference
    # channel slices and the reshapes share storage; the permute, the stack and the strided
    # row slice write their own (so the reshape after each stays a view)
    assert {"left", "right", "groups", "shuffled", "merged"} <= sched.views
    assert not {"swap", "pair", "rows"} & sched.views


def torch_model():
    torch = pytest.importorskip("torch")
    nn, F = torch.nn, torch.nn.functional

    class LayerScale(nn.Module):
        def __init__(self, channels, init):
            super().__init__()
            self.weight = nn.Parameter(torch.full((channels,), init))

        def forward(self, x):
            return self.weight[:, None, None] * x

    class SplitShuffle(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, padding=1)
            self.branch = nn.Conv2d(4, 4, 3, padding=1)
            self.ls = LayerScale(4, 1e-6)
            self.fc = nn.Linear(16, 5)

        def forward(self, x):
            s = self.stem(x)
            left, right = s[:, :4], s[:, -4:]
            cat = torch.cat([left, self.ls(self.branch(right))], 1)
            shuffled = F.channel_shuffle(cat, 2)
            up = F.interpolate(F.max_pool2d(shuffled, 2), size=(8, 8), mode="bilinear")
            pair = torch.stack([up, shuffled], 1)[:, :, :, 1::2]
            merged = pair.reshape(-1, 16, 4, 8)
            return self.fc(merged.mean((2, 3)))

    return SplitShuffle().double()


def test_training_step_matches_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch_model()
    with torch.no_grad():  # a scale far from 1e-6, so the branch's gradients are not tiny
        reference.ls.weight.uniform_(0.5, 1.5)
    assert_training_step_matches(SPEC, reference)


def test_a_few_training_steps_lower_the_loss_and_move_the_scale():
    model = build_model(compile_text(SPEC), seed=0)
    np.testing.assert_array_equal(model.params["ls.weight"], np.full(4, 1e-6, np.float32))
    optimizer = make_optimizer("sgd", model.params, model.trainable, np, momentum=0.9)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 3, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 5, 8)
    losses = []
    for _ in range(8):
        loss, dy = softmax_cross_entropy(np, model.forward(x, training=True), labels)
        losses.append(float(loss))
        optimizer.step(model.backward(dy), 0.1)
        model.changed()
    assert losses[-1] < 0.8 * losses[0], losses
    assert np.all(np.abs(model.params["ls.weight"] - 1e-6) > 1e-4)


def test_rezero_starts_at_zero_and_still_learns():
    text = """
name: rezero
input: [6]
layers:
  - {id: fc, op: linear, out: 6}
  - {id: alpha, op: scale, init: 0}
  - {op: add, from: [alpha, input]}
"""
    model = build_model(compile_text(text), dtype="float64")
    np.testing.assert_array_equal(model.params["alpha.weight"], np.zeros(6))
    x = np.random.default_rng(3).standard_normal((5, 6))
    np.testing.assert_array_equal(model.forward(x, training=True), x)  # the identity at first
    grads = model.backward(np.ones((5, 6)))
    assert np.all(grads["alpha.weight"] != 0) and np.all(grads["fc.weight"] == 0)


@pytest.mark.parametrize("c, g, spatial", [(12, 3, (5, 4)), (8, 2, (3,)), (6, 6, (2, 2))])
def test_channel_shuffle_from_reshape_and_permute_matches_torch(c, g, spatial):
    torch = pytest.importorskip("torch")
    grid = ", ".join(map(str, spatial))
    text = f"""
name: shuffle
input: [{c}, {grid}]
layers:
  - {{op: reshape, shape: [{g}, -1, {grid}]}}
  - {{op: permute, dims: [1, 0{''.join(f', {i + 2}' for i in range(len(spatial)))}]}}
  - {{op: reshape, shape: [{c}, {grid}]}}
"""
    model = build_model(compile_text(text), dtype="float64")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, c, *spatial))
    dy = rng.standard_normal(x.shape)
    y = model.forward(x, training=True)
    model.backward(dy, input_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.channel_shuffle(tx, g)
    ty.backward(torch.tensor(dy))
    idiom = tx.detach().view(3, g, c // g, *spatial).transpose(1, 2).reshape(x.shape)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(y, idiom.numpy())
    np.testing.assert_array_equal(model.input_grad, tx.grad.numpy())
