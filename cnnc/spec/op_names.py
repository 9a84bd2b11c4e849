"""What to suggest for an op name that is not one of ours, by meaning before spelling.

Names from other frameworks map to ours (`conv2d` is `conv`, `dense` is `linear`). A function
that cnnc does not have is never answered with the op nearest in spelling (`elu` is not `relu`):
the hint says it is missing and lists the ops of its kind instead.
"""

from __future__ import annotations

import re

from cnnc.errors import did_you_mean
from cnnc.ops import RULES

ALIASES = {
    "conv1d": "conv", "conv2d": "conv", "conv3d": "conv", "convolution": "conv",
    "convtranspose1d": "conv_transpose", "convtranspose2d": "conv_transpose",
    "convtranspose3d": "conv_transpose", "deconv": "conv_transpose",
    "transposed_conv": "conv_transpose", "dense": "linear", "fc": "linear",
    "fully_connected": "linear", "bn": "batchnorm", "batchnorm1d": "batchnorm",
    "batchnorm2d": "batchnorm", "batchnorm3d": "batchnorm", "batch_norm": "batchnorm",
    "maxpool1d": "maxpool", "maxpool2d": "maxpool", "maxpool3d": "maxpool", "max_pool": "maxpool",
    "avgpool1d": "avgpool", "avgpool2d": "avgpool", "avgpool3d": "avgpool", "avg_pool": "avgpool",
    "adaptiveavgpool2d": "adaptive_avgpool", "adaptivemaxpool2d": "adaptive_maxpool",
    "gap": "global_avgpool", "globalaveragepooling2d": "global_avgpool",
    "upsampling": "upsample", "upsampling2d": "upsample", "interpolate": "upsample",
    "resize": "upsample", "concatenate": "concat", "cat": "concat", "sum": "add", "plus": "add",
    "multiply": "mul", "view": "reshape", "zeropad2d": "pad", "logistic": "sigmoid",
    "swish": "silu", "hswish": "hardswish", "hard_swish": "hardswish",
    "hsigmoid": "hardsigmoid", "hard_sigmoid": "hardsigmoid", "layer_norm": "layernorm",
    "group_norm": "groupnorm", "localresponsenorm": "lrn", "dropout2d": "dropout",
    "transpose": "permute", "narrow": "slice", "split": "slice", "chunk": "slice",
    "layerscale": "scale", "layer_scale": "scale", "rezero": "scale",
}
# Functions of the field, by kind, that a spec may name; those cnnc lacks get the kind's ops.
KINDS = {
    "activation": ("elu", "selu", "celu", "prelu", "rrelu", "gelu", "silu", "mish", "softplus",
                   "softsign", "hardtanh", "hardswish", "hardsigmoid", "relu6", "leaky_relu",
                   "tanh", "sigmoid", "relu", "softmax", "log_softmax", "threshold"),
    "norm": ("instancenorm", "groupnorm", "layernorm", "batchnorm", "lrn", "rmsnorm"),
    "pool": ("lppool", "fractionalmaxpool", "maxpool", "avgpool"),
}


def unknown_op_hint(name: str) -> str:
    """The hint for `op: name` when no op has that name."""
    plain = re.sub(r"[^a-z0-9_]", "", name.lower())
    target = ALIASES.get(plain) or ALIASES.get(plain.replace("_", ""))
    if target in RULES:
        return f"cnnc calls it `{target}`"
    if plain in RULES:
        return f"op names are lower case: `{plain}`"
    for kind, names in KINDS.items():
        if plain in names or target in names:
            ours = sorted(op for op, rule in RULES.items() if rule.family == kind)
            return f"cnnc has no `{name}`; its {kind} ops are {', '.join(ours)}"
    return did_you_mean(name, RULES) or f"ops: {', '.join(sorted(RULES))}"
