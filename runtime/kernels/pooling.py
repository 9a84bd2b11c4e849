"""Window and bin helpers shared by the pooling kernels. Shape rule: cnnc/ops/pooling.py.

Sliding windows are read as one strided slice per kernel offset (K slices of output size)
rather than through a window view: a window view walks K-element windows element by element,
while each strided slice is one vectorised pass (7x faster for a 3x3/2 max pool). The padded
input keeps its last axis split by stride phase so that these slices are contiguous rows.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from cnnc_runtime import blas

Pads = tuple[tuple[int, int], ...]


def padded_sizes(sizes: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...],
                 padding: Pads, dilation: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    """Length per axis of the padded input the windows read: the `before` padding, the input,
    and after it exactly what the last window reaches (its ceil_mode overhang included)."""
    reach = ((o - 1) * s + d * (k - 1) + 1 for k, s, d, o in zip(kernel, stride, dilation, out))
    return tuple(max(r, b + n) for r, n, (b, _) in zip(reach, sizes, padding))


def split_last(xp: Any, x: Any, sizes: tuple[int, ...], padding: Pads, step: int,
               value: float) -> Any:
    """x (N, C, *spatial) padded with `value` to `sizes` (x at `before`), its last axis split
    by phase: (N, C, *sizes[:-1], step, ceil(sizes[-1] / step)), [..., r, j] = padded cell
    j*step + r. A view of x when there is nothing to pad and step is 1 (do not write into it).

    Why: a stride-`step` slice along the last axis becomes contiguous, which makes each of the
    K per-offset passes several times faster than reading every `step`-th element."""
    if step == 1 and sizes == x.shape[2:] and not any(b for b, _ in padding):
        return x[..., None, :]
    xs = xp.empty(x.shape[:2] + sizes[:-1] + (step, -(-sizes[-1] // step)), dtype=x.dtype)
    # Only the border gets `value` (filling everything first would write xs twice).
    for axis, (n, (b, _)) in enumerate(zip(x.shape[2:-1], padding), 2):
        xs[(slice(None),) * axis + (slice(0, b),)] = value
        xs[(slice(None),) * axis + (slice(b + n, None),)] = value
    lead = _inside(x.shape, padding)
    for r, (i, j) in enumerate(_phases(x.shape[-1], padding[-1][0], step)):
        xs[..., r, :j.start] = value
        xs[..., r, j.stop:] = value
        xs[lead + (r, j)] = x[..., i]
    return xs


def merge_last(xp: Any, xs: Any, x_shape: tuple[int, ...], padding: Pads, step: int) -> Any:
    """The inverse of `split_last`: the input cells (N, C, *spatial) of a split padded array."""
    if xs.shape[-2:] == (1, x_shape[-1]) and xs.shape[2:-2] == x_shape[2:-1]:
        return xs[..., 0, :]
    x = xp.empty(x_shape, dtype=xs.dtype)
    lead = _inside(x_shape, padding)
    for r, (i, j) in enumerate(_phases(x_shape[-1], padding[-1][0], step)):
        x[..., i] = xs[lead + (r, j)]
    return x


def _inside(x_shape: tuple[int, ...], padding: Pads) -> tuple[slice, ...]:
    """Slices of the input cells along every axis of a padded array but the last."""
    return (slice(None), slice(None)) + tuple(
        slice(b, b + n) for n, (b, _) in zip(x_shape[2:-1], padding[:-1]))


def _phases(n: int, before: int, step: int) -> list[tuple[slice, slice]]:
    """Per phase r: (input slice, slice of the phase row) holding the input cells i with
    (i + before) % step == r along an axis of n cells."""
    out = []
    for r in range(step):
        j0, j1 = max(-(-(before - r) // step), 0), -(-(before + n - r) // step)
        i0 = j0 * step + r - before
        out.append((slice(i0, n, step), slice(j0, max(j1, j0))))
    return out


def offsets(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> list[tuple[int, ...]]:
    """First padded index per axis of every kernel offset, in PyTorch's window order
    (row-major: the last axis varies fastest)."""
    return list(itertools.product(*(range(0, d * k, d) for k, d in zip(kernel, dilation))))


def window(start: tuple[int, ...], stride: tuple[int, ...], out: tuple[int, ...]) -> tuple:
    """Slice of a `split_last` array: the element at kernel offset `start` (padded indices)
    of every window, shape (N, C, *out)."""
    *lead, (b, s, o) = zip(start, stride, out)
    rows = tuple(slice(bi, bi + si * (oi - 1) + 1, si) for bi, si, oi in lead)
    return (slice(None), slice(None)) + rows + (b % s, slice(b // s, b // s + o))


def first_in_lattice(starts: list[tuple[int, ...]], stride: tuple[int, ...]) -> list[bool]:
    """Per kernel offset: whether it is the first to reach its lattice of padded cells (the
    offsets equal modulo the stride on every axis reach the same cells, shifted by whole
    windows). Backward assigns the first one's share, which is much cheaper than adding it to
    zeros, and adds the others'; disjoint windows assign everything."""
    seen, first = set(), []
    for start in starts:
        key = tuple(b % s for b, s in zip(start, stride))
        first.append(key not in seen)
        seen.add(key)
    return first


def bins(xp: Any, n: int, m: int) -> tuple[Any, Any]:
    """PyTorch's adaptive pooling bins of an axis of n cells into m: [floor(i*n/m),
    ceil((i+1)*n/m)) for i < m, as int64 arrays (start, end)."""
    i = xp.arange(m, dtype=xp.int64)
    return (i * n) // m, -((-(i + 1) * n) // m)


def widest_bin(n: int, m: int) -> int:
    """Largest bin length of `bins(n, m)`, computed on the host (no device sync)."""
    return max(-(-(i + 1) * n // m) - (i * n) // m for i in range(m))


def along(xp: Any, x: Any, mat: Any, axis: int) -> Any:
    """y[..., i, ...] = sum_j mat[i, j] * x[..., j, ...] along `axis` of x, as one GEMM
    (batched over the leading axes when `axis` is not the last). mat: (m, n)."""
    shape = x.shape
    m, n = mat.shape
    pre, post = math.prod(shape[:axis]), math.prod(shape[axis + 1:])
    if post == 1:
        y = blas.matmul(xp, x.reshape(pre, n), mat.T)  # (pre, m)
    else:
        y = blas.matmul(xp, mat, x.reshape(pre, n, post))  # (pre, m, post)
    return y.reshape(shape[:axis] + (m,) + shape[axis + 1:])


def gather(xp: Any, x: Any, idx: Any, weight: Any, axis: int) -> Any:
    """y[..., i, ...] = sum_t weight[i, t] * x[..., idx[i, t], ...] along `axis` (weight None:
    ones). idx, weight: (m, T) with T small (interpolation taps, bin members)."""
    shape = [1] * x.ndim
    shape[axis] = idx.shape[0]
    y = None
    for t in range(idx.shape[1]):
        v = xp.take(x, idx[:, t], axis=axis)  # (..., m, ...)
        if weight is not None:
            v *= weight[:, t].reshape(shape)
        y = v if y is None else xp.add(y, v, out=y)
    return y


def transpose_taps(xp: Any, idx: Any, weight: Any, n: int, dtype: Any) -> tuple[Any, Any]:
    """The taps (n, T') of the adjoint of `gather(., idx, weight)` from an axis of n cells:
    cell j collects weight[i, t] * dy[i] from every (i, t) with idx[i, t] == j. Unused slots
    point at 0 with weight 0. The backward of a gather is then a gather too, with no
    scatter-add (which NumPy and CuPy only offer as the slow `add.at`)."""
    m, taps = idx.shape
    j = idx.reshape(-1)  # (m*T,)
    order = xp.argsort(j)
    js = j[order]
    rank = xp.arange(js.size) - xp.searchsorted(js, js, side="left")  # slot within cell j
    width = int(rank.max()) + 1 if js.size else 1
    idx_t = xp.zeros((n, width), dtype=xp.int64)
    w_t = xp.zeros((n, width), dtype=dtype)
    idx_t[js, rank] = (xp.arange(m * taps) // taps)[order]
    w_t[js, rank] = 1 if weight is None else weight.reshape(-1)[order]
    return idx_t, w_t
