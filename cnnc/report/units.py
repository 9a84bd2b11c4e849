"""Human-readable numbers: 11,689,512 (11.7 M), 1.81 G, 44.6 MiB."""

from __future__ import annotations


def grouped(n: int) -> str:
    return f"{n:,}"


def si(n: float) -> str:
    """Counts in SI units (parameters, MACs), three significant digits."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= factor:
            return f"{_three_digits(n / factor)} {unit}"
    return f"{n:g}"


def binary_bytes(n: float) -> str:
    """Bytes in binary units (memory)."""
    for factor, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if n >= factor:
            return f"{_three_digits(n / factor)} {unit}"
    return f"{n:g} B"


def _three_digits(x: float) -> str:
    return f"{x:#.3g}".rstrip(".")  # 61.0 M, not 61 M; 133 M, not 133. M


def number(x: float) -> int | float:
    """An int when the value is integral (JSON and tables show 7, not 7.0)."""
    if type(x) is int:  # the common case, and the cheapest test (compile speed)
        return x
    return int(x) if float(x).is_integer() else round(x, 4)
