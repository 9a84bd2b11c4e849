"""`cnnc run --train --device gpu` as a user meets it: the short MNIST-1D run of
tests/cnnc/test_run.py learns on the GPU as it does on the CPU, its checkpoint scores the same
when the CPU evaluates it, and a GPU run resumed from a checkpoint ends where an uninterrupted
one does."""

import json
import re
import shutil

import pytest

from cnnc.cli import main

pytestmark = pytest.mark.gpu

RUN = ["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--batch-size", "100",
       "--optimizer", "adam", "--lr", "0.01"]
EPOCHS = 6


def history(out):
    return [json.loads(s) for s in (out / "metrics.jsonl").read_text().splitlines()]


def scores(record):
    """What a run learned, without its timings."""
    return {k: v for k, v in record.items() if k not in ("seconds", "images_per_s")}


@pytest.fixture(scope="module")
def runs(cupy, tmp_path_factory):
    """Output directories: 6 epochs on the GPU and on the CPU, and 8 on the GPU."""
    root = tmp_path_factory.mktemp("gpu_runs")
    for name, epochs, device in (("gpu", EPOCHS, "gpu"), ("cpu", EPOCHS, "cpu"),
                                 ("gpu8", EPOCHS + 2, "gpu")):
        code = main([*RUN, "--epochs", str(epochs), "--device", device, "--out",
                     str(root / name)])
        assert code == 0, f"the {name} run exited {code}"
    return root


def test_training_on_the_gpu_learns_as_on_the_cpu(runs):
    gpu, cpu = history(runs / "gpu"), history(runs / "cpu")
    assert len(gpu) == len(cpu) == EPOCHS
    assert gpu[-1]["train_loss"] < 0.75 * gpu[0]["train_loss"]
    assert gpu[-1]["test_acc"] > gpu[0]["test_acc"] + 0.1
    assert abs(gpu[-1]["test_acc"] - cpu[-1]["test_acc"]) <= 0.02


def test_the_cpu_scores_a_gpu_checkpoint_as_training_did(runs, capsys):
    capsys.readouterr()
    code = main(["run", "mnist1d_cnn", "--eval", "--data", "mnist1d", "--weights",
                 str(runs / "gpu" / "checkpoint.safetensors")])
    out = capsys.readouterr().out
    assert code == 0
    accuracy = float(re.search(r"accuracy (\d+\.\d+)%", out).group(1)) / 100
    assert abs(accuracy - history(runs / "gpu")[-1]["test_acc"]) <= 0.005


def test_a_resumed_gpu_run_ends_where_an_uninterrupted_one_does(runs, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(runs / "gpu", out)
    code = main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--device", "gpu",
                 "--resume", str(out / "checkpoint.safetensors"), "--epochs", str(EPOCHS + 2)])
    assert code == 0
    resumed, whole = history(out), history(runs / "gpu8")
    assert len(resumed) == len(whole) == EPOCHS + 2
    assert resumed[:EPOCHS] == history(runs / "gpu")  # the first epochs kept as they were
    for ours, theirs in zip(resumed[EPOCHS:], whole[EPOCHS:]):
        assert scores(ours) == pytest.approx(scores(theirs), rel=1e-4, abs=2e-3)
