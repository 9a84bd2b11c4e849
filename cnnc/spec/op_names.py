"""What to suggest for an op name that is not one of ours, by meaning before spelling.

Names from other frameworks map to ours (`conv2d` is `conv`, `dense` is `linear`). A function
that cnnc does not have is never answered with the op nearest in spelling (`elu` is not `relu`):
the hint says it is missing and lists the ops of its kind instead.
"""

from __future__ import annotations

import re

from cnnc.errors import did_you_mean
from cnnc.ops import RULES

# What other frameworks call our ops (`Rule.aliases`), by that name.
ALIASES = {alias: op for op, rule in RULES.items() for alias in rule.aliases}
# Functions of the field that cnnc lacks, by the family of ours a hint lists instead.
MISSING = {
    "activation": ("elu", "selu", "celu", "prelu", "rrelu", "mish", "softplus", "softsign",
                   "hardtanh", "log_softmax", "threshold"),
    "norm": ("instancenorm", "rmsnorm"),
    "pool": ("lppool", "fractionalmaxpool"),
}


def unknown_op_hint(name: str) -> str:
    """The hint for `op: name` when no op has that name."""
    plain = re.sub(r"[^a-z0-9_]", "", name.lower())
    target = ALIASES.get(plain) or ALIASES.get(plain.replace("_", ""))
    if target in RULES:
        return f"cnnc calls it `{target}`"
    if plain in RULES:
        return f"op names are lower case: `{plain}`"
    for kind, names in MISSING.items():
        if plain in names or target in names:
            ours = sorted(op for op, rule in RULES.items() if rule.family == kind)
            return f"cnnc has no `{name}`; its {kind} ops are {', '.join(ours)}"
    return did_you_mean(name, RULES) or f"ops: {', '.join(sorted(RULES))}"
