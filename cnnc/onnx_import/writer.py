"""The imported layers as spec YAML: one flow-style line per layer, as the zoo specs are
written, `from:` only where a layer does not read the one before it."""

from __future__ import annotations

import re
from typing import Any

from cnnc.onnx_import.convert import INPUT, Layer
from cnnc.onnx_import.repeat import Block, Item


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str) and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        return '"' + v + '"'
    return str(v)


def _entry(fields: dict[str, Any]) -> str:
    return "- {" + ", ".join(f"{k}: {_value(v)}" for k, v in fields.items()) + "}"


def _layer_lines(layers: list[Layer], first_input: str, refer: dict[str, str],
                 indent: str) -> list[str]:
    lines, previous = [], first_input
    for layer in layers:
        entry = {"id": layer.id, **layer.op}
        inputs = [refer.get(i, i) for i in layer.inputs]
        if inputs != [previous]:
            entry["from"] = inputs[0] if len(inputs) == 1 else inputs
        lines.append(indent + _entry(entry))
        previous = layer.id
    return lines


def spec_text(name: str, input_shape: tuple[int, ...], items: list[Item],
              outputs: list[str], source: str) -> str:
    """The spec; `blocks:` for the runs repeat.py found; `outputs:` only where the network's
    outputs are not its last layer alone."""
    lines = [f"# imported from {source} by `cnnc import-onnx`",
             f"name: {_value(name)}", f"input: {_value(list(input_shape))}"]
    # a later layer reads a block's output through the instance id
    refer = {item.originals[-1][-1]: item.id for item in items if isinstance(item, Block)}
    found = [item for item in items if isinstance(item, Block)]
    if found:
        lines.append("blocks:")
    for b in found:
        lines += [f"  {b.name}:", "    layers:"]
        lines += _layer_lines(b.layers, "in", {}, "      ")
    lines.append("layers:")
    previous = INPUT
    for item in items:
        if isinstance(item, Block):
            entry: dict[str, Any] = {"id": item.id, "block": item.name, "repeat": item.repeat}
            inputs = [refer.get(i, i) for i in item.inputs]
            if inputs != [previous]:
                entry["from"] = inputs[0]
            lines.append("  " + _entry(entry))
        else:
            lines += _layer_lines([item], previous, refer, "  ")
        previous = item.id
    outputs = [refer.get(o, o) for o in outputs]
    if outputs != [previous]:
        lines.append(f"outputs: {_value(outputs)}")
    return "\n".join(lines) + "\n"


def spec_name(text: str) -> str:
    """A spec `name` from a graph name or file stem (letters, digits, `_`)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "imported"
