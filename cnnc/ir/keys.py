"""Names of the node attributes the IR builder and the passes write, in the order they run.

The graph is a `networkx.DiGraph` keyed by qualified layer id; the network input is the node
`input`. Edges carry `ports`, the input positions at which the source feeds the target, and
`reads`, per port the source's output read there: None for its main output, or the name of an
extra output (`indices`). A DiGraph has one edge per pair of nodes, so `from: [pool1,
pool1.indices]` is one edge with ports (0, 1) and reads (None, "indices").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

PORTS = "ports"            # build (edge): input positions at which the source feeds the target
READS = "reads"            # build (edge): per port, None or the extra output read

LAYER = "layer"            # build: the LayerInstance (None for the input node)
ORDER = "order"            # build: definition order, which breaks ties in the topological sort
TRAINING_ONLY = "training_only"  # verify: the node runs only in training (aux heads and below)
INPUT_SHAPES = "input_shapes"  # infer_shapes: the shapes of the inputs, in port order
SHAPE = "shape"            # infer_shapes: output shape without the batch axis
OUTPUT_SHAPES = "output_shapes"  # infer_shapes: {extra output: shape}, where Rule.outputs has any
PARAMS = "params"          # count_params: {name: shape} of learnable parameters
BUFFERS = "buffers"        # count_params: {name: shape} of running statistics
MACS = "macs"              # count_macs: multiply-accumulates for one sample
RECEPTIVE_FIELD = "receptive_field"  # trace_receptive_fields: ReceptiveField


def node_table(g: nx.DiGraph) -> dict[str, dict[str, Any]]:
    """Node id -> its attribute dict: the graph's own table (`DiGraph._node`, which networkx's
    class notes describe for subclasses), so writes go to the graph and nothing is copied.
    Add and remove nodes through the graph, never here. The passes look nodes up in it: a
    plain dict lookup is 3-4x cheaper than `g.nodes[n]` (NodeView), which was 1-2 ms a pass
    on resnet152, and a copy of it (`dict(g.nodes(data=True))`) cost each pass 30 us more."""
    return g._node
