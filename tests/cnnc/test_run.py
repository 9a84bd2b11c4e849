"""`cnnc run` as a user meets it: a short training run that learns, evaluation with a confusion
matrix, predictions for files, and one-line errors with exit codes instead of tracebacks.
Kept short for CI (MNIST-1D, a few hundred steps); the long runs are documented in the README."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnc.cli import main

TINY_FC = """
name: tiny_fc
input: [1, 8, 8]
layers:
  - {op: flatten}
  - {id: fc, op: linear, out: 3}
"""


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="") as f:
        return list(csv.reader(f))


@cache
def trained(root: Path) -> Path:
    """mnist1d_cnn after 6 epochs of MNIST-1D (240 steps); its output directory."""
    out = root / "mnist1d"
    code = main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--epochs", "6",
                 "--batch-size", "100", "--optimizer", "adam", "--lr", "0.01", "--out", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("runs"))


def test_training_from_the_command_line_learns(run_dir, capsys):
    history = [json.loads(s) for s in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 6
    assert history[-1]["train_loss"] < 0.75 * history[0]["train_loss"]
    assert history[-1]["test_acc"] > history[0]["test_acc"] + 0.1
    assert (run_dir / "curves.png").stat().st_size > 10_000


def test_eval_prints_accuracy_and_the_confusion_matrix_and_draws_it(run_dir, tmp_path, capsys):
    code = main(["run", "mnist1d_cnn", "--eval", "--data", "mnist1d", "--weights",
                 str(run_dir / "checkpoint.safetensors")])
    out = capsys.readouterr().out.splitlines()
    last = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert code == 0
    assert f"accuracy {last['test_acc']:.2%}" in out[0]  # the same figure as training reported
    rows = out[-11:-1]
    assert [r.split()[0] for r in rows] == [str(d) for d in range(10)]
    assert sum(int(v) for r in rows for v in r.split()[1:11]) == 1000
    picture = run_dir / "confusion.png"  # beside the weights
    assert out[-1] == f"wrote {picture}: the confusion matrix"
    with Image.open(picture) as image:
        assert image.width > 400 and image.height > 400
    assert main(["run", "mnist1d_cnn", "--eval", "--data", "mnist1d", "--weights",
                 str(run_dir / "checkpoint.safetensors"), "--out", str(tmp_path / "e")]) == 0
    assert capsys.readouterr().out.endswith(f"wrote {tmp_path / 'e' / 'confusion.png'}: the "
                                            "confusion matrix\n")


def test_infer_reads_npy_files_and_writes_top_k_to_csv(run_dir, tmp_path, capsys):
    from cnnc_runtime.data import load_dataset
    ds = load_dataset("mnist1d", seed=0)
    np.save(tmp_path / "one.npy", ds.x_test[0])  # (1, 40)
    np.save(tmp_path / "batch.npy", ds.x_test[1:4])  # (3, 1, 40): three inputs
    code = main(["run", "mnist1d_cnn", "--infer", "--weights",
                 str(run_dir / "checkpoint.safetensors"), "--input", str(tmp_path / "one.npy"),
                 str(tmp_path / "batch.npy"), "--top-k", "2", "--output",
                 str(tmp_path / "p.csv")])
    assert code == 0
    rows = read_csv(tmp_path / "p.csv")
    assert rows[0] == ["input", "class_1", "prob_1", "class_2", "prob_2"]
    assert len(rows) == 5 and float(rows[1][2]) >= float(rows[1][4])
    # the files give the same predictions as the same examples taken from the data set
    assert main(["run", "mnist1d_cnn", "--infer", "--weights",
                 str(run_dir / "checkpoint.safetensors"), "--data", "mnist1d", "--top-k", "2",
                 "--output", str(tmp_path / "d.csv")]) == 0
    from_data = read_csv(tmp_path / "d.csv")
    for mine, theirs in zip(rows[1:], from_data[1:5]):  # batches of 4 and 256: float32 noise
        assert mine[1::2] == theirs[1::2]
        np.testing.assert_allclose(np.float64(mine[2::2]), np.float64(theirs[2::2]), atol=2e-6)
    assert from_data[1][0] == "mnist1d:test:0" and len(from_data) == 1001


def test_infer_reads_images_with_pillow(tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    from cnnc_runtime import checkpoint
    checkpoint.save(weights, {"fc.weight": np.eye(3, 64, dtype=np.float32),
                              "fc.bias": np.zeros(3, np.float32)})
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_FC)
    pixels = np.zeros((8, 8), np.uint8)
    pixels[0, 1] = 255  # flat index 1 -> class 1 by the identity weights
    Image.fromarray(pixels).save(tmp_path / "a.png")
    code = main(["run", str(spec), "--infer", "--weights", str(weights), "--input",
                 str(tmp_path / "a.png")])
    assert code == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'a.png'}: 1 ")


def test_infer_reads_an_npy_of_n_h_w_as_n_gray_images_for_a_one_channel_spec(tmp_path, capsys):
    weights = tmp_path / "w.safetensors"
    from cnnc_runtime import checkpoint
    checkpoint.save(weights, {"fc.weight": np.eye(3, 64, dtype=np.float32),
                              "fc.bias": np.zeros(3, np.float32)})
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_FC)
    images = np.zeros((3, 8, 8), np.float32)  # (N, H, W), not one 3-channel image
    images[0, 0, 2] = images[1, 0, 0] = images[2, 0, 1] = 1.0  # flat index k -> class k
    np.save(tmp_path / "gray.npy", images)
    assert main(["run", str(spec), "--infer", "--weights", str(weights), "--input",
                 str(tmp_path / "gray.npy"), "--top-k", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [s.split(":")[0] for s in out] == [f"{tmp_path / 'gray.npy'}[{i}]" for i in range(3)]
    assert [s.split()[1] for s in out] == ["2", "0", "1"]


def test_eval_of_segmentation_prints_iou_per_class_and_draws_it_with_the_matrix(tmp_path, capsys):
    from cnnc_runtime import checkpoint
    spec, weights = tmp_path / "seg.yaml", tmp_path / "w.safetensors"
    spec.write_text("name: seg\ninput: [1, 8, 8]\nlayers:\n  - {id: conv, op: conv, out: 2, "
                    "kernel: 1}\n")
    # class 1 scores the pixel, class 0 a constant 0.5: pixels above 0.5 are class 1
    checkpoint.save(weights, {"conv.weight": np.array([0, 1], np.float32).reshape(2, 1, 1, 1),
                              "conv.bias": np.array([0.5, 0], np.float32)})
    x = np.random.default_rng(0).random((5, 8, 8), dtype=np.float32)
    np.savez(tmp_path / "seg.npz", x=x[:4], y=(x[:4] > 0.5).astype(np.int64), x_test=x[4:],
             y_test=(x[4:] > 0.4).astype(np.int64), classes=["background", "a long class name"])
    assert main(["run", str(spec), "--eval", "--data", f"npz:{tmp_path / 'seg.npz'}",
                 "--weights", str(weights)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "(test split, 1 example)" in out[0]
    assert out[1].startswith("mean IoU ")
    head, background, named = out[3:6]
    assert head.split() == ["0", "1", "recall", "IoU"]
    assert background.startswith("0 background ") and named.startswith("1 a long class name ")
    truth, predicted = x[4] > 0.4, x[4] > 0.5
    iou = (truth & predicted).sum() / (truth | predicted).sum()
    assert named.split()[-1] == f"{iou:.3f}"
    assert out[-1] == f"wrote {tmp_path / 'confusion.png'}: the confusion matrix and per-class IoU"
    with Image.open(tmp_path / "confusion.png") as picture:
        assert picture.width > picture.height  # the IoU chart beside the matrix


def test_a_validation_split_resumes_exactly_and_is_recorded(tmp_path, capsys):
    train = ["run", "mnist1d_mlp", "--train", "--data", "mnist1d", "--batch-size", "100",
             "--val-split", "0.1", "--crop", "2", "--flip"]
    assert main([*train, "--epochs", "2", "--out", str(tmp_path / "a")]) == 0
    assert main([*train, "--epochs", "1", "--out", str(tmp_path / "b")]) == 0
    assert main(["run", "mnist1d_mlp", "--train", "--data", "mnist1d", "--epochs", "2",
                 "--resume", str(tmp_path / "b" / "checkpoint.safetensors")]) == 0
    from cnnc_runtime import checkpoint
    straight, _ = checkpoint.load(tmp_path / "a" / "checkpoint.safetensors")
    resumed, _ = checkpoint.load(tmp_path / "b" / "checkpoint.safetensors")
    for name, value in straight.items():  # weights and optimizer state, bit for bit
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)
    history = [json.loads(s) for s in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["val_examples"] for r in history] == [398, 398]
    assert history == [json.loads(s) | {k: history[i][k] for k in ("seconds", "images_per_s")}
                       for i, s in enumerate((tmp_path / "a" / "metrics.jsonl").read_text()
                                             .splitlines())]


@pytest.mark.parametrize("args,code,message", [
    (["--train"], 2, "--train needs --data"),
    (["--train", "--data", "mnist2d"], 1, "mnist1d"),
    (["--eval", "--data", "mnist1d"], 2, "--eval needs --weights"),
    (["--infer", "--weights", "missing.safetensors"], 1, "missing.safetensors"),
    (["--train", "--data", "mnist1d", "--threads", "0"], 2, "--threads must be between 1"),
])
def test_mistakes_get_one_line_and_an_exit_code(args, code, message, capsys):
    assert main(["run", "mnist1d_cnn", *args]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_a_spec_whose_output_does_not_match_the_classes_is_refused(tmp_path, capsys):
    spec = tmp_path / "five.yaml"
    spec.write_text("name: five\ninput: [1, 40]\nlayers:\n  - {op: flatten}\n"
                    "  - {id: fc, op: linear, out: 5}\n")
    assert main(["run", str(spec), "--train", "--data", "mnist1d", "--out",
                 str(tmp_path / "o")]) == 1
    assert "has 10 classes: make the last layer's `out` 10" in capsys.readouterr().err


def test_a_checkpoint_of_another_spec_is_refused(run_dir, capsys):
    assert main(["run", "mnist1d_mlp", "--eval", "--data", "mnist1d", "--weights",
                 str(run_dir / "checkpoint.safetensors")]) == 1
    assert "does not fit 'mnist1d_mlp': it has no 'fc1.weight'" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="apt-get install dataset-fashion-mnist")
def test_segmentation_infer_writes_palette_masks_and_a_side_by_side_picture(tmp_path, capsys):
    from cnnc import build_model
    from cnnc_runtime import checkpoint
    model = build_model("unet_scenes", seed=0)
    checkpoint.save(tmp_path / "w.safetensors", model.tensors())  # plain weights, untrained
    out = tmp_path / "masks"
    assert main(["run", "unet_scenes", "--infer", "--data", "fashion-scenes", "--weights",
                 str(tmp_path / "w.safetensors"), "--out", str(out)]) == 0
    masks = sorted(out.glob("*_mask.png"))
    assert len(masks) == 1000
    with Image.open(masks[0]) as first:
        assert first.mode == "P" and first.size == (64, 64)
        assert max(np.asarray(first).reshape(-1)) <= 10
    with Image.open(out / "side_by_side.png") as picture:
        assert picture.width > 500 and picture.height > 700


def test_threads_sets_the_kernels_and_blas_threads(run_dir, capsys):
    from cnnc_runtime import jit
    before = jit.threads()
    try:
        assert main(["run", "mnist1d_cnn", "--eval", "--data", "mnist1d", "--weights",
                     str(run_dir / "checkpoint.safetensors"), "--threads", "1"]) == 0
        assert jit.threads() == 1
    finally:
        jit.set_threads(before)
