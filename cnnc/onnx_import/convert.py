"""An ONNX graph -> the layers of a cnnc spec (ids, inputs, entries, parameters), or every
unsupported node at once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnc.errors import CnncError, Diagnostic
from cnnc.onnx_import.mapped import Alias, Missing
from cnnc.onnx_import.ops import MAPPINGS
from cnnc.onnx_import.reader import Graph, Node
from cnnc.ops import RULES

INPUT = "input"  # the spec's name for the network input
# ops whose torch node names carry only the enclosing module's path: the op word is added
_FUNCTIONAL = {"Add": "add", "Mul": "mul", "Concat": "cat", "Flatten": "flatten",
               "Reshape": "reshape", "Sub": "one_minus", "Squeeze": "squeeze",
               "Unsqueeze": "unsqueeze", "Slice": "slice", "Pad": "pad"}


class OnnxImportError(CnncError):
    """An ONNX model with nodes cnnc has no layer for."""


@dataclass
class Layer:
    id: str
    op: dict[str, Any]
    inputs: list[str]                        # layer ids, or INPUT
    params: dict[str, np.ndarray] = field(default_factory=dict)


def layer_id(node: Node) -> str:
    """A spec id from a node name: torch's `/layer1/layer1.0/conv1/Conv` -> `layer1_0_conv1`,
    cnnc's `stage2.0.conv1` -> `stage2_0_conv1` (dots qualify block copies in cnnc)."""
    parts = [p for p in node.name.strip("/").split("/") if p]
    if parts and re.fullmatch(rf"{node.op_type}(_\d+)?", parts[-1]):
        parts.pop()
    # torch repeats each module's parent path: keep only the innermost dotted form
    parts = [p for i, p in enumerate(parts)
             if not (i + 1 < len(parts) and parts[i + 1].startswith(p + "."))]
    word = _FUNCTIONAL.get(node.op_type)
    if word and (not parts or "/" in node.name) and not (parts and word in parts[-1].lower()):
        parts.append(word)
    text = re.sub(r"[^A-Za-z0-9_]+", "_", "_".join(parts)).strip("_")
    if not text or not text[0].isalpha():
        text = f"{node.op_type.lower()}_{text}".strip("_")
    return text


def _unique(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken or name in (INPUT, "in"):
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def convert(g: Graph) -> tuple[list[Layer], list[str]]:
    """The layers of `g` in graph order and the ids of the network outputs; OnnxImportError
    listing every node cnnc cannot map."""
    owner: dict[str, str] = {g.input: INPUT}  # value name -> the layer id that computes it
    layers: list[Layer] = []
    missing: list[str] = []
    taken: set[str] = set()
    for node in g.nodes:
        mapping = MAPPINGS.get(node.op_type)
        if mapping is None:
            missing.append(f"node '{node.name}' ({node.op_type}): cnnc has no layer for this op")
            continue
        try:
            mapped = mapping(node, g)
        except KeyError as e:  # a shape inference left open
            mapped = Missing(f"the shape of '{e.args[0]}' is unknown after shape inference")
        if isinstance(mapped, Missing):
            missing.append(f"node '{node.name}' ({node.op_type}): {mapped.what}")
            continue
        if isinstance(mapped, Alias):
            if mapped.value in owner:
                owner[node.outputs[0]] = owner[mapped.value]
            continue
        base = layer_id(node)
        for i, entry in enumerate(mapped):
            last = i == len(mapped) - 1
            name = _unique(base if last else f"{base}_{i + 1}", taken)
            inputs = [layers[-1].id if not v else owner.get(v, "") for v in entry.reads]
            layers.append(Layer(name, entry.op, inputs, entry.params))
        owner[node.outputs[0]] = layers[-1].id
        # a layer's extra outputs are read as `<id>.<output>` (a max pool's `p.indices`)
        extra = RULES[layers[-1].op["op"]].outputs
        owner |= {v: f"{layers[-1].id}.{name}" for v, name in zip(node.outputs[1:], extra) if v}
    if missing:
        raise OnnxImportError([Diagnostic("import", line) for line in missing])
    return layers, [owner[v] for v in g.outputs]


def checkpoint_tensors(layers: list[Layer]) -> dict[str, np.ndarray]:
    """The layers' parameters and buffers by cnnc name (`<id>.<name>`)."""
    return {f"{layer.id}.{name}": np.ascontiguousarray(a, dtype=np.float32)
            for layer in layers for name, a in layer.params.items()}
