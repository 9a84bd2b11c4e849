"""`cnnc schema`: a JSON Schema that accepts every zoo spec and catches the common mistakes."""

from __future__ import annotations

import json

import pytest
import yaml

from cnnc.cli import main
from cnnc.spec.schema import json_schema
from cnnc.zoo import zoo_dir, zoo_names

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json_schema())


@pytest.mark.parametrize("name", zoo_names())
def test_every_zoo_spec_validates(validator, name):
    spec = yaml.safe_load((zoo_dir() / f"{name}.yaml").read_text())
    assert list(validator.iter_errors(spec)) == []


@pytest.mark.parametrize("layer", [
    {"op": "convv", "out": 3, "kernel": 3},
    {"op": "conv", "out": 3, "kernal": 3},
    {"op": "conv", "out": "three", "kernel": 3},
])
def test_mistakes_are_flagged(validator, layer):
    assert list(validator.iter_errors({"name": "t", "input": [3, 8, 8], "layers": [layer]}))


def test_cli_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "cnnc spec" and "LayerEntry" in schema["$defs"]
