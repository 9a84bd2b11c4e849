"""Block-argument expressions: substitution, arithmetic, comparisons, conditionals and refusals.

The arithmetic properties compare with Python's own operators on the same numbers: the evaluator
is a whitelist over Python's parser, so it must agree wherever it accepts.
"""

from __future__ import annotations

import operator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnc.spec.expr import ExprError, arg_names, has_args, substitute

SETTINGS = settings(max_examples=40, deadline=None)
small = st.integers(-50, 50)


# --- substitution ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [3, 2.5, True, False, None, [3, 3], [[1, 2], [0, 1]], "same",
                                   {"out": 4}])
def test_a_whole_argument_keeps_its_value_and_type(value):
    for text in ("$x", "  $x ", "$x\n"):
        got = substitute(text, {"x": value})
        assert got == value and type(got) is type(value)


def test_a_whole_argument_is_the_same_object_not_a_copy_or_a_string():
    ks = [3, 5]
    assert substitute("$ks", {"ks": ks}) is ks
    assert substitute("$n", {"n": 7}) == 7 and substitute("$n", {"n": 7}) != "7"


def test_substitution_recurses_into_lists_and_mappings():
    value = {"kernel": ["$k", 1], "stride": "$s * 2", "nested": [{"out": "$k + 1"}], "op": "conv"}
    assert substitute(value, {"k": 3, "s": 2}) == {
        "kernel": [3, 1], "stride": 4, "nested": [{"out": 4}], "op": "conv"}


@pytest.mark.parametrize("value", [3, 2.5, None, True, "conv", "same", "", ["a", 1]])
def test_values_without_a_dollar_are_left_alone(value):
    assert substitute(value, {}) == value
    assert not has_args(value)


def test_arg_names_lists_every_reference_in_order():
    assert arg_names({"a": "$x + $y", "b": ["$z", 3, {"c": "$x"}], "d": 4}) == ["x", "y", "z", "x"]
    assert arg_names("no args") == [] and arg_names(5) == []
    assert has_args("$x") and has_args("1 + $x") and not has_args("x") and not has_args(3)


# --- arithmetic --------------------------------------------------------------------------------

BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "//": operator.floordiv,
          "%": operator.mod}


@SETTINGS
@given(a=small, b=small, op=st.sampled_from(sorted(BINARY)))
def test_integer_arithmetic_matches_python(a, b, op):
    if op in ("//", "%") and b == 0:
        with pytest.raises(ExprError):
            substitute(f"$a {op} $b", {"a": a, "b": b})
        return
    got = substitute(f"$a {op} $b", {"a": a, "b": b})
    assert got == BINARY[op](a, b) and type(got) is int


@SETTINGS
@given(a=small, b=small, c=small)
def test_precedence_and_parentheses_follow_python(a, b, c):
    args = {"a": a, "b": b, "c": c}
    assert substitute("$a + $b * $c", args) == a + b * c
    assert substitute("($a + $b) * $c", args) == (a + b) * c
    assert substitute("-$a - -$b", args) == -a - -b
    assert substitute("$a * 2 ** 3", args) == a * 8


@SETTINGS
@given(a=small, b=small.filter(bool))
def test_true_division_is_an_int_when_exact_and_a_float_otherwise(a, b):
    got = substitute("$a / $b", {"a": a, "b": b})
    if a % b == 0:
        assert got == a // b and type(got) is int  # `$c / 2` can be a channel count
    else:
        assert got == a / b and type(got) is float


@pytest.mark.parametrize("text, args, want", [
    ("$a / $b", {"a": 6.0, "b": 3}, 2.0),      # a float operand keeps a float
    ("$a / $b", {"a": 6, "b": 1.5}, 4.0),
    ("$a * 0.5", {"a": 64}, 32.0),
    ("$x ** 0.5", {"x": 16}, 4.0),
])
def test_float_operands_give_floats(text, args, want):
    got = substitute(text, args)
    assert got == want and type(got) is float


@pytest.mark.parametrize("text, args", [
    ("$a / 0", {"a": 1}), ("$a // $b", {"a": 1, "b": 0}), ("$a % 0", {"a": 3}),
    ("$a + $xs", {"a": 1, "xs": [1]}), ("$s - 1", {"s": "same"}),
    ("2 ** $n", {"n": 65}), ("2 ** -$n", {"n": 65}),
])
def test_errors_in_arithmetic_are_expr_errors(text, args):
    with pytest.raises(ExprError):
        substitute(text, args)


def test_exponents_up_to_64_are_fine_and_results_stay_below_2_to_the_31():
    assert substitute("2 ** $n // 2 ** 40", {"n": 64}) == 2 ** 24
    assert substitute("2 ** 31 - 1 + $n", {"n": 0}) == 2 ** 31 - 1
    with pytest.raises(ExprError, match="larger than 2,147,483,647"):
        substitute("2 ** 31 + $n", {"n": 0})


@pytest.mark.parametrize("text", [
    "$n ** 64 ** 64", "(($n ** 64) ** 64) ** 64", "$n * 10 ** 30", "$f * 1e308 * 10",
    "$n * 99999999999999999999999", "$n + 1e400",
])
def test_no_intermediate_grows_past_2_to_the_64(text):
    with pytest.raises(ExprError, match="too large"):
        substitute(text, {"n": 10, "f": 1.0})


@pytest.mark.parametrize("text, args", [
    ("$w * 1000000000", {"w": "ab"}), ("$w * 2", {"w": "w"}), ("2 * $w", {"w": "w"}),
    ("$w + 'x'", {"w": "w"}), ("$xs * 3", {"xs": [1]}), ("$b + 1", {"b": True}),
    ("-$w", {"w": "w"}), ("$w < 'z'", {"w": "a"}), ("$n > None", {"n": 1}),
])
def test_arithmetic_and_ordering_take_numbers_only(text, args):
    with pytest.raises(ExprError, match="number"):
        substitute(text, args)


def test_strings_compare_equal_and_pick_branches():
    assert substitute("$pad == 'same'", {"pad": "same"}) is True
    assert substitute("'same' if $k > 1 else 'valid'", {"k": 3}) == "same"


def test_an_expression_is_short():
    with pytest.raises(ExprError, match="at most 400 characters"):
        substitute("$a" + " + 1" * 200, {"a": 1})


# --- comparisons and logic ---------------------------------------------------------------------

COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}


@SETTINGS
@given(a=small, b=small, c=small, op=st.sampled_from(sorted(COMPARE)),
       op2=st.sampled_from(sorted(COMPARE)))
def test_comparisons_and_chains_match_python(a, b, c, op, op2):
    args = {"a": a, "b": b, "c": c}
    assert substitute(f"$a {op} $b", args) is COMPARE[op](a, b)
    assert substitute(f"$a {op} $b {op2} $c", args) is (COMPARE[op](a, b) and COMPARE[op2](b, c))


@SETTINGS
@given(p=st.booleans(), q=st.booleans(), i=st.integers(0, 3))
def test_boolean_logic_gives_bools(p, q, i):
    args = {"p": p, "q": q, "i": i}
    assert substitute("$p and $q", args) is (p and q)
    assert substitute("$p or $q", args) is (p or q)
    assert substitute("not $p", args) is (not p)
    assert substitute("$i == 0 and $p", args) is (i == 0 and p)


def test_and_or_give_a_bool_not_an_operand():
    assert substitute("$a and $b", {"a": 3, "b": 4}) is True
    assert substitute("$a or $b", {"a": 0, "b": 0}) is False


@SETTINGS
@given(i=st.integers(0, 4), stride=st.integers(1, 3))
def test_conditionals_pick_a_branch(i, stride):
    args = {"i": i, "stride": stride}
    assert substitute("$stride if $i == 0 else 1", args) == (stride if i == 0 else 1)
    assert substitute("$stride * 2 if $i > 1 else $i", args) == (
        stride * 2 if i > 1 else i)


def test_a_conditional_keeps_the_branch_type():
    args = {"c": True, "ks": [3, 3]}
    assert substitute("$ks if $c else 1", args) == [3, 3]
    assert substitute("$ks if not $c else 1", args) == 1


# --- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["$nope", " $nope ", "$nope + 1", "$a * $nope",
                                  "1 if $nope else 2", "$a < $nope", "not $nope"])
def test_unknown_names_raise_with_the_name(text):
    with pytest.raises(ExprError) as info:
        substitute(text, {"a": 1})
    assert info.value.name == "nope"
    assert "$nope" in str(info.value)


@pytest.mark.parametrize("text", [
    "abs($x)", "$x.real", "$xs[0]", "$xs[0:1]", "[$x, 1]", "($x, 1)", "{$x: 1}", "{$x}",
    "($x for _ in 1)", "lambda: $x", "f'{$x}'", "($y := $x)", "$x @ $x", "$x << 1", "$x & 1",
    "~$x", "$x in $xs", "$x is $x", "__import__('os') and $x",
])
def test_calls_attributes_subscripts_and_other_syntax_are_refused(text):
    with pytest.raises(ExprError) as info:
        substitute(text, {"x": 2, "xs": [1, 2], "y": 0})
    assert info.value.name is None


@pytest.mark.parametrize("text", ["$", "$ + 1", "$1 + 1", "$$x", "$x$y", "$x + y", "2 * y + $x",
                                  "$-x"])
def test_dollar_misuse_is_refused(text):
    with pytest.raises(ExprError):
        substitute(text, {"x": 2, "y": 3})


@pytest.mark.parametrize("text", ["x + $x", "$x * x", "$x if x else 0"])
def test_a_bare_name_is_refused_even_next_to_its_dollar_form(text):
    with pytest.raises(ExprError, match="with a `\\$`"):
        substitute(text, {"x": 2})


@pytest.mark.parametrize("text", ["$x +", "$x if", "($x", "$x $x", "$x = 1", "1 +* $x"])
def test_syntax_errors_are_expr_errors(text):
    with pytest.raises(ExprError, match="cannot parse"):
        substitute(text, {"x": 1})


@pytest.mark.parametrize("text", ["-$xs", "$xs < 1", "$s > 2"])
def test_type_errors_outside_binary_operators_are_expr_errors(text):
    with pytest.raises(ExprError):
        substitute(text, {"xs": [1, 2], "s": "same"})


# --- functions ---------------------------------------------------------------------------------

@SETTINGS
@given(a=small, b=small, c=small)
def test_min_and_max_match_python(a, b, c):
    args = {"a": a, "b": b, "c": c}
    assert substitute("min($a, $b)", args) == min(a, b)
    assert substitute("max($a, $b, $c) - min($c, 0)", args) == max(a, b, c) - min(c, 0)


@SETTINGS
@given(x=st.floats(-1e6, 1e6, allow_nan=False))
def test_ceil_floor_and_round_half_up_give_ints(x):
    import math
    for name, want in (("ceil", math.ceil(x)), ("floor", math.floor(x)),
                       ("round", math.floor(x + 0.5))):
        got = substitute(f"{name}($x)", {"x": x})
        assert got == want and type(got) is int


def test_round_takes_halves_up_as_architecture_tables_do():
    assert [substitute("round($x)", {"x": x}) for x in (0.5, 1.5, 2.5, -0.5)] == [1, 2, 3, 0]


def test_log2_is_an_int_for_powers_of_two():
    assert substitute("log2($n)", {"n": 64}) == 6 and type(substitute("log2($n)", {"n": 64})) is int
    assert substitute("log2($n)", {"n": 10}) == pytest.approx(3.321928094887362)
    with pytest.raises(ExprError, match="> 0"):
        substitute("log2($n)", {"n": 0})


def test_divisible_is_mobilenets_channel_rule():
    # MobileNet v2 at width 0.75: torchvision's channels for 32, 16, 24, 32, 64, 96, 160, 320
    widths = [32, 16, 24, 32, 64, 96, 160, 320]
    assert [substitute("divisible($c * 0.75, 8)", {"c": c}) for c in widths] == [
        24, 16, 24, 24, 48, 72, 120, 240]
    assert substitute("divisible($c, 8)", {"c": 3}) == 8  # never below the divisor


@pytest.mark.parametrize("text, match", [
    ("min($a)", "min takes 2 or more arguments, got 1"), ("round($a, 2)", "round takes 1 argument"),
    ("divisible($a)", "divisible takes 2 arguments"), ("min(a=$a, b=1)", "the functions are"),
    ("max(*$xs)", "the functions are"), ("ceil($s)", "ceil needs numbers"),
    ("floor($a * 1e30)", "too large"),
])
def test_functions_refuse_what_they_cannot_take(text, match):
    with pytest.raises(ExprError, match=match):
        substitute(text, {"a": 3, "s": "x", "xs": [1, 2]})


def test_tensor_properties_are_read_through_the_callers_reader():
    from cnnc.spec.expr import tensor_property, tensor_uses
    shapes = {"in": (8, 20, 30), "skip": (4, 50)}
    read = []

    def tensor(name, text):
        read.append((name, text))
        return shapes[name]
    assert substitute("$in.channels * $k", {"k": 2}, tensor) == 16
    assert substitute("$skip.length + $in.width", {}, tensor) == 80
    assert substitute("$in.shape", {}, tensor) == [8, 20, 30]
    assert read[0] == ("in", "$in.channels * $k")
    assert substitute("$k", {"k": 2}, tensor) == 2 and len(read) == 4  # no read without `.`
    assert arg_names("$in.channels + $k") == ["k"]
    assert tensor_uses(["$in.channels + $k", {"a": "$skip.length"}]) == [
        ("in", "channels"), ("skip", "length")]
    assert tensor_property((5,), "v", "channels") == 5
    with pytest.raises(ExprError, match="it has `channels`, `shape`, not `height`"):
        tensor_property((5,), "v", "height")
    with pytest.raises(ExprError, match="`depth`, `height`, `width`"):
        tensor_property((1, 2, 3, 4), "v", "length")
    with pytest.raises(ExprError, match="no property `widht`") as info:
        substitute("$in.widht", {}, tensor)
    assert info.value.hint == "did you mean 'width'?"
    with pytest.raises(ExprError, match="a property is read from a tensor"):
        substitute("$in.shape.size", {}, tensor)
