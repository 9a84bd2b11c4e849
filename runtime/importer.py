"""Map a PyTorch-style state dict (name -> array) onto a Plan's parameters and state.

Where the file holds every name the Plan has (a cnnc checkpoint, or a PyTorch model whose
modules are named like the spec's layers), tensors are matched by name, whatever their order.
Otherwise names rarely agree between frameworks (torchvision's `downsample.0` is a spec's
`downsample.conv`) but the order does: a state dict lists tensors in definition order, and so
does a Plan. Such tensors are matched in order, and a `NamesDiffer` warning lists the names
that differ, so a same-shaped tensor is never moved onto another silently. Every shape is
checked, and the first tensor that does not fit is named.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnc_runtime import checkpoint
from cnnc_runtime.plan import Plan
from cnnc_runtime.wording import plural

# PyTorch's BatchNorm step counter: state cnnc does not keep (momentum is fixed).
SKIPPED_SUFFIXES = ("num_batches_tracked",)


class WeightsError(ValueError):
    """Weights that do not fit a Plan; the message names the first tensor that does not fit."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message + (f"\n  hint: {hint}" if hint else ""))


class NamesDiffer(UserWarning):
    """Tensors were matched by position because the file's names are not the spec's."""


@dataclass(frozen=True)
class Mapped:
    source: str
    target: str
    shape: tuple[int, ...]


def read_arrays(path: str | Path) -> tuple[dict[str, np.ndarray], bool]:
    """(name -> array from a .safetensors or .npz file, in the file's order; whether the data
    was verified: an npz by zip's CRC-32, a safetensors file by the checksum cnnc writes)."""
    path = Path(path)
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as npz:
                return {name: npz[name] for name in npz.files}, True
        except FileNotFoundError:
            raise checkpoint.CheckpointError(f"{path}: no such file") from None
        except (OSError, ValueError, zipfile.BadZipFile) as e:
            raise checkpoint.CheckpointError(f"{path}: not a readable .npz file ({e})") from None
    if path.suffix == ".safetensors":
        tensors, meta = checkpoint.load(path)
        return tensors, checkpoint.CHECKSUM in meta
    raise checkpoint.CheckpointError(f"{path}: weights are read from .safetensors or .npz files")


def map_state_dict(plan: Plan, arrays: Mapping[str, Any]) -> tuple[list[Mapped], dict[str, Any]]:
    """(the mapping, the arrays by Plan tensor name). Raises WeightsError on any misfit."""
    targets = list(plan.tensor_order)
    shapes = {t.name: tuple(t.shape) for t in (*plan.params, *plan.state)}
    sources = [n for n in arrays if not n.endswith(SKIPPED_SUFFIXES)]
    by_name = set(targets) <= set(sources)
    if by_name and len(sources) > len(targets):
        extra = [n for n in sources if n not in shapes]
        raise WeightsError(f"{_listed(extra)} {'is' if len(extra) == 1 else 'are'} not in the "
                           f"spec, which has {plural(len(targets), 'tensor')}",
                           "are these the weights of another network, or of a larger variant?")
    pairs = [(n, n) for n in targets] if by_name else list(zip(sources, targets))
    if not by_name:
        _check_positions(pairs, shapes)
    mapping, out = [], {}
    for i, (source, target) in enumerate(pairs):
        shape = tuple(np.shape(arrays[source]))
        if shape != shapes[target]:
            how = "" if by_name else f" (tensor {i + 1} in order)"
            raise WeightsError(
                f"'{source}' has shape {_fmt(shape)} but '{target}'{how} needs "
                f"{_fmt(shapes[target])}",
                None if by_name else "weights are matched in definition order: is a layer "
                                     "missing, extra or in another order in the spec?")
        mapping.append(Mapped(source, target, shape))
        out[target] = arrays[source]
    if len(sources) != len(targets) and not by_name:
        if len(sources) < len(targets):
            missing = targets[len(sources)]
            raise WeightsError(f"the weights end after {plural(len(sources), 'tensor')}; "
                               f"'{missing}' ({_fmt(shapes[missing])}) and later ones have none")
        extra = sources[len(targets)]
        raise WeightsError(f"'{extra}' and later tensors are left over: the spec has "
                           f"{plural(len(targets), 'tensor')}, the weights {len(sources)}")
    renamed = [m for m in mapping if m.source != m.target]
    if renamed:
        pairs_text = ", ".join(f"'{m.source}' -> '{m.target}'" for m in renamed[:3])
        more = f" and {len(renamed) - 3} more" if len(renamed) > 3 else ""
        warnings.warn(NamesDiffer(
            f"{len(renamed)} of {plural(len(mapping), 'name')} differ from the spec's, so tensors "
            f"were matched by position (shapes checked): {pairs_text}{more}"), stacklevel=2)
    return mapping, out


def _check_positions(pairs: list[tuple[str, str]], shapes: dict[str, tuple[int, ...]]) -> None:
    """Refuse an order that contradicts the names: a file tensor named like one of the spec's
    that position would put onto another (a layer missing or moved in the spec)."""
    for source, target in pairs:
        if source in shapes and source != target:
            raise WeightsError(
                f"'{source}' would be matched by position onto '{target}', but the spec has a "
                f"'{source}' of its own",
                "some names agree and some do not: rename the file's tensors to the spec's "
                "(then every tensor is matched by name), or check the spec's layer order")


def _listed(names: list[str]) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"
