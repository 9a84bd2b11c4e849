"""Central-difference gradient checks for kernels, in float64.

The scalar checked is sum(y * r) for a fixed random r, so every output element contributes
with its own weight and sign errors cannot cancel.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-8


def numeric_grad(f: Any, x: np.ndarray) -> np.ndarray:
    """d f() / d x by central differences, perturbing x in place one element at a time."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + EPS
        hi = f()
        flat[i] = old - EPS
        lo = f()
        flat[i] = old
        gflat[i] = (hi - lo) / (2 * EPS)
    return g


def check_kernel(kernel: ModuleType, inputs: list[np.ndarray], params: dict[str, np.ndarray],
                 attrs: dict, training: bool = True, wrt_inputs: tuple[int, ...] | None = None,
                 wrt_params: tuple[str, ...] | None = None, seed: int = 0, **forward_kw: Any) -> None:
    """Assert that kernel.backward matches central differences of kernel.forward for every
    input in `wrt_inputs` (default: all) and every parameter in `wrt_params` (default: all
    that backward returns a gradient for, which must be every non-state parameter)."""
    rng = np.random.default_rng(seed)
    inputs = [np.array(x, dtype=np.float64) for x in inputs]
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}

    def run() -> np.ndarray:
        # State such as running statistics is updated in place; work on copies so every
        # evaluation sees the same state.
        fresh = {k: v.copy() if "running" in k else v for k, v in params.items()}
        y, _ = kernel.forward(np, list(inputs), fresh, attrs, training, **forward_kw)
        return y

    y = run()
    r = rng.standard_normal(y.shape)
    fresh = {k: v.copy() if "running" in k else v for k, v in params.items()}
    y, saved = kernel.forward(np, list(inputs), fresh, attrs, training, **forward_kw)
    dinputs, dparams = kernel.backward(np, r.copy(), saved, params, attrs)

    def loss() -> float:
        return float(np.sum(run() * r))

    for i in range(len(inputs)) if wrt_inputs is None else wrt_inputs:
        want = numeric_grad(loss, inputs[i])
        np.testing.assert_allclose(dinputs[i], want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"input {i} gradient")
    names = [k for k in params if "running" not in k] if wrt_params is None else wrt_params
    assert set(dparams) >= set(names), f"backward returned {sorted(dparams)}, expected {names}"
    for name in names:
        want = numeric_grad(loss, params[name])
        np.testing.assert_allclose(dparams[name], want, rtol=RTOL, atol=ATOL,
                                   err_msg=f"parameter '{name}' gradient")


def routed_gradient(indices: np.ndarray, dy: np.ndarray, spatial: tuple[int, ...]) -> np.ndarray:
    """The input gradient a max pool must give: each dy added onto the cell that PyTorch's
    returned flat index (per sample and channel) names. Shape (N, C, prod(spatial))."""
    n, c = dy.shape[:2]
    want = np.zeros((n, c, int(np.prod(spatial))), dtype=dy.dtype)
    rows = np.arange(n * c).reshape(n, c, *(1,) * (indices.ndim - 2))
    np.add.at(want.reshape(n * c, -1), (np.broadcast_to(rows, indices.shape).reshape(-1),
                                        indices.reshape(-1)), dy.reshape(-1))
    return want
