"""Block-argument expressions: `$growth * 4`, `$stride if $i == 0 else 1`.

A small evaluator over Python's own parser with a whitelist of node types: integer and float
arithmetic, comparisons, `and`/`or`/`not`, `a if cond else b` and the functions of FUNCTIONS
(the ones architecture tables use). Names must be block arguments; `$in.channels` (a block
input, or `$input` at the top level, and one of PROPERTIES) reads the shape of a tensor, which
the caller supplies on demand. Nothing is ever passed to `eval`.

Arithmetic is on numbers only (`"$w * 2"` with a string `w` is an error, not `'ww'`), and every
value stays small (cnnc/spec/limits.py): an expression is at most MAX_EXPRESSION characters, no
intermediate passes MAX_INTERMEDIATE and no result MAX_INT, so none can take long or take memory.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from cnnc.errors import did_you_mean
from cnnc.spec.limits import MAX_EXPRESSION, MAX_INT, MAX_INTERMEDIATE

_ARG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME_PREFIX = "__arg_"  # `$x` parses as the name __arg_x, so a bare `x` can be told apart
_WHOLE_ARG = re.compile(r"\s*\$([A-Za-z_][A-Za-z0-9_]*)\s*")
_USE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?")

# what `$in.<property>` reads from a tensor (C, *spatial); the spatial names depend on the rank
PROPERTIES = ("channels", "length", "depth", "height", "width", "shape")
_SPATIAL = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}

TensorShape = Callable[[str, str], tuple[int, ...]]  # (input name, expression text) -> shape


class ExprError(Exception):
    """A bad expression; `name` is set when the cause is an unknown argument. `kind` is the
    diagnostic's kind when it is not `expression` (a shape read before its layer exists)."""

    def __init__(self, message: str, name: str | None = None, kind: str = "expression",
                 hint: str | None = None):
        super().__init__(message)
        self.name, self.kind, self.hint = name, kind, hint


def _true_div(a: Any, b: Any) -> int | float:
    q = a / b
    return int(q) if isinstance(a, int) and isinstance(b, int) and a % b == 0 else q


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Div: _true_div,
           ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt,
            ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}


def _divisible(value: float, divisor: int) -> int:
    """`value` rounded to the nearest multiple of `divisor`, at least `divisor` and never more
    than 10% below `value`: the channel rule of MobileNet v2/v3 and EfficientNet
    (`_make_divisible` in their reference code)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _log2(x: float) -> int | float:
    if x <= 0:
        raise ExprError(f"log2 needs a number > 0, got {x!r}")
    exact = isinstance(x, int) and x & (x - 1) == 0
    return x.bit_length() - 1 if exact else math.log2(x)


# name: (fewest arguments, most (None: any), function); arguments and results are numbers
FUNCTIONS = {
    "min": (2, None, min), "max": (2, None, max),
    "round": (1, 1, lambda x: math.floor(x + 0.5)),  # half up, as tables round, not to even
    "ceil": (1, 1, math.ceil), "floor": (1, 1, math.floor), "log2": (1, 1, _log2),
    "divisible": (2, 2, _divisible),
}


def has_args(value: Any) -> bool:
    return isinstance(value, str) and "$" in value


def mentions_args(value: Any) -> bool:
    """Whether a YAML value has a `$` anywhere in it, so that `substitute` has work to do."""
    if isinstance(value, str):
        return "$" in value
    if isinstance(value, list):
        return any(map(mentions_args, value))
    if isinstance(value, dict):
        return any(map(mentions_args, value.values()))
    return False


def arg_names(value: Any) -> list[str]:
    """Every argument `$name` used in a YAML value (not the tensors of `$in.channels`)."""
    return [name for name, prop in _uses(value) if not prop]


def tensor_uses(value: Any) -> list[tuple[str, str]]:
    """Every `$name.property` used in a YAML value, as (name, property)."""
    return [(name, prop) for name, prop in _uses(value) if prop]


def _uses(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, list):
        return [n for v in value for n in _uses(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _uses(v)]
    return _USE.findall(value) if isinstance(value, str) else []


def tensor_property(shape: tuple[int, ...], name: str, prop: str) -> int | list[int]:
    """`$name.prop` of a tensor of `shape` (C, *spatial); `channels` of a vector is its size."""
    if prop == "shape":
        return list(shape)
    if prop == "channels":
        return shape[0]
    axes = _SPATIAL.get(len(shape) - 1, ())
    if prop not in axes:
        has = ", ".join(f"`{p}`" for p in ("channels", *axes, "shape"))
        raise ExprError(f"`${name}` is {'x'.join(map(str, shape))}: it has {has}, not `{prop}`")
    return shape[1 + axes.index(prop)]


def substitute(value: Any, args: dict[str, Any], tensor: TensorShape | None = None) -> Any:
    """Replace `$name` references in a YAML value (recursively in lists and mappings).

    A string that is exactly `$name` takes the argument's value and type (an int, a list, ...);
    any other string with `$` is evaluated as an expression. `tensor(name, text)` gives the
    shape of the tensor `$name` where `text` reads one of its PROPERTIES.
    """
    if not isinstance(value, str):  # the common case first: compile speed
        if isinstance(value, list):
            return [substitute(v, args, tensor) for v in value]
        if isinstance(value, dict):
            return {k: substitute(v, args, tensor) for k, v in value.items()}
        return value
    if "$" not in value:
        return value
    whole = _WHOLE_ARG.fullmatch(value)
    if whole:
        return _lookup(whole.group(1), args)
    result = _evaluate(_parse(value), args, tensor, value)
    if _is_number(result) and abs(result) > MAX_INT:
        raise ExprError(f"`{value}` is {result:,}, larger than {MAX_INT:,}")
    return result


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _small(value: Any, text: str) -> Any:
    """`value`, refused when it is a number too large (or not finite) to be a size or a count."""
    if _is_number(value) and not (abs(value) <= MAX_INTERMEDIATE):  # `not <=` catches nan too
        raise ExprError(f"{text} is too large")
    return value


def _lookup(name: str, args: dict[str, Any]) -> Any:
    if name not in args:
        raise ExprError(f"unknown argument `${name}`", name)
    return args[name]


@cache
def _parse(text: str) -> ast.expr:
    if len(text) > MAX_EXPRESSION:
        raise ExprError(f"an expression may have at most {MAX_EXPRESSION} characters; this one has "
                        f"{len(text)}")
    source = _ARG.sub(lambda m: _NAME_PREFIX + m.group(1), text)
    if "$" in source:
        raise ExprError(f"`$` must be followed by an argument name in `{text}`")
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        raise ExprError(f"cannot parse `{text}` as an expression") from None
    functions = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp,
                                 ast.Constant, ast.Name, ast.Load, ast.And, ast.Or, ast.Call,
                                 ast.Attribute, *_BINARY, *_COMPARE, *_UNARY)):
            raise ExprError(f"`{text}`: only arithmetic (+ - * / // % **), comparisons, and/or/not, "
                            f"`a if cond else b` and {', '.join(FUNCTIONS)} are allowed")
        if isinstance(node, ast.Call):
            _check_call(node, text)
        elif isinstance(node, ast.Attribute):
            _check_property(node, text)
        elif id(node) in functions:
            continue  # the function's name, checked with its call
        elif isinstance(node, ast.Name) and not node.id.startswith(_NAME_PREFIX):
            raise ExprError(f"`{text}`: write arguments with a `$` (`${node.id}`)")
        if isinstance(node, ast.Constant):
            _small(node.value, f"the number in `{text}`")
    return tree


def _check_call(node: ast.Call, text: str) -> None:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in FUNCTIONS or node.keywords or any(isinstance(a, ast.Starred)
                                                    for a in node.args):
        raise ExprError(f"`{text}`: the functions are {', '.join(FUNCTIONS)}, called with "
                        "arguments in order")
    fewest, most, _ = FUNCTIONS[name]
    if len(node.args) < fewest or (most is not None and len(node.args) > most):
        wanted = str(fewest) if fewest == most else f"{fewest} or more"
        raise ExprError(f"`{text}`: {name} takes {wanted} argument{'s' * (wanted != '1')}, "
                        f"got {len(node.args)}")


def _check_property(node: ast.Attribute, text: str) -> None:
    if not (isinstance(node.value, ast.Name) and node.value.id.startswith(_NAME_PREFIX)):
        raise ExprError(f"`{text}`: a property is read from a tensor, as in `$in.channels`")
    if node.attr not in PROPERTIES:
        raise ExprError(f"`{text}`: a tensor has no property `{node.attr}`; it has "
                        f"{', '.join(PROPERTIES)}", hint=did_you_mean(node.attr, PROPERTIES))


def _evaluate(node: ast.expr, args: dict[str, Any], tensor: TensorShape | None,
              text: str) -> Any:
    if isinstance(node, ast.Call):
        values = [_evaluate(a, args, tensor, text) for a in node.args]
        name = node.func.id
        for v in values:
            if not _is_number(v):
                raise ExprError(f"{name} needs numbers, got {_typed(v)}")
        return _small(FUNCTIONS[name][2](*values), f"{name}{tuple(values)}")
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return _lookup(node.id[len(_NAME_PREFIX):], args)
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, args, tensor, text)
        right = _evaluate(node.right, args, tensor, text)
        symbol = _symbol(node.op)
        if not (_is_number(left) and _is_number(right)):
            raise ExprError(f"`{symbol}` needs two numbers, got {_typed(left)} and "
                            f"{_typed(right)}")
        if isinstance(node.op, ast.Pow) and abs(right) > 64:
            raise ExprError("exponent too large")
        try:
            return _small(_BINARY[type(node.op)](left, right), f"{left!r} {symbol} {right!r}")
        except (ZeroDivisionError, OverflowError) as e:
            raise ExprError(f"cannot compute {left!r} {symbol} {right!r}: {e}") from None
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(node.operand, args, tensor, text)
        if not isinstance(node.op, ast.Not) and not _is_number(operand):
            raise ExprError(f"a sign needs a number, got {_typed(operand)}")
        return _UNARY[type(node.op)](operand)
    if isinstance(node, ast.BoolOp):
        values = (_evaluate(v, args, tensor, text) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, args, tensor, text)
        for op, right_node in zip(node.ops, node.comparators):
            right = _evaluate(right_node, args, tensor, text)
            ordered = not isinstance(op, (ast.Eq, ast.NotEq))
            if ordered and not (_is_number(left) and _is_number(right)):
                raise ExprError(f"cannot order {_typed(left)} and {_typed(right)}: `<` `<=` `>` "
                                "`>=` compare numbers")
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.IfExp):
        chosen = node.body if _evaluate(node.test, args, tensor, text) else node.orelse
        return _evaluate(chosen, args, tensor, text)
    if isinstance(node, ast.Attribute):
        name = node.value.id[len(_NAME_PREFIX):]
        if tensor is None:
            raise ExprError(f"`{text}`: no tensor `${name}` here", name)
        return tensor_property(tensor(name, text), name, node.attr)
    raise AssertionError(f"unexpected node {node!r}")  # _parse admits nothing else


def _typed(value: Any) -> str:
    kind = ("a number" if _is_number(value) else "a bool" if isinstance(value, bool) else
            "a string" if isinstance(value, str) else "a list" if isinstance(value, list) else
            "a mapping" if isinstance(value, dict) else "nothing" if value is None else
            type(value).__name__)
    return f"{_short(value)} ({kind})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _symbol(op: ast.operator) -> str:
    return {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.FloorDiv: "//", ast.Mod: "%",
            ast.Div: "/", ast.Pow: "**"}[type(op)]
