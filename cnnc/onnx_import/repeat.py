"""Straight runs of identical layer sequences -> one block with `repeat:` (ResNet stages past
their first, projecting block; DenseNet's dense layers; a VGG's repeated conv-ReLU pairs).

A run is N >= 2 consecutive copies of k >= 2 layers whose entries are equal and whose inputs
point the same way: inside their own copy, or at the layer before the copy (the block input,
`in`). Nothing outside a run may read a layer of it but the last copy's last layer (the
block's output). Runs are found greedily from the front, the longest cover first; what is
not in a run stays a plain layer. Blocks with arguments (copies that differ in a stride or a
width) and nested runs are not found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cnnc.onnx_import.convert import INPUT, Layer

MAX_BLOCK = 40  # the longest copy looked for (a ResNeXt block has 10 layers, a dense layer 7)


@dataclass
class Block:
    id: str                        # the instance id: its copies' layers become `<id>.<i>.<local>`
    name: str                      # the block's name in `blocks:`
    layers: list[Layer]            # the first copy, ids local, inputs local or `in`
    repeat: int
    inputs: list[str]              # the first copy's input, a layer id or INPUT
    originals: list[list[str]]     # each copy's layer ids as convert.py named them


Item = Layer | Block


def _shape(layers: list[Layer], index: dict[str, int], start: int, k: int) -> tuple | None:
    """A copy's entries with inputs as local offsets or `in`; None where one reads outside."""
    out = []
    for layer in layers[start:start + k]:
        refs = []
        for src in layer.inputs:
            j = index.get(src, -1)
            if j == start - 1 or (src == INPUT and start == 0):
                refs.append("in")
            elif start <= j < start + k:
                refs.append(j - start)
            else:
                return None
        out.append((repr(sorted(layer.op.items())), tuple(refs)))
    return tuple(out)


def _readers(layers: list[Layer], outputs: list[str]) -> dict[str, set[int]]:
    readers: dict[str, set[int]] = {o: {len(layers)} for o in outputs}
    for i, layer in enumerate(layers):
        for src in layer.inputs:
            readers.setdefault(src, set()).add(i)
    return readers


def _run_at(layers: list[Layer], index: dict[str, int], readers: dict[str, set[int]],
            start: int, k: int) -> tuple[int, int] | None:
    """(copies, reads of `in` per copy) of the run of k-layer copies at `start`, if any."""
    first = _shape(layers, index, start, k)
    if first is None or start + 2 * k > len(layers):
        return None
    n = 1
    while start + (n + 1) * k <= len(layers) and _shape(layers, index, start + n * k, k) == first:
        n += 1
    end = start + n * k
    inside = {layer.id for layer in layers[start:end - 1]}
    # only the run itself reads its layers, the last one aside; an extra output (`p.indices`)
    # is read by its layer's id, which a block would qualify
    ids = inside | {layers[end - 1].id}
    if n < 2 or any(r >= end for i in inside for r in readers.get(i, ())) or \
            any(src.partition(".")[0] in ids for src in readers if "." in src):
        return None
    return n, sum(refs.count("in") for _, refs in first)


def find_runs(layers: list[Layer], outputs: list[str]) -> list[tuple[int, int, int]]:
    """(start, copy length, copies) of each run, in order. Of the runs that cover the most,
    the one whose copies read their input most often is kept: a residual block starts where
    its input forks (conv1 and the add read it), not one layer before."""
    index = {layer.id: i for i, layer in enumerate(layers)}
    readers = _readers(layers, outputs)
    runs, start = [], 0
    while start < len(layers):
        best, score = None, (0, 0)
        for k in range(2, MAX_BLOCK + 1):
            found = _run_at(layers, index, readers, start, k)
            if found and (found[0] * k, found[1]) > score:
                best, score = (start, k, found[0]), (found[0] * k, found[1])
        if best is None:
            start += 1
            continue
        _, k, _ = best
        for s in range(start + 1, start + k):  # the same run shifted within one copy
            found = _run_at(layers, index, readers, s, k)
            if found and (found[0] * k, found[1]) > score:
                best, score = (s, k, found[0]), (found[0] * k, found[1])
        runs.append(best)
        start = best[0] + best[1] * best[2]
    return runs


def _names(ids: list[str]) -> tuple[str, list[str]]:
    """An instance id and local ids from the copies' ids at one position (`layer1_0_conv1`,
    `layer1_1_conv1` -> `layer1`, `conv1`)."""
    prefix = os.path.commonprefix(ids)
    suffix = os.path.commonprefix([i[::-1] for i in ids])[::-1]
    stem = prefix.rpartition("_")[0] if "_" in prefix else prefix  # drop the copy index
    return stem, suffix.lstrip("_0123456789")


def blocks(layers: list[Layer], outputs: list[str]) -> tuple[list[Item], dict[str, str]]:
    """The layers with each run as a Block, and the qualified name (`<instance>.<i>.<local>`)
    of each layer now in a copy: its parameters' names."""
    items: list[Item] = []
    renamed: dict[str, str] = {}
    taken = {layer.id for layer in layers}
    at = 0
    for start, k, n in find_runs(layers, outputs) + [(len(layers), 0, 0)]:
        items.extend(layers[at:start])
        at = start + k * n
        if not k:
            break
        copies = [[layer.id for layer in layers[start + t * k:start + (t + 1) * k]]
                  for t in range(n)]
        instance, local = "", []
        for j in range(k):
            stem, name = _names([copy[j] for copy in copies])
            instance = instance or stem
            local.append(name if name and name not in local and name != "in" else f"l{j}")
        base = instance or "stage"
        instance, i = base, 1
        while instance in taken:
            i += 1
            instance = f"{base}_{i}"
        taken.add(instance)
        first, inner = layers[start:start + k], {layer.id: local[j]
                                                 for j, layer in enumerate(layers[start:start + k])}
        before = layers[start - 1].id if start else INPUT
        block_layers = [Layer(local[j], layer.op,
                              [inner.get(src, "in") for src in layer.inputs], {})
                        for j, layer in enumerate(first)]
        items.append(Block(instance, f"{instance}_block", block_layers, n, [before], copies))
        for t, copy in enumerate(copies):
            for j, old in enumerate(copy):
                renamed[old] = f"{instance}.{t}.{local[j]}"
    return items, renamed
