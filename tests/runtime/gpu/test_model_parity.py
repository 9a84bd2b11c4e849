"""Whole models on the GPU compute what they compute on the CPU: the models of
tests/runtime/test_parity.py, built with the same seed on both devices (the same initial values
by construction), take one training step on the same batch and then run in evaluation.

In float64 the outputs, the loss, every parameter gradient, the input gradient, the updated
running statistics and the evaluation outputs (BatchNorm folded) must agree to 1e-9 of each
tensor's largest magnitude, fused and unfused; in float32 the outputs and losses to 1e-4 (the
gradients of BatchNorm nets on tiny batches are not that stable in float32: see test_parity).
Dropout draws on the GPU come from the CPU model's NumPy generator, so both drop the same units.
"""

import numpy as np
import pytest
from parity_cases import CASES

from cnnc import build_model, compile_file
from cnnc_runtime.device import to_host
from cnnc_runtime.losses import softmax_cross_entropy

pytestmark = pytest.mark.gpu

EXACT, TOL32 = 1e-9, 1e-4
SEED = 1


class HostDraws:
    """The GPU model's generator, as far as dropout uses it: `random` draws on the host with
    NumPy's generator, seeded as the CPU model's is, and copies the draws to the device."""

    def __init__(self, cupy, seed: int) -> None:
        self.cupy, self.host = cupy, np.random.default_rng(seed)

    def random(self, shape, dtype=np.float64):
        return self.cupy.asarray(self.host.random(shape, dtype=dtype))


def close(ours, theirs, tol, what, floor=0.0):
    """Elementwise within tol of the CPU's largest magnitude; a tensor that is zero in exact
    arithmetic (a conv bias feeding a BatchNorm: under 1e-6 of `floor`, the largest gradient of
    the model) is compared on the scale of `floor`."""
    ours, theirs = to_host(ours), to_host(theirs)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, what
    scale = float(np.abs(theirs).max())
    scale = floor if scale < 1e-6 * floor else scale
    err = float(np.abs(ours - theirs).max())
    assert err <= tol * scale, f"{what}: largest difference {err:.2e}, magnitude {scale:.2e}"


@pytest.fixture(scope="module", params=list(CASES))
def case(request, cupy):
    name = request.param
    shape, n = CASES[name]
    compiled = compile_file(name, shape)
    x = np.random.default_rng(2).standard_normal((n, *compiled.input_shape)).astype(np.float32)
    out = compiled.output_shape
    labels = np.random.default_rng(3).integers(0, out[0], (n, *out[1:]))
    return name, compiled, x, labels


def step(model, x, labels):
    """One training forward and backward, then an evaluation forward: everything on the host."""
    xp = model.xp
    y = model.forward(x, training=True)
    loss, dy = softmax_cross_entropy(xp, y, xp.asarray(labels))
    grads = model.backward(dy, input_grad=True)
    trained = {"output": to_host(y), "loss": float(loss), "input_grad": to_host(model.input_grad),
               "grads": {k: to_host(v) for k, v in grads.items()},
               "state": {k: to_host(v) for k, v in model.state.items()}}
    return trained | {"evaluation": to_host(model.forward(x))}


@pytest.mark.parametrize("dtype, fuse", [("float64", True), ("float64", False),
                                         ("float32", True)],
                         ids=["float64", "float64_unfused", "float32"])
def test_training_step_and_evaluation_match_the_cpu(cupy, case, dtype, fuse):
    name, compiled, x, labels = case
    cpu = build_model(compiled, dtype=dtype, seed=SEED, fuse=fuse)
    gpu = build_model(compiled, dtype=dtype, seed=SEED, fuse=fuse, device="gpu")
    assert gpu.xp is cupy and gpu.params.keys() == cpu.params.keys()
    for k, v in cpu.tensors().items():
        np.testing.assert_array_equal(to_host(gpu.tensors()[k]), v, err_msg=k)
    gpu.rng = HostDraws(cupy, SEED)
    theirs, ours = step(cpu, x, labels), step(gpu, x, labels)

    tol = EXACT if dtype == "float64" else TOL32
    close(ours["output"], theirs["output"], tol, f"{name} training output")
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=tol)
    close(ours["evaluation"], theirs["evaluation"], tol, f"{name} evaluation output")
    if dtype == "float32":
        return
    close(ours["input_grad"], theirs["input_grad"], tol, f"{name} input gradient")
    floor = max(float(np.abs(g).max()) for g in theirs["grads"].values())
    for k, g in theirs["grads"].items():
        close(ours["grads"][k], g, tol, f"{name} gradient of '{k}'", floor)
    assert ours["state"].keys() == theirs["state"].keys()
    for k, v in theirs["state"].items():
        close(ours["state"][k], v, tol, f"{name} '{k}' after the step")
