"""Map a PyTorch-style state dict (name -> array) onto a Plan's parameters and state.

Names rarely agree between frameworks (torchvision's `downsample.0` is a spec's
`downsample.conv`), but the order does: a state dict lists tensors in definition order, and so
does a Plan. Tensors are therefore matched in order, every shape is checked, and the first one
that does not fit is named. A file whose names all equal the Plan's (a cnnc checkpoint) is
matched by name.
"""

from __future__ import annotations

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
    by_name = set(sources) == set(targets)
    pairs = [(n, n) for n in targets] if by_name else list(zip(sources, targets))
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
    return mapping, out


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"
