"""The imported layers as spec YAML: one flow-style line per layer, as the zoo specs are
written, `from:` only where a layer does not read the one before it."""

from __future__ import annotations

import re
from typing import Any

from cnnc.onnx_import.convert import INPUT, Layer


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


def spec_text(name: str, input_shape: tuple[int, ...], layers: list[Layer],
              outputs: list[str], source: str) -> str:
    """The spec; `outputs:` only where the network's outputs are not its last layer alone."""
    lines = [f"# imported from {source} by `cnnc import-onnx`",
             f"name: {_value(name)}", f"input: {_value(list(input_shape))}", "layers:"]
    previous = INPUT
    for layer in layers:
        entry = {"id": layer.id, **layer.op}
        if layer.inputs != [previous]:
            entry["from"] = layer.inputs[0] if len(layer.inputs) == 1 else layer.inputs
        lines.append("  - {" + ", ".join(f"{k}: {_value(v)}" for k, v in entry.items()) + "}")
        previous = layer.id
    if outputs != [previous]:
        lines.append(f"outputs: {_value(outputs)}")
    return "\n".join(lines) + "\n"


def spec_name(text: str) -> str:
    """A spec `name` from a graph name or file stem (letters, digits, `_`)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "imported"
