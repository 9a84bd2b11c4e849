"""An op name that is not ours is answered by meaning before spelling."""

from __future__ import annotations

import pytest

from cnnc import CnncError, compile_text
from cnnc.ops import RULES
from cnnc.spec.op_names import ALIASES, MISSING


def hint(op: str) -> str:
    with pytest.raises(CnncError) as info:
        compile_text(f"name: t\ninput: [3, 8, 8]\nlayers:\n  - {{op: {op}}}\n")
    (d,) = info.value.diagnostics
    assert d.kind == "unknown-op"
    return d.hint


@pytest.mark.parametrize("op, ours", [("Conv2d", "conv"), ("dense", "linear"),
                                      ("BatchNorm2d", "batchnorm"), ("ConvTranspose2d",
                                                                     "conv_transpose"),
                                      ("concatenate", "concat"), ("MaxPool2d", "maxpool"),
                                      ("transpose", "permute"), ("LayerScale", "scale"),
                                      ("narrow", "slice")])
def test_other_frameworks_names_map_to_ours(op, ours):
    assert hint(op) == f"cnnc calls it `{ours}`"


def test_a_function_cnnc_lacks_is_not_answered_with_a_lookalike():
    text = hint("elu")
    assert text.startswith("cnnc has no `elu`; its activation ops are ") and "relu" in text
    assert "did you mean" not in text


def test_a_misspelling_still_gets_the_nearest_name():
    assert hint("convv") == "did you mean 'conv'?"
    assert hint("ReLU") == "op names are lower case: `relu`"


def test_the_kinds_are_families_of_ours_and_aliases_are_not_our_names():
    assert set(MISSING) <= {rule.family for rule in RULES.values()}
    assert not set(ALIASES) & set(RULES)  # an alias never hides an op
    missing = {name for names in MISSING.values() for name in names}
    assert not missing & (set(RULES) | set(ALIASES))  # once cnnc has it, it is no longer missing
    aliases = [alias for rule in RULES.values() for alias in rule.aliases]
    assert len(aliases) == len(set(aliases))  # no alias names two ops
