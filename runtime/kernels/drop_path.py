"""Stochastic depth kernels. Shape rule: cnnc/ops/drop_path.py."""

from __future__ import annotations

from typing import Any

USES_RNG = True  # the executor passes its generator as `rng` to kernels that say so


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool,
            rng: Any = None) -> tuple:
    """In training each sample of x (N, ...) is kept with probability 1 - p and scaled by
    1 / (1 - p), or zeroed whole (`row`), or the batch at once (`batch`), drawing from `rng`;
    in evaluation, and when p == 0, y is x itself. Saves the scaled mask (N, 1, ...) or
    (1, 1, ...), in x's dtype, or None."""
    (x,) = inputs
    p = attrs["p"]
    if not training or p == 0:
        return x, None
    if rng is None:
        raise ValueError("drop_path needs `rng` (an xp.random.Generator) in training")
    shape = ((x.shape[0] if attrs["mode"] == "row" else 1),) + (1,) * (x.ndim - 1)
    mask = (rng.random(shape, dtype=x.dtype) >= p).astype(x.dtype)  # P(keep) = 1 - p
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy * scaled mask (dy itself when forward was the identity)."""
    return [dy if saved is None else dy * saved], {}
