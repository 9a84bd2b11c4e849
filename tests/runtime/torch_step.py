"""One float64 training step of a spec against its PyTorch twin: output, loss, input gradient
and every parameter's gradient (shared by the op tests that build small nets around new ops)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnc import build_model, compile_text
from cnnc_runtime.importer import map_state_dict
from cnnc_runtime.losses import softmax_cross_entropy


def assert_training_step_matches(spec: str, reference) -> None:
    """`reference` (a float64 torch module, parameters named in the spec's order) and `spec`
    give the same step on a batch of 4 inputs of 3x8x8 and 5 classes."""
    import torch

    model = build_model(compile_text(spec), dtype="float64", seed=0)
    mapping, arrays = map_state_dict(model.plan, {k: v.numpy() for k, v in
                                                  reference.state_dict().items()})
    model.load(arrays)
    x = np.random.default_rng(1).standard_normal((4, 3, 8, 8))
    labels = np.array([0, 3, 1, 4])
    y = model.forward(x, training=True)
    loss, dy = softmax_cross_entropy(np, y, labels)
    grads = model.backward(dy, input_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    ty = reference(tx)
    tloss = torch.nn.functional.cross_entropy(ty, torch.tensor(labels))
    tloss.backward()

    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert float(loss) == pytest.approx(tloss.item(), rel=1e-12)
    np.testing.assert_allclose(model.input_grad, tx.grad.numpy(), rtol=1e-9, atol=1e-14)
    params = dict(reference.named_parameters())
    assert {m.target for m in mapping} == set(grads)
    for m in mapping:
        np.testing.assert_allclose(grads[m.target], params[m.source].grad.numpy(), rtol=1e-9,
                                   atol=1e-14, err_msg=m.target)
