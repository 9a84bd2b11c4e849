"""`cnnc schema`: a JSON Schema that accepts every zoo spec and catches the common mistakes."""

from __future__ import annotations

import json

import pytest
import yaml

import cnnc
from cnnc.cli import main
from cnnc.spec.load import load_yaml
from cnnc.spec.schema import json_schema
from cnnc.zoo import zoo_dir, zoo_names

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json_schema())


@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_spec_validates(validator, name):
    # read as cnnc reads it (and as editors' YAML 1.2 servers do): `1e-6` is a number there,
    # where PyYAML's YAML 1.1 yaml.safe_load makes it a string
    spec, _ = load_yaml((zoo_dir() / f"{name}.yaml").read_text(), f"{name}.yaml")
    assert list(validator.iter_errors(spec)) == []


@pytest.mark.parametrize("layer, path, message", [
    ({"op": "convv", "out": 3, "kernel": 3}, ["op"], "'convv' is not one of ['adaptive_avgpool'"),
    ({"op": "conv", "out": 3, "kernal": 3}, [], "('kernal' was unexpected)"),
    ({"op": "conv", "out": 3, "kernal": 3}, [], "'kernel' is a required property"),
    ({"op": "conv", "out": "three", "kernel": 3}, ["out"], "'three' does not match"),
    ({"op": "conv", "out": -1, "kernel": 3}, ["out"], "-1 is less than or equal to the minimum"),
    ({"kernel": 3}, [], "'op' is a required property"),
])
def test_mistakes_are_named_at_the_attribute_not_the_union(validator, layer, path, message):
    """An editor shows these messages: they name the attribute of the layer's own op."""
    spec = {"name": "t", "input": [3, 8, 8], "layers": [layer]}
    said = {(tuple(e.absolute_path), e.message) for e in validator.iter_errors(spec)}
    assert any(p == ("layers", 0, *path) and message in m for p, m in said), said
    assert not any("is not valid under any of the given schemas" in m for _, m in said)


def test_expressions_are_accepted_wherever_a_value_is(validator):
    layer = {"op": "conv", "out": "$w * 2", "kernel": "$k", "padding": "same", "if": "$i > 0"}
    assert list(validator.iter_errors({"name": "t", "input": [3, 8, 8], "layers": [layer]})) == []
    # the op itself, as the compiler takes it: `op: $act` with `act: relu` in a block
    spec = {"name": "t", "input": [3, 8, 8], "layers": [{"block": "b", "act": "sigmoid"}],
            "blocks": {"b": {"args": {"act": "relu"}, "layers": [{"op": "$act"}]}}}
    assert list(validator.iter_errors(spec)) == []
    assert cnnc.compile_text(yaml.safe_dump(spec)).layers == ["b_1.sigmoid_1"]


@pytest.mark.parametrize("padding, valid", [
    ([["$d", 0], [0, "$d"]], True), (["$p", 1], True), ([["$d", -1]], False), ([["three"]], False)])
def test_list_elements_may_be_expressions_and_the_rest_is_still_checked(validator, padding, valid):
    layer = {"op": "conv", "out": 4, "kernel": 2, "padding": padding}
    errors = list(validator.iter_errors({"name": "t", "input": [3, 8, 8], "layers": [layer]}))
    assert (errors == []) == valid, errors


def test_cli_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "cnnc spec" and "LayerEntry" in schema["$defs"]
