"""The terminal summary of `cnnc compile`: one row per layer, then totals (like torchinfo)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnc.ir import keys
from cnnc.ir.build import split_value
from cnnc.ops.base import fmt
from cnnc.passes.params import numel
from cnnc.report.units import binary_bytes, grouped, number, si

if TYPE_CHECKING:
    from cnnc.compiled import CompiledData

HEADER = ("id", "op", "output", "params", "MACs", "RF")
RIGHT = {"params", "MACs", "RF"}


def receptive_label(rf) -> str:
    sizes = [number(a.size) for a in rf]
    if not sizes:
        return "-"
    return str(sizes[0]) if len(set(sizes)) == 1 else "x".join(str(s) for s in sizes)


def headline(c: CompiledData) -> str:
    """`resnet18: input 3x224x224 -> output 1000 ('fc')`"""
    return (f"{c.name}: input {fmt(c.input_shape)} -> output "
            + ", ".join(f"{fmt(c.node(o)[keys.SHAPE])} ('{o}')" for o in c.outputs))


def layer_rows(c: CompiledData) -> list[tuple[str, ...]]:
    """One row of HEADER cells per layer; `*` marks training-only layers, and a layer that
    reads an extra output names it after its op (`maxunpool (pool1.indices)`)."""
    rows = []
    for node in c.layers:
        d = c.node(node)
        mark = "*" if d[keys.TRAINING_ONLY] else ""
        layer = d[keys.LAYER]
        extras = [v for v in layer.inputs if split_value(c.graph, v)[1]]
        op = layer.op + (f" ({', '.join(extras)})" if extras else "")
        rows.append((node + mark, op, fmt(d[keys.SHAPE]),
                     grouped(numel(d[keys.PARAMS])), grouped(d[keys.MACS]),
                     receptive_label(d[keys.RECEPTIVE_FIELD])))
    return rows


def total_rows(c: CompiledData) -> list[tuple[str, str, str]]:
    """(name, exact figure, in units) for each total, as the table ends."""
    t = c.totals
    totals = [
        ("parameters", grouped(t.params), si(t.params)),
        ("  trainable", grouped(t.trainable_params), si(t.trainable_params)),
        ("buffers", grouped(t.buffers), si(t.buffers)),
        ("MACs", grouped(t.macs), si(t.macs)),
        ("FLOPs (2 x MACs)", grouped(t.flops), si(t.flops)),
        ("activations", grouped(t.activation_bytes) + " B", binary_bytes(t.activation_bytes)),
        ("  peak", grouped(t.peak_activation_bytes) + " B", binary_bytes(t.peak_activation_bytes)),
    ]
    if t.training_macs != t.macs:
        totals.insert(5, ("  in training", grouped(t.training_macs), si(t.training_macs)))
    return totals


def render_table(c: CompiledData) -> str:
    rows = layer_rows(c)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADER)]

    def line(cells) -> str:
        return "  ".join(cell.rjust(w) if h in RIGHT else cell.ljust(w)
                         for cell, w, h in zip(cells, widths, HEADER)).rstrip()

    rule = "-" * len(line(HEADER))
    out = [headline(c), rule, line(HEADER), rule, *(line(r) for r in rows), rule]
    totals = total_rows(c)
    w0, w1 = max(len(r[0]) for r in totals), max(len(r[1]) for r in totals)
    out += [f"{a.ljust(w0)}  {b.rjust(w1)}  ({u})" for a, b, u in totals]
    out[-1] += f" when '{c.memory.peak_node}' is computed"
    indices = any(split_value(c.graph, v)[1] for n in c.layers
                  for v in c.node(n)[keys.LAYER].inputs)
    out.append("per sample: MACs and activations count one input; activations are float32 "
               f"outputs of inference{' (indices int64)' if indices else ''}, peak with each "
               "freed after its last reader")
    if any(c.node(n)[keys.TRAINING_ONLY] for n in c.layers):
        out.append("* training only: counted in parameters, not in inference MACs or memory")
    return "\n".join(out) + "\n"
