"""Pad kernels. Shape rule: cnnc/ops/pad.py."""

from __future__ import annotations

from typing import Any

Pads = tuple[tuple[int, int], ...]


def _rev(start: int, stop: int) -> slice:
    """Slice start, start-1, ..., stop+1; a stop of -1 (down to index 0) needs None."""
    return slice(start, stop if stop >= 0 else None, -1)


def _sources(mode: str, n: int, before: int, after: int, off: int) -> tuple[slice, slice]:
    """Where the cells padded before and after an axis of length n come from, as slices of
    the centre shifted by `off` (the `before` pad in padded coordinates, 0 inside the centre).
    The slices run in the same order as the padded cells they fill."""
    if mode == "reflect":  # mirror without repeating the edge: before pad j <- centre j (1..b)
        return _rev(before + off, off), _rev(n - 2 + off, n - 2 - after + off)
    if mode == "circular":  # wrap once (pad <= n)
        return slice(n - before + off, n + off), slice(off, after + off)
    return slice(off, off + 1), slice(n - 1 + off, n + off)  # replicate: the edge cell


def _at(lead: int, i: int, sl: slice, centre: tuple[slice, ...]) -> tuple[slice, ...]:
    """Index of the slab `sl` along spatial axis i: full along earlier spatial axes (already
    padded), centre along later ones (not yet), everything along the `lead` leading axes."""
    return (slice(None),) * (lead + i) + (sl,) + centre[i + 1:]


def pad_forward(xp: Any, x: Any, pads: Pads, mode: str, value: float = 0.0) -> Any:
    """Pad the trailing len(pads) axes of x (*lead, *S) to (*lead, *(S + before + after)).

    mode: zeros (constant `value`), reflect, replicate or circular (numpy's reflect, edge,
    wrap). Works on any leading axes, so conv can pad a (C, N, *S) view in the same copy.
    """
    lead = x.ndim - len(pads)
    sizes = x.shape[lead:]
    shape = (*x.shape[:lead], *(s + b + a for s, (b, a) in zip(sizes, pads)))
    if mode == "zeros":  # zeros come free from the allocator, then only the centre is written
        y = xp.zeros(shape, x.dtype) if value == 0 else xp.full(shape, value, x.dtype)
    else:
        y = xp.empty(shape, x.dtype)
    centre = tuple(slice(b, b + s) for s, (b, _) in zip(sizes, pads))
    y[(slice(None),) * lead + centre] = x
    if mode == "zeros":
        return y
    # Axis by axis, each fills its border slabs from cells already written (corners included).
    for i, (n, (b, a)) in enumerate(zip(sizes, pads)):
        src_lo, src_hi = _sources(mode, n, b, a, b)
        if b:
            y[_at(lead, i, slice(0, b), centre)] = y[_at(lead, i, src_lo, centre)]
        if a:
            y[_at(lead, i, slice(b + n, b + n + a), centre)] = y[_at(lead, i, src_hi, centre)]
    return y


def pad_adjoint(xp: Any, dy: Any, pads: Pads, mode: str, own: bool = False) -> Any:
    """The gradient of pad_forward: dy (*lead, *Sp) -> dx (*lead, *S), a view of a working
    array (dy itself when `own`, which then gets overwritten; otherwise a copy of it).

    Padded cells add their gradient onto the cells they were copied from, axis by axis in
    the reverse order of pad_forward; zeros padding just crops.
    """
    lead = dy.ndim - len(pads)
    sizes = tuple(s - b - a for s, (b, a) in zip(dy.shape[lead:], pads))
    centre = tuple(slice(b, b + s) for s, (b, _) in zip(sizes, pads))
    if mode != "zeros":
        g = dy if own else dy.copy()
        for i in reversed(range(len(pads))):
            n, (b, a) = sizes[i], pads[i]
            src_lo, src_hi = _sources(mode, n, b, a, b)
            for width, border, src in ((b, slice(0, b), src_lo),
                                       (a, slice(b + n, b + n + a), src_hi)):
                if not width:
                    continue
                part = g[_at(lead, i, border, centre)]
                if mode == "replicate":  # every padded cell came from the one edge cell
                    part = part.sum(axis=lead + i, keepdims=True)
                g[_at(lead, i, src, centre)] += part
        dy = g
    return dy[(slice(None),) * lead + centre]


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """x (N, C, *S) -> y (N, C, *(S + before + after))."""
    (x,) = inputs
    return pad_forward(xp, x, attrs["padding"], attrs["mode"], attrs.get("value", 0.0)), None


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dy (N, C, *Sp) -> [dx (N, C, *S)]; nothing is saved, the pads give the shapes."""
    dx = pad_adjoint(xp, dy, attrs["padding"], attrs["mode"])
    # zeros: dx is a view of dy (never hand dy out); otherwise of a copy that is ours
    return [dx.copy() if attrs["mode"] == "zeros" else xp.ascontiguousarray(dx)], {}
