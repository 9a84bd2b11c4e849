"""Shapes written on the command line, `3x224x224`: read by `cnnc compile` and `cnnc run` alike
(a module of its own, so that the run does not import the command line that imports it)."""

from __future__ import annotations

import argparse


def parse_shape(text: str) -> tuple[int, ...]:
    """`3x224x224` (or `3,224,224`) -> (3, 224, 224)."""
    try:
        shape = tuple(int(p) for p in text.lower().replace(",", "x").split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1 or len(shape) > 4:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a shape: write channels and sizes without the batch, e.g. 3x32x32")
    return shape
