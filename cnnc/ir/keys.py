"""Names of the node attributes the IR builder and the passes write, in the order they run.

The graph is a `networkx.DiGraph` keyed by qualified layer id; the network input is the node
`input`. Edges carry `ports`, the input positions at which the source feeds the target.
"""

LAYER = "layer"            # build: the LayerInstance (None for the input node)
ORDER = "order"            # build: definition order, which breaks ties in the topological sort
TRAINING_ONLY = "training_only"  # verify: the node runs only in training (aux heads and below)
SHAPE = "shape"            # infer_shapes: output shape without the batch axis
PARAMS = "params"          # count_params: {name: shape} of learnable parameters
BUFFERS = "buffers"        # count_params: {name: shape} of running statistics
MACS = "macs"              # count_macs: multiply-accumulates for one sample
RECEPTIVE_FIELD = "receptive_field"  # trace_receptive_fields: ReceptiveField
