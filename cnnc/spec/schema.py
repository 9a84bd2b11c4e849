"""Pydantic models of the spec language: the document, block definitions and block calls.

Op layers are the union of the op rules' attribute models, discriminated on `op`; they are
validated one layer instance at a time in `expand`, after block arguments are substituted.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, TypeAdapter

from cnnc.ops import RULES

Scalar = int | float | bool | str
ArgValue = Scalar | list[Any] | None

RESERVED_NAMES = ("in", "input")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class BlockDef(_Strict):
    """A reusable sub-graph. Inside it, `in` names the block's input and `$arg` its arguments."""

    doc: str | None = Field(None, description="what the block is, for readers and diagrams")
    inputs: list[str] = Field(
        default_factory=lambda: ["in"], min_length=1,
        description="names of the block's inputs, bound in order to the instance's `from`")
    args: dict[str, ArgValue] = Field(
        default_factory=dict,
        description="argument defaults, which may use earlier arguments (`$channels // 2`); "
                    "`null` makes an argument required")
    layers: list[dict[str, Any]] = Field(min_length=1)
    outputs: list[str] | dict[str, str] = Field(
        default_factory=list,
        description="values besides the last layer that other layers read as "
                    "`<instance>.<name>`: body ids, or a mapping name -> body id")

    def named_outputs(self) -> list[tuple[str, str, str | int]]:
        """(name, body id, key of its YAML position) of each named output."""
        if isinstance(self.outputs, dict):
            return [(k, v, k) for k, v in self.outputs.items()]
        return [(v.rpartition(".")[2], v, j) for j, v in enumerate(self.outputs)]


class SpecDoc(_Strict):
    """A whole spec file."""

    name: str = Field(description="model name, shown in reports")
    doc: str | None = Field(None, description="what the model is and which definition it follows")
    input: list[PositiveInt] = Field(
        min_length=1, max_length=4,
        description="input shape without the batch axis: [C, L], [C, H, W], [C, D, H, W] or [F]")
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    layers: list[dict[str, Any]] = Field(min_length=1)
    outputs: list[str] | None = Field(
        None, description="ids of the output layers; default: the last layer")


class BlockCall(BaseModel):
    """An instance of a block; keys other than these are the block's arguments."""

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)

    block: str
    id: str | int | None = None
    from_: str | int | list[str | int] | None = Field(None, alias="from")
    if_: bool | str = Field(True, alias="if", description="expression; false skips the layer")
    repeat: NonNegativeInt | str = Field(
        1, description="copies stacked in sequence, ids `<id>.0`, `<id>.1`, ...; `$i` in the "
                       "arguments is the copy index")
    training_only: bool = False


LayerUnion = Annotated[Union[tuple(rule.attrs for rule in RULES.values())],  # noqa: UP007
                       Field(discriminator="op")]
LAYER = TypeAdapter(LayerUnion)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a spec file, for editors; any attribute, and any element of a list
    attribute, may be a `$` expression.

    A layer entry picks its op's schema by `if`/`then` on `op` (and BlockCall on `block`), so a
    validator names the attribute at fault inside that op, not "is not valid under any of the
    given schemas" for the whole union.
    """
    defs = TypeAdapter(LayerUnion | BlockCall).json_schema(by_alias=True).pop("$defs", {})
    schema = SpecDoc.model_json_schema(by_alias=True)
    defs = schema.setdefault("$defs", {}) | defs
    defs["Expression"] = {"type": "string", "pattern": r"\$",
                          "description": "a block argument `$name` or an expression over them"}
    for model in defs.values():
        for key, prop in model.get("properties", {}).items():
            if key not in ("op", "block", "id", "from"):
                model["properties"][key] = _or_expression(_items_or_expressions(prop))
    defs["LayerEntry"] = {
        "type": "object", "description": "a layer (`op:`) or a block instance (`block:`)",
        "if": {"required": ["block"]}, "then": {"$ref": "#/$defs/BlockCall"},
        "else": {"required": ["op"],
                 # an op may be an argument (`op: $act`): then its attributes are checked
                 # once the block is expanded
                 "properties": {"op": {"if": {"type": "string", "pattern": r"\$"},
                                       "then": _EXPRESSION, "else": {"enum": sorted(RULES)},
                                       "description": "the layer's op"}},
                 "allOf": [{"if": {"properties": {"op": {"const": op}}, "required": ["op"]},
                            "then": {"$ref": f"#/$defs/{rule.attrs.__name__}"}}
                           for op, rule in sorted(RULES.items())]}}
    schema["$defs"] = defs
    schema["properties"]["layers"]["items"] = {"$ref": "#/$defs/LayerEntry"}
    schema["$defs"]["BlockDef"]["properties"]["layers"]["items"] = {"$ref": "#/$defs/LayerEntry"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cnnc spec"
    return schema


_EXPRESSION = {"$ref": "#/$defs/Expression"}


def _or_expression(prop: dict[str, Any]) -> dict[str, Any]:
    """`prop`, or an expression; where `prop` takes no strings, a string must be an expression
    and anything else is checked by `prop` alone, so its own message shows."""
    described = {k: prop[k] for k in ("description", "title") if k in prop}
    if _admits_strings(prop):
        return {"anyOf": [prop, _EXPRESSION], **described}
    return {"if": {"type": "string"}, "then": _EXPRESSION, "else": prop, **described}


def _items_or_expressions(schema: Any) -> Any:
    """`schema` with every list element free to be an expression too (`padding: [[$d, 0]]`),
    at any depth."""
    if isinstance(schema, list):
        return [_items_or_expressions(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _items_or_expressions(v) for k, v in schema.items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _or_expression(out["items"])
    if "prefixItems" in out:
        out["prefixItems"] = [_or_expression(s) for s in out["prefixItems"]]
    return out


def _admits_strings(schema: Any) -> bool:
    if isinstance(schema, list):
        return any(_admits_strings(s) for s in schema)
    if not isinstance(schema, dict):
        return False
    if schema.get("type") == "string" or any(
            isinstance(v, str) for v in [schema.get("const"), *schema.get("enum", [])]):
        return True
    return any(_admits_strings(v) for v in schema.values() if isinstance(v, (dict, list)))
