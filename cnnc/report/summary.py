"""One short line of an op's key attributes for diagrams: `7×7 s2 p3, 3→64`, `512→1000`.

Defaults are left out (stride 1, padding 0, dilation 1, one group), so a line says only what
makes the layer what it is; shapes live on another line of the label.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Shape = tuple[int, ...]


def shape_text(shape: Shape) -> str:
    """A shape as diagrams print it: 64×56×56."""
    return "×".join(str(d) for d in shape) if shape else "scalar"


def _axes(value: Any, n: int) -> str:
    """An attribute given once or per axis: 3 -> `3×3` on a 2D map; [3, 1] -> `3×1`."""
    values = value if isinstance(value, list) else [value] * max(n, 1)
    return "×".join(str(v) for v in values)


def _once(value: Any) -> str:
    """A per-axis attribute, once where all axes agree: 2 or [2, 2] -> `2`; [2, 1] -> `2×1`."""
    if isinstance(value, list):
        return str(value[0]) if len(set(map(str, value))) == 1 else "×".join(map(str, value))
    return str(value)


def _padding(value: Any) -> str:
    if isinstance(value, str):
        return "" if value == "valid" else value  # `same`
    if isinstance(value, list):
        parts = [f"{p[0]}+{p[1]}" if isinstance(p, list) else str(p) for p in value]
        if all(p == "0" for p in parts):
            return ""
        return "p" + (parts[0] if len(set(parts)) == 1 else "×".join(parts))
    return f"p{value}" if value else ""


def _window(a: Any, n: int, stride: Any) -> list[str]:
    """Kernel, stride, padding and dilation, the defaults left out."""
    parts = [_axes(a.kernel, n)]
    if _once(stride) != "1":
        parts.append(f"s{_once(stride)}")
    parts.append(_padding(a.padding))
    if _once(getattr(a, "dilation", 1)) != "1":
        parts.append(f"d{_once(a.dilation)}")
    return [p for p in parts if p]


def _conv(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    parts = _window(a, len(y) - 1, a.stride)
    if getattr(a, "output_padding", 0) and _once(a.output_padding) != "0":
        parts.append(f"op{_once(a.output_padding)}")
    if a.groups != 1:
        parts.append("depthwise" if a.groups == "depthwise" else f"g{a.groups}")
    return " ".join(parts) + f", {xs[0][0]}→{y[0]}"


def _pool(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    parts = _window(a, len(y) - 1, a.kernel if a.stride is None else a.stride)
    return " ".join(parts + (["ceil"] if a.ceil_mode else []))


def _upsample(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    how = f"×{_once(a.scale)}" if a.scale is not None else f"to {_axes(a.size, len(y) - 1)}"
    return f"{how} {a.mode}" + (" align" if a.align_corners else "")


def _pad(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    return " ".join(p for p in (_padding(a.padding), "" if a.mode == "zeros" else a.mode) if p)


_SUMMARIES: dict[str, Callable[[Any, tuple[Shape, ...], Shape], str]] = {
    "adaptive_avgpool": lambda a, xs, y: f"to {_axes(a.size, len(y) - 1)}",
    "adaptive_maxpool": lambda a, xs, y: f"to {_axes(a.size, len(y) - 1)}",
    "avgpool": _pool,
    "conv": _conv,
    "conv_transpose": _conv,
    "dropout": lambda a, xs, y: f"p={a.p:g}",
    "leaky_relu": lambda a, xs, y: f"slope {a.negative_slope:g}",
    "linear": lambda a, xs, y: f"{xs[0][0]}→{y[0]}",
    "lrn": lambda a, xs, y: f"size {a.size}",
    "maxpool": _pool,
    "maxunpool": lambda a, xs, y: " ".join(
        _window(a, len(y) - 1, a.kernel if a.stride is None else a.stride)),
    "pad": _pad,
    "upsample": _upsample,
}


def summarize(attrs: Any, inputs: tuple[Shape, ...], output: Shape) -> str:
    """The key attributes of a layer in one line; "" for ops that have none worth showing."""
    describe = _SUMMARIES.get(attrs.op)
    return describe(attrs, inputs, output) if describe else ""
