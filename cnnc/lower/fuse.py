"""Find the chains that run as one fused step: conv -> batchnorm -> relu, conv -> batchnorm,
conv -> relu and linear -> relu, where every intermediate tensor has no other reader and no
node's extra output (Rule.outputs) is read: a fused step writes only its last node's output."""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.build import extra_reads


@dataclass(frozen=True)
class Pattern:
    """A chain that runs as one kernel.

    parts:  per member, the key its attributes and tensors have in the fused step (the first
            member's tensors keep their own names, the others' are prefixed: `bn.weight`);
            None for a member with nothing to pass (a ReLU)
    folded: the inference kernel once the chain's batchnorm (its second member) is folded
            into the conv's weights; None for a chain without one
    """

    kernel: str
    parts: tuple[str | None, ...]
    folded: str | None = None


# Longest first, so conv -> batchnorm -> relu is never cut short to conv -> batchnorm.
PATTERNS: dict[tuple[str, ...], Pattern] = {
    ("conv", "batchnorm", "relu"): Pattern("conv_bn_relu", ("conv", "bn", None), "conv_relu"),
    ("conv", "batchnorm"): Pattern("conv_bn", ("conv", "bn"), "conv"),
    ("conv", "relu"): Pattern("conv_relu", ("conv", None)),
    ("linear", "relu"): Pattern("linear_relu", (None, None)),
}


@dataclass(frozen=True)
class Fusion:
    """A chain of nodes computed by one kernel; the last node names the fused output."""

    pattern: Pattern
    nodes: tuple[str, ...]

    @property
    def op(self) -> str:
        return self.pattern.kernel


def _sole_reader(g: nx.DiGraph, node: str, outputs: set[str]) -> str | None:
    """The one layer reading `node`, when exactly one reads it, once, and it is no output."""
    readers = list(g.successors(node))
    if node in outputs or len(readers) != 1 or len(g.edges[node, readers[0]][keys.PORTS]) != 1:
        return None
    return readers[0]


def _chain(g: nx.DiGraph, start: str, ops: tuple[str, ...], outputs: set[str]) -> tuple | None:
    chain = [start]
    for op in ops[1:]:
        reader = _sole_reader(g, chain[-1], outputs)
        if reader is None or g.nodes[reader][keys.LAYER].op != op:
            return None
        if g.nodes[reader][keys.TRAINING_ONLY] != g.nodes[start][keys.TRAINING_ONLY]:
            return None
        chain.append(reader)
    return None if any(extra_reads(g, n) for n in chain) else tuple(chain)


def find_fusions(g: nx.DiGraph, order: tuple[str, ...], outputs: tuple[str, ...]) -> list[Fusion]:
    """Every fusable chain, in topological order; chains never overlap."""
    found, taken = [], set()
    for node in order[1:]:
        if node in taken:
            continue
        op = g.nodes[node][keys.LAYER].op
        for ops, pattern in PATTERNS.items():
            chain = ops[0] == op and _chain(g, node, ops, set(outputs))
            if chain:
                found.append(Fusion(pattern, chain))
                taken.update(chain)
                break
    return found
