"""Reports of a network small enough to check by hand, then pinned byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnnc
from cnnc.cli import main

HERE = Path(__file__).parent
SPEC = HERE / "tiny.yaml"


@pytest.fixture(scope="module")
def tiny():
    return cnnc.compile_file(SPEC)


def test_hand_computed_figures(tiny):
    t = tiny.totals
    # conv 2->2, 3x3, no bias: 2*2*9 = 36; BN: 2 + 2 (+ 4 running stats); fc 32->3: 96 + 3
    assert (t.params, t.trainable_params, t.buffers) == (36 + 4 + 99, 139, 4)
    # conv: 2*8*8 outputs x 2*9 = 2304; fc: 32 x 3 = 96
    assert (t.macs, t.flops) == (2304 + 96, 2 * 2400)
    # float32 outputs: 4 maps of 2x8x8, pool and flatten 32 each, fc 3
    assert t.activation_bytes == 4 * (4 * 128 + 32 + 32 + 3)
    # peak: the input (512 B) stays alive for the add; conv, bn, relu follow one another
    assert t.peak_activation_bytes == 3 * 512
    rf = {n["id"]: n["receptive_field"] for n in tiny.to_json()["nodes"]}
    assert rf["conv"] == {"size": [3, 3], "jump": [1, 1], "start": [0, 0]}
    assert rf["pool"] == {"size": [4, 4], "jump": [2, 2], "start": [0.5, 0.5]}
    assert rf["flat"] == {"size": [10, 10], "jump": [8, 8], "start": [3.5, 3.5]}


def test_json_is_pinned(tiny):
    assert json.dumps(tiny.to_json(), indent=2) + "\n" == (HERE / "tiny.json").read_text()


def test_dot_is_pinned(tiny):
    assert tiny.to_dot() == (HERE / "tiny.dot").read_text()


def test_json_document_has_the_promised_keys(tiny):
    doc = tiny.to_json()
    assert doc["format"] == "cnnc.compile" and doc["version"] == 1
    assert {"name", "input_shape", "output_shape", "outputs", "totals", "nodes"} <= doc.keys()
    assert {"params", "trainable_params", "buffers", "macs", "flops", "activation_bytes",
            "peak_activation_bytes"} <= doc["totals"].keys()
    for node in doc["nodes"]:
        assert {"id", "op", "inputs", "output_shape", "params", "macs",
                "receptive_field"} <= node.keys()


@pytest.mark.parametrize("model", ["densenet121", "segnet"])
def test_no_two_nodes_of_the_json_share_a_list_or_a_mapping(model):
    """The document is built from memos (one attribute dump per block entry, one field per
    run of pointwise layers, one call-site list per block copy); a caller editing one node
    must not edit another."""
    seen: set[int] = set()

    def walk(value):
        if isinstance(value, (list, dict)):
            assert id(value) not in seen, value
            seen.add(id(value))
            for v in value.values() if isinstance(value, dict) else value:
                walk(v)

    doc = cnnc.compile_file(model).to_json()
    walk(doc)
    assert len(seen) > 8 * len(doc["nodes"])


def test_outputs_are_deterministic_across_runs(tiny):
    again = cnnc.compile_file(SPEC)
    assert again.to_dot() == tiny.to_dot() and again.to_json() == tiny.to_json()


def test_table_lists_every_layer_and_the_totals(tiny, capsys):
    assert main(["compile", str(SPEC)]) == 0
    out = capsys.readouterr().out
    for node in tiny.layers:
        assert f"\n{node} " in out
    assert "parameters            139" in out
    assert "FLOPs (2 x MACs)    4,800  (4.80 K)" in out
    assert "peak            1,536 B  (1.50 KiB)" in out


def test_training_only_layers_are_marked_in_the_table(capsys):
    assert main(["compile", "googlenet_aux"]) == 0
    out = capsys.readouterr().out
    assert "aux1.fc2*" in out and "* training only" in out
