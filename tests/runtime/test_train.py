"""The training loop on MNIST-1D with the book's small CNN: it learns, it writes its files, and
it continues exactly from any checkpoint, an epoch's end or a Ctrl-C in mid-epoch."""

import io
import json
import os
import signal
from dataclasses import replace
from functools import cache

import numpy as np
import pytest

from cnnc import build_model, compile_file
from cnnc_runtime import checkpoint
from cnnc_runtime import train as loop
from cnnc_runtime.data import load_dataset, normalise
from cnnc_runtime.run_state import RunError, TrainConfig, read_run
from cnnc_runtime.train import Data, train

IDENTITY = {"spec": "mnist1d_cnn", "input_shape": "1x40", "data": "mnist1d"}


@cache
def mnist1d() -> Data:
    ds, mean, std = normalise(load_dataset("mnist1d", seed=0))
    return Data(ds.name, ds.x_train[:1000], ds.y_train[:1000], ds.x_test[:500], ds.y_test[:500],
                ds.classes, ds.task, mean, std)


def model(spec="mnist1d_cnn"):
    return build_model(compile_file(spec), seed=0)


def run(tmp_path, config, resume=None, m=None):
    m = m or model()
    outcome = train(m, mnist1d(), config, tmp_path, IDENTITY, io.StringIO(), resume=resume)
    return m, outcome


def test_training_lowers_the_loss_and_writes_metrics_curves_and_checkpoint(tmp_path):
    config = TrainConfig(epochs=4, batch_size=50, optimizer="adam", lr=3e-3)
    m, outcome = run(tmp_path, config)
    assert outcome.stopped is None
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4] and lines == outcome.history
    assert {"train_loss", "train_acc", "test_loss", "test_acc", "seconds",
            "images_per_s"} <= set(lines[0])
    assert lines[-1]["train_loss"] < lines[0]["train_loss"] * 0.8
    assert lines[-1]["test_acc"] > lines[0]["test_acc"] + 0.05
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tensors, meta = read_run(tmp_path / "checkpoint.safetensors")
    assert meta["spec"] == "mnist1d_cnn" and json.loads(meta["config"])["optimizer"] == "adam"
    assert meta["epoch"] == "4" and meta["seed"] == "0"
    for name, value in m.tensors().items():
        np.testing.assert_array_equal(tensors[name], value)
    assert any(k.startswith("optim.") for k in tensors)


def interrupt_at(monkeypatch, call):
    """Make the training loop see a Ctrl-C during its step number `call` (1-based)."""
    step, calls = loop._train_step, []

    def interrupted_step(*args):
        calls.append(1)
        if len(calls) == call:
            os.kill(os.getpid(), signal.SIGINT)
        return step(*args)

    monkeypatch.setattr(loop, "_train_step", interrupted_step)
    return lambda: monkeypatch.setattr(loop, "_train_step", step)


def test_a_run_resumed_after_an_epoch_ends_with_the_same_weights(tmp_path, monkeypatch):
    config = TrainConfig(epochs=3, batch_size=50, lr=0.05, schedule="cosine", warmup_epochs=1)
    straight, _ = run(tmp_path / "a", config)
    restore = interrupt_at(monkeypatch, 20)  # the last step of epoch 1 of 3 (20 steps each)
    _, outcome = run(tmp_path / "b", config)
    assert outcome.stopped == "interrupted" and "after epoch 1" in outcome.message
    restore()
    resumed, outcome = run(tmp_path / "b", TrainConfig(epochs=3),  # the rest from the file
                           resume=tmp_path / "b" / "checkpoint.safetensors")
    assert [r["epoch"] for r in outcome.history] == [1, 2, 3]
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value, err_msg=name)


@pytest.mark.parametrize("augment", [{"flip": True}, {"crop": 4}, {"flip": True, "crop": 2}])
def test_ctrl_c_mid_epoch_saves_and_resuming_ends_bit_for_bit_the_same(tmp_path, monkeypatch,
                                                                      augment):
    config = TrainConfig(epochs=2, batch_size=50, optimizer="sgd", lr=0.05, nesterov=True,
                         **augment)  # the flips and crops are drawn per step too
    straight, _ = run(tmp_path / "a", config)
    restore = interrupt_at(monkeypatch, 7)  # in epoch 1 of 2
    _, outcome = run(tmp_path / "b", config)
    assert outcome.stopped == "interrupted" and "step 7" in outcome.message
    restore()
    resumed, outcome = run(tmp_path / "b", config, resume=tmp_path / "b" / "checkpoint.safetensors")
    assert outcome.stopped is None
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value, err_msg=name)
    first = json.loads((tmp_path / "a" / "metrics.jsonl").read_text().splitlines()[0])
    again = outcome.history[0]
    assert again["train_loss"] == first["train_loss"]  # the sums survived the interruption


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    config = TrainConfig(epochs=3, batch_size=50, lr=0.05)
    step, calls, saved = loop._train_step, [], {}

    def exploding_step(model, optimizer, x, y, lr):
        calls.append(1)
        if len(calls) == 21:  # epoch 1 is done: its checkpoint is on disk
            saved["bytes"] = (tmp_path / "checkpoint.safetensors").read_bytes()
        if len(calls) == 25:
            model.params["fc.weight"][0, 0] = np.inf
        return step(model, optimizer, x, y, lr)

    monkeypatch.setattr(loop, "_train_step", exploding_step)
    _, outcome = run(tmp_path, config)
    assert outcome.stopped == "diverged"
    assert "epoch 2, step 25" in outcome.message and "still holds epoch 1" in outcome.message
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == saved["bytes"]


def test_a_checkpoint_of_another_spec_is_refused_with_the_first_misfit(tmp_path):
    run(tmp_path, TrainConfig(epochs=1, batch_size=50))
    with pytest.raises(RunError, match="has no 'fc1.weight'"):
        run(tmp_path, TrainConfig(epochs=2), resume=tmp_path / "checkpoint.safetensors",
            m=model("mnist1d_mlp"))


def test_plain_weights_are_not_a_training_checkpoint(tmp_path):
    checkpoint.save(tmp_path / "w.safetensors", {"a": np.zeros(2, np.float32)})
    with pytest.raises(RunError, match="not a checkpoint written by `cnnc run --train`"):
        read_run(tmp_path / "w.safetensors")


def test_crop_changes_what_is_learned_and_the_checkpoint_keeps_it(tmp_path):
    plain, _ = run(tmp_path / "a", TrainConfig(epochs=1, batch_size=50, lr=0.05))
    cropped, _ = run(tmp_path / "b", TrainConfig(epochs=1, batch_size=50, lr=0.05, crop=4))
    assert not np.array_equal(plain.params["fc.weight"], cropped.params["fc.weight"])
    assert json.loads(read_run(tmp_path / "b" / "checkpoint.safetensors")[1]["config"])[
        "crop"] == 4


def test_a_validation_split_is_scored_each_epoch_and_recorded_with_its_size(tmp_path):
    d = mnist1d()
    data = replace(d, x_train=d.x_train[:800], y_train=d.y_train[:800],
                   x_val=d.x_train[800:], y_val=d.y_train[800:])
    log = io.StringIO()
    train(model(), data, TrainConfig(epochs=2, batch_size=50, val_split=0.2),
          tmp_path, IDENTITY, log)
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert list(lines[0])[:8] == ["epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                  "val_examples", "test_loss", "test_acc"]
    assert lines[0]["val_examples"] == 200 and lines[1]["val_loss"] < lines[0]["val_loss"]
    assert lines[0]["val_acc"] != lines[0]["test_acc"]  # scored on other examples
    summaries = log.getvalue().splitlines()
    assert len(summaries) == 2 and "| val loss " in summaries[0] and "| test loss " in summaries[0]
