"""Mul kernels. Shape rule: cnnc/ops/mul.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels.add import unbroadcast


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x0 * x1 * ..., two or more inputs of one shape, or of size 1 where they differ
    (a (C,1,1) gate scales a (C,H,W) map; cnnc/ops/merge.py). Saves the inputs."""
    y = inputs[0] * inputs[1]  # a new array: the rest multiply into it in place where they fit
    for x in inputs[2:]:
        y = xp.multiply(y, x, out=y) if x.shape == y.shape else y * x
    return y, list(inputs)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx_i = dy * product of every other input, from prefix and suffix products: no division,
    so zeros are fine; 3n - 4 multiplications for n inputs. A broadcast input's gradient is
    summed over the axes it was broadcast along."""
    xs = saved
    n = len(xs)
    left = [dy]  # left[i] = dy * x0 * ... * x(i-1)
    for x in xs[:-1]:
        left.append(left[-1] * x)
    dxs = [None] * n
    dxs[-1] = left[-1]
    right = xs[-1]  # x(i+1) * ... * x(n-1)
    for i in range(n - 2, -1, -1):
        # left[0] is dy, the caller's array: the only product that needs a new buffer
        # left[i] has dy's full shape, so a broadcast `right` fits into it in place
        dxs[i] = left[i] * right if i == 0 else xp.multiply(left[i], right, out=left[i])
        if i > 0:
            right = right * xs[i]
    return [unbroadcast(dx, x.shape) for dx, x in zip(dxs, xs)], {}
