"""What compiling a network gives: the annotated graph and its totals, as data.

The reports (cnnc/report/) are functions of this data; cnnc/compiler.py makes it and adds the
reports as methods (`Compiled`), so neither the reports nor the pipeline import each other's
module in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx

from cnnc.errors import Diagnostic
from cnnc.ir import keys
from cnnc.passes.memory import Memory


@dataclass(frozen=True)
class Totals:
    params: int
    trainable_params: int
    buffers: int
    macs: int              # inference: training-only layers excluded
    training_macs: int     # forward pass in training, auxiliary heads included
    activation_bytes: int
    peak_activation_bytes: int

    @property
    def flops(self) -> int:
        return 2 * self.macs


@dataclass(frozen=True)
class CompiledData:
    """A compiled network: the annotated graph (node attributes in cnnc/ir/keys.py) and totals."""

    name: str
    doc: str | None
    file: str
    input_shape: tuple[int, ...]
    outputs: tuple[str, ...]
    order: tuple[str, ...]  # topological, deterministic; starts with the input node
    graph: nx.DiGraph
    totals: Totals
    memory: Memory
    warnings: tuple[Diagnostic, ...] = ()  # what compiles but is likely a mistake (passes/lint.py)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.graph.nodes[self.outputs[0]][keys.SHAPE]

    @property
    def layers(self) -> list[str]:
        """Layer ids in topological order (the input node left out)."""
        return list(self.order[1:])

    def node(self, node_id: str) -> dict[str, Any]:
        return self.graph.nodes[node_id]
