"""How an op's key attributes read in one short line of a diagram: `7×7 s2 p3, 3→64`, `512→1000`.

Each rule names its line in `Rule.label`; these are the pieces they share. Defaults are left out
(stride 1, padding 0, dilation 1, one group), so a line says only what makes the layer what it
is; shapes live on another line of the label.
"""

from __future__ import annotations

from typing import Any

Shape = tuple[int, ...]


def axes_text(value: Any, n: int) -> str:
    """An attribute given once or per axis: 3 -> `3×3` on a 2D map; [3, 1] -> `3×1`."""
    values = value if isinstance(value, list) else [value] * max(n, 1)
    return "×".join(str(v) for v in values)


def once_text(value: Any) -> str:
    """A per-axis attribute, once where all axes agree: 2 or [2, 2] -> `2`; [2, 1] -> `2×1`."""
    if isinstance(value, list):
        return str(value[0]) if len(set(map(str, value))) == 1 else "×".join(map(str, value))
    return str(value)


def padding_text(value: Any) -> str:
    if isinstance(value, str):
        return "" if value == "valid" else value  # `same`
    if isinstance(value, list):
        parts = [f"{p[0]}+{p[1]}" if isinstance(p, list) else str(p) for p in value]
        if all(p == "0" for p in parts):
            return ""
        return "p" + (parts[0] if len(set(parts)) == 1 else "×".join(parts))
    return f"p{value}" if value else ""


def window_text(a: Any, n: int, stride: Any) -> list[str]:
    """Kernel, stride, padding and dilation, the defaults left out."""
    parts = [axes_text(a.kernel, n)]
    if once_text(stride) != "1":
        parts.append(f"s{once_text(stride)}")
    parts.append(padding_text(a.padding))
    if once_text(getattr(a, "dilation", 1)) != "1":
        parts.append(f"d{once_text(a.dilation)}")
    return [p for p in parts if p]


def conv_label(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    parts = window_text(a, len(y) - 1, a.stride)
    if getattr(a, "output_padding", 0) and once_text(a.output_padding) != "0":
        parts.append(f"op{once_text(a.output_padding)}")
    if a.groups != 1:
        parts.append("depthwise" if a.groups == "depthwise" else f"g{a.groups}")
    return " ".join(parts) + f", {xs[0][0]}→{y[0]}"


def pool_label(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    parts = window_text(a, len(y) - 1, a.kernel if a.stride is None else a.stride)
    return " ".join(parts + (["ceil"] if a.ceil_mode else []))


def adaptive_label(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"to {axes_text(a.size, len(y) - 1)}"
