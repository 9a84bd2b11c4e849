"""Dropout kernels. Shape rule: cnnc/ops/dropout.py."""

from __future__ import annotations

from typing import Any

USES_RNG = True  # the executor passes its generator as `rng` to kernels that say so


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool,
            rng: Any = None) -> tuple:
    """Inverted dropout on any shape: in training each element is kept with probability 1 - p
    and scaled by 1 / (1 - p), drawing from `rng` (an xp.random.Generator); in evaluation, and
    when p == 0, y is x itself. Saves the scaled mask, in x's dtype, or None."""
    (x,) = inputs
    p = attrs["p"]
    if not training or p == 0:
        return x, None
    if rng is None:
        raise ValueError("dropout needs `rng` (an xp.random.Generator) in training")
    mask = rng.random(x.shape, dtype=x.dtype) >= p  # P(keep) = 1 - p: uniform is in [0, 1)
    mask = mask.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask, mask


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy * scaled mask (dy itself when forward was the identity)."""
    return [dy if saved is None else dy * saved], {}
