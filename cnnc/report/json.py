"""The stable, versioned JSON document of `cnnc compile --format json`.

Version 1. Keys are only ever added within a version; a removal or change of meaning bumps it.
A node's `inputs` name values: a layer id, or `<id>.<output>` for an extra output (max
pooling's `pool1.indices`); a node whose extra outputs are read lists them under `outputs`
(added in 1, absent otherwise, so earlier documents read the same).
Shapes exclude the batch axis; counts are for one sample; receptive fields are per spatial axis.
`warnings` (added in version 1, empty when there are none) are those `cnnc compile` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnnc.errors import Diagnostic
from cnnc.ir import keys
from cnnc.ir.build import extra_reads
from cnnc.ir.keys import node_table
from cnnc.ops import RULES
from cnnc.passes.params import numel
from cnnc.report.units import number

if TYPE_CHECKING:
    from cnnc.compiled import CompiledData

FORMAT = "cnnc.compile"
VERSION = 1


def to_json(c: CompiledData) -> dict[str, Any]:
    t = c.totals
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": c.name,
        "input_shape": list(c.input_shape),
        "output_shape": list(c.output_shape),
        "outputs": [{"id": o, "shape": list(c.node(o)[keys.SHAPE])} for o in c.outputs],
        "totals": {
            "params": t.params,
            "trainable_params": t.trainable_params,
            "buffers": t.buffers,
            "macs": t.macs,
            "flops": t.flops,
            "training_macs": t.training_macs,
            "activation_bytes": t.activation_bytes,
            "peak_activation_bytes": t.peak_activation_bytes,
        },
        "warnings": [_warning(w) for w in c.warnings],
        "nodes": _nodes(c),
    }


def _warning(w: Diagnostic) -> dict[str, Any]:
    """A warning as `cnnc compile` prints it, in parts; its notes are left out."""
    return {"kind": w.kind, "message": w.message, "line": w.span.line if w.span else None,
            "col": w.span.col if w.span else None, "hint": w.hint}


def _nodes(c: CompiledData) -> list[dict[str, Any]]:
    """Every layer in topological order. The copies of a block's layer share one frozen
    attribute record (cnnc/spec/expand.py), the layers of one block copy one tuple of call
    sites, a pointwise layer its input's receptive field: each is dumped once and copied into
    each node, so that no two nodes share a list or a mapping (densenet201's JSON: 3.2 -> 2
    ms)."""
    nodes = node_table(c.graph)
    dumped: dict[int, tuple[dict[str, Any], Any]] = {}  # and the function that copies it
    sites: dict[int, list[dict[str, str]]] = {}  # call sites -> their `blocks` entries
    fields: dict[int, tuple[list, list, list]] = {}  # receptive field -> its three lists
    out = []
    for node_id in c.order[1:]:
        data = nodes[node_id]
        layer = data[keys.LAYER]
        attrs = layer.attrs
        known = dumped.get(id(attrs))
        if known is None:
            dump = attrs.model_dump(by_alias=True, exclude_defaults=True,
                                    exclude={"id", "op", "from_", "if_", "training_only"})
            flat = not any(isinstance(v, (list, dict)) for v in dump.values())
            known = dumped[id(attrs)] = dump, dict.copy if flat else _copied
        dump, copy = known
        blocks = sites.get(id(layer.calls))
        if blocks is None:
            blocks = sites[id(layer.calls)] = [{"block": s.block, "instance": s.instance}
                                               for s in layer.calls]
        rf = data[keys.RECEPTIVE_FIELD]
        field = fields.get(id(rf))
        if field is None:  # a pointwise layer passes its input's field on, unchanged
            field = fields[id(rf)] = tuple([number(axis[k]) for axis in rf] for k in range(3))
        size, jump, start = field
        params, buffers = data[keys.PARAMS], data[keys.BUFFERS]
        node = {
            "id": node_id,
            "op": layer.op,
            "inputs": list(layer.inputs),
            "output_shape": list(data[keys.SHAPE]),
            "params": numel(params) if params else 0,
            "buffers": numel(buffers) if buffers else 0,
            "macs": data[keys.MACS],
            "training_only": data[keys.TRAINING_ONLY],
            "attrs": copy(dump),
            "blocks": list(map(dict.copy, blocks)),
            "receptive_field": {"size": size[:], "jump": jump[:], "start": start[:]},
        }
        extras = extra_reads(c.graph, node_id) if RULES[layer.op].outputs else ()
        if extras:  # indices are int64 (Rule.outputs)
            node["outputs"] = [{"name": o, "shape": list(data[keys.OUTPUT_SHAPES][o]),
                                "dtype": "int64"} for o in extras]
        out.append(node)
    return out


def _copied(value: Any) -> Any:
    """A copy of a dumped value, so that no two nodes of the document share a list."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    return [_copied(v) for v in value] if isinstance(value, list) else value
