"""The kernel registry lines up with the op rules and the fusion patterns."""

import inspect

from cnnc.lower.fuse import PATTERNS
from cnnc.ops import RULES
from cnnc_runtime.kernels import KERNELS


def test_every_op_has_a_kernel_and_every_extra_kernel_is_a_fusion():
    assert set(RULES) <= set(KERNELS)
    assert set(KERNELS) - set(RULES) == set({p.kernel for p in PATTERNS.values()})


def test_kernel_modules_are_named_like_their_op_and_follow_the_contract():
    for name, module in KERNELS.items():
        assert module.__name__ == f"cnnc_runtime.kernels.{name}"
        forward = list(inspect.signature(module.forward).parameters)
        backward = list(inspect.signature(module.backward).parameters)
        assert forward[:5] == ["xp", "inputs", "params", "attrs", "training"], name
        # an op with extra outputs (Rule.outputs) is told which ones a later step reads
        extras = ["outputs"] if name in RULES and RULES[name].outputs else []
        assert forward[5:] == (["rng"] if getattr(module, "USES_RNG", False) else []) + extras, \
            name
        assert backward[:5] == ["xp", "dy", "saved", "params", "attrs"], name
        assert backward[5:] == (["need_dx"] if getattr(module, "SKIPS_DX", False) else []), name
