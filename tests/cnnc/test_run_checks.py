"""`cnnc run` refuses bad input before it costs anything: option values, output paths, corrupt
checkpoints and models too big for the memory, each with one line on stderr and an exit code."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnnc.predict
import cnnc.run
from cnnc.cli import main
from cnnc_runtime import checkpoint

TINY_FC = "name: tiny_fc\ninput: [1, 8, 8]\nlayers:\n  - {op: flatten}\n" \
          "  - {id: fc, op: linear, out: 3}\n"
TINY_SEG = "name: tiny_seg\ninput: [1, 8, 8]\nlayers:\n  - {id: conv, op: conv, out: 2, kernel: 1}\n"
# Compiles, but one example's conv output is 64 x 99998 x 99998 floats (2.3 TiB).
BIG_ACTIVATIONS = "name: big\ninput: [3, 100000, 100000]\nlayers:\n" \
                  "  - {op: conv, out: 64, kernel: 3}\n  - {op: global_avgpool}\n" \
                  "  - {op: flatten}\n  - {op: linear, out: 10}\n"
# 10^11 weights in one layer (373 GiB in float32).
BIG_PARAMS = "name: wide\ninput: [1, 100000]\nlayers:\n  - {op: flatten}\n" \
             "  - {op: linear, out: 1000000}\n"


def one_line(err: str) -> str:
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if the command gets as far as loading data."""
    def refuse(*args, **kwargs):
        raise AssertionError("the data was loaded before the check")
    monkeypatch.setattr(cnnc.run, "load_dataset", refuse)
    monkeypatch.setattr(cnnc.predict, "load_dataset", refuse)


@pytest.fixture
def tiny(tmp_path):
    """(spec, weights, an 8x8 image) for the one-layer classifier."""
    spec, weights, image = tmp_path / "tiny.yaml", tmp_path / "w.safetensors", tmp_path / "a.png"
    spec.write_text(TINY_FC)
    checkpoint.save(weights, {"fc.weight": np.eye(3, 64, dtype=np.float32),
                              "fc.bias": np.zeros(3, np.float32)})
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    return spec, weights, image


@cache
def trained(root: Path) -> Path:
    """A training checkpoint of mnist1d_mlp after one quick epoch."""
    assert main(["run", "mnist1d_mlp", "--train", "--data", "mnist1d", "--epochs", "1",
                 "--batch-size", "100", "--out", str(root)]) == 0
    return root / "checkpoint.safetensors"


@pytest.fixture(scope="module")
def run_checkpoint(tmp_path_factory):
    return trained(tmp_path_factory.mktemp("mlp"))


def read_only_dir(tmp_path: Path) -> Path:
    """A directory this process cannot write in; the test is skipped where chmod does not stop
    it (root)."""
    path = tmp_path / "read_only"
    path.mkdir()
    path.chmod(0o500)
    if os.access(path, os.W_OK):
        path.chmod(0o700)
        pytest.skip("this user can write in a read-only directory (root)")
    return path


# Option values -----------------------------------------------------------------------------

@pytest.mark.parametrize("option, value, expected", [
    ("--batch-size", "0", "is not a whole number >= 1"),  # was a ZeroDivisionError
    ("--batch-size", "-1", "is not a whole number >= 1"),
    ("--epochs", "-1", "is not a whole number >= 1"),
    ("--epochs", "0", "is not a whole number >= 1"),  # a run that trains nothing is a mistake
    ("--lr", "nan", "is not a learning rate > 0"),
    ("--lr", "inf", "is not a learning rate > 0"),
    ("--lr", "-0.1", "is not a learning rate > 0"),
    ("--lr", "fast", "is not a learning rate > 0"),
    ("--momentum", "1", "is not a momentum in [0, 1)"),
    ("--momentum", "nan", "is not a momentum in [0, 1)"),
    ("--weight-decay", "-0.001", "is not a weight decay >= 0"),
    ("--gamma", "0", "is not a factor in (0, 1]"),
    ("--gamma", "inf", "is not a factor in (0, 1]"),
    ("--warmup-epochs", "-1", "is not a whole number >= 0"),
    ("--step-epochs", "0", "is not a whole number >= 1"),
    ("--top-k", "0", "is not a whole number >= 1"),  # printed empty lines
    ("--seed", "-1", "is not a whole number from 0 to 4294967295"),
    ("--seed", str(2**32), "is not a whole number from 0 to 4294967295"),
    ("--val-split", "0", "is not a fraction in (0, 1)"),
    ("--val-split", "1", "is not a fraction in (0, 1)"),
    ("--val-split", "nan", "is not a fraction in (0, 1)"),
    ("--crop", "0", "is not a whole number >= 1"),
])
def test_option_values_are_usage_errors_naming_the_option(option, value, expected, capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", option, value])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(
        f"cnnc run: error: argument {option}: '{value}' {expected}")
    assert "Traceback" not in err


def test_valid_option_values_still_parse():
    args = cnnc.cli._parser().parse_args(
        ["run", "x", "--train", "--epochs", "3", "--batch-size", "1", "--lr", "1e-3",
         "--momentum", "0", "--weight-decay", "0", "--gamma", "1", "--warmup-epochs", "0",
         "--seed", "0", "--top-k", "1", "--val-split", "0.1", "--crop", "4"])
    assert (args.epochs, args.batch_size, args.lr, args.momentum, args.gamma, args.seed) == \
        (3, 1, 0.001, 0.0, 1.0, 0)
    assert (args.val_split, args.crop) == (0.1, 4)


def test_max_layers_bounds_the_spec_before_the_data_loads(tmp_path, no_data, capsys):
    spec = tmp_path / "deep.yaml"
    spec.write_text("name: deep\ninput: [1, 8, 8]\nblocks:\n  b:\n    layers:\n"
                    "      - {op: relu}\nlayers:\n  - {block: b, repeat: 30}\n")
    assert main(["run", str(spec), "--train", "--data", "mnist1d", "--max-layers", "20"]) == 1
    err = capsys.readouterr().err
    assert "error[limit]: the network would grow to 30 layers" in err and "Traceback" not in err


# Output paths --------------------------------------------------------------------------------

def test_an_out_that_is_a_file_is_refused_before_the_data_loads(tmp_path, no_data, capsys):
    out = tmp_path / "taken"
    out.write_text("")
    assert main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--out", str(out)]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"cnnc run: error: --out '{out}' is a file; name a directory (it is made if missing)\n")
    assert main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--out",
                 str(out / "sub")]) == 2
    assert f"'{out}' is a file, so no directory can be made" in one_line(capsys.readouterr().err)


def test_a_read_only_out_is_refused_before_the_data_loads(tmp_path, no_data, capsys):
    out = read_only_dir(tmp_path) / "run"
    assert main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--out", str(out)]) == 2
    assert f"--out '{out}': permission denied in '{out.parent}'" in one_line(
        capsys.readouterr().err)
    assert not out.exists()


def test_a_read_only_out_is_refused_where_the_os_says_so(tmp_path, monkeypatch, no_data,
                                                       capsys):
    """The same check where root would pass the chmod test above: os.access answers as the
    kernel would for another user."""
    import cnnc.run_checks
    monkeypatch.setattr(cnnc.run_checks.os, "access", lambda path, mode: False)
    out = tmp_path / "run"
    assert main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--out", str(out)]) == 2
    assert f"--out '{out}': permission denied in '{tmp_path}'" in one_line(
        capsys.readouterr().err)


def test_a_new_run_never_overwrites_an_earlier_one(tmp_path, monkeypatch, no_data, capsys):
    monkeypatch.chdir(tmp_path)
    earlier = Path("runs") / "mnist1d_mlp" / "checkpoint.safetensors"  # the default --out
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"an earlier run")
    assert main(["run", "mnist1d_mlp", "--train", "--data", "mnist1d"]) == 2
    assert one_line(capsys.readouterr().err) == (
        f"cnnc run: error: {earlier} already holds a run; continue it with --resume {earlier}, "
        "write this one elsewhere with --out DIR, or replace it with --overwrite\n")
    other = tmp_path / "other"
    (other / "checkpoint.safetensors").parent.mkdir()
    (other / "checkpoint.safetensors").write_bytes(b"another run")
    assert main(["run", "mnist1d_mlp", "--train", "--data", "mnist1d", "--out", str(other)]) == 2
    assert f"{other / 'checkpoint.safetensors'} already holds a run" in capsys.readouterr().err
    assert earlier.read_bytes() == b"an earlier run"


def test_overwrite_replaces_the_earlier_run(run_checkpoint, tmp_path, capsys):
    out = tmp_path / "again"
    out.mkdir()
    (out / "checkpoint.safetensors").write_bytes(b"an earlier run")
    (out / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2}\n')
    assert main(["run", "mnist1d_mlp", "--train", "--data", "mnist1d", "--epochs", "1",
                 "--batch-size", "100", "--out", str(out), "--overwrite"]) == 0
    assert " after 1 epoch; " in capsys.readouterr().out
    assert checkpoint.load(out / "checkpoint.safetensors")[1]["epoch"] == "1"
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1
    # resuming the run in --out writes over its own checkpoint, as it must
    resumed = ["run", "mnist1d_mlp", "--train", "--data", "mnist1d", "--epochs", "2", "--resume",
               str(out / "checkpoint.safetensors")]
    assert main(resumed) == 0
    assert main([*resumed[:-2], "--resume", str(run_checkpoint), "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_an_output_csv_that_cannot_be_written_is_refused(tiny, tmp_path, capsys):
    spec, weights, image = tiny
    infer = ["run", str(spec), "--infer", "--weights", str(weights), "--input", str(image)]
    assert main([*infer, "--output", str(tmp_path)]) == 2
    assert f"--output '{tmp_path}' is a directory; name a file in it" in one_line(
        capsys.readouterr().err)
    assert main([*infer, "--output", str(tmp_path / "no" / "p.csv")]) == 2
    assert f"there is no directory '{tmp_path / 'no'}'" in one_line(capsys.readouterr().err)
    assert main([*infer, "--output", str(tmp_path / "p.csv")]) == 0  # and a good one works


def test_an_output_csv_in_a_read_only_directory_is_refused(tiny, tmp_path, capsys):
    spec, weights, image = tiny
    csv = read_only_dir(tmp_path) / "p.csv"
    assert main(["run", str(spec), "--infer", "--weights", str(weights), "--input", str(image),
                 "--output", str(csv)]) == 2
    assert f"--output '{csv}': permission denied" in one_line(capsys.readouterr().err)


def test_a_masks_directory_that_cannot_be_made_is_refused(tmp_path, capsys):
    spec, weights, image = tmp_path / "seg.yaml", tmp_path / "w.safetensors", tmp_path / "a.png"
    spec.write_text(TINY_SEG)
    checkpoint.save(weights, {"conv.weight": np.ones((2, 1, 1, 1), np.float32),
                              "conv.bias": np.zeros(2, np.float32)})
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(image)
    infer = ["run", str(spec), "--infer", "--weights", str(weights), "--input", str(image)]
    (tmp_path / "file").write_text("")
    assert main([*infer, "--out", str(tmp_path / "file")]) == 2
    assert "--out" in one_line(capsys.readouterr().err)
    assert main([*infer, "--out", str(tmp_path / "masks")]) == 0
    assert (tmp_path / "masks" / "a_mask.png").is_file()


def test_eval_refuses_a_picture_it_cannot_write_before_the_data_loads(tiny, tmp_path, no_data,
                                                                    capsys):
    spec, weights, _ = tiny
    (tmp_path / "file").write_text("")
    assert main(["run", str(spec), "--eval", "--data", "mnist1d", "--weights", str(weights),
                 "--out", str(tmp_path / "file")]) == 2
    assert f"--out '{tmp_path / 'file'}' is a file" in one_line(capsys.readouterr().err)


# npz data ------------------------------------------------------------------------------------

def npz(tmp_path: Path, x: np.ndarray) -> str:
    np.savez(tmp_path / "set.npz", x=x, y=np.arange(len(x)) % 10)
    return f"npz:{tmp_path / 'set.npz'}"


def test_an_npz_with_an_empty_array_names_the_file_and_the_array(tmp_path, capsys):
    source = npz(tmp_path, np.zeros((0, 40), np.float32))
    assert main(["run", "mnist1d_mlp", "--train", "--data", source, "--out",
                 str(tmp_path / "o")]) == 1
    assert one_line(capsys.readouterr().err).startswith(
        f"cnnc run: error: {source}: `x` has shape (0, 40), which holds no data; expected")


def test_an_npz_in_the_specs_own_layout_trains(tmp_path, capsys):
    x = np.random.default_rng(0).random((200, 1, 40), dtype=np.float32)  # (N, C, L)
    assert main(["run", "mnist1d_mlp", "--train", "--data", npz(tmp_path, x), "--epochs", "1",
                 "--batch-size", "20", "--out", str(tmp_path / "o")]) == 0
    assert "160 training and 40 test examples" in capsys.readouterr().err


def test_an_npz_of_the_wrong_layout_is_told_the_shapes_that_fit(tmp_path, capsys):
    source = npz(tmp_path, np.ones((200, 5, 40), np.float32))
    assert main(["run", "mnist1d_mlp", "--train", "--data", source, "--out",
                 str(tmp_path / "o")]) == 1
    assert one_line(capsys.readouterr().err).endswith(
        "an npz `x` for this spec has shape (N, 40) or (N, 1, 40)\n")


# Checkpoints ---------------------------------------------------------------------------------

def flip_data_byte(src: Path, dst: Path) -> None:
    blob = bytearray(src.read_bytes())
    blob[-3] ^= 0x01  # in the last tensor's data; the header is left whole
    dst.write_bytes(bytes(blob))


def without_checksum(src: Path, dst: Path) -> None:
    """The same file as another tool would write it: the same tensors, no checksum."""
    blob = src.read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    del header["__metadata__"][checkpoint.CHECKSUM]
    text = json.dumps(header).encode()
    dst.write_bytes(struct.pack("<Q", len(text)) + text + blob[8 + size:])


def test_eval_refuses_a_corrupt_checkpoint(run_checkpoint, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    flip_data_byte(run_checkpoint, bad)
    assert main(["run", "mnist1d_mlp", "--eval", "--data", "mnist1d", "--weights",
                 str(bad)]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"cnnc run: error: {bad}: tensor data does not match its checksum: the file is corrupt "
        "(changed after it was written); use another copy or write it again\n")


def test_a_checkpoint_without_a_checksum_loads_with_a_note(run_checkpoint, tmp_path, capsys):
    plain = tmp_path / "plain.safetensors"
    without_checksum(run_checkpoint, plain)
    assert main(["run", "mnist1d_mlp", "--eval", "--data", "mnist1d", "--weights",
                 str(plain)]) == 0
    captured = capsys.readouterr()
    assert one_line(captured.err) == (f"cnnc run: note: {plain} has no checksum (not written by "
                                      "cnnc); its data is not verified\n")
    assert "accuracy" in captured.out
    assert main(["run", "mnist1d_mlp", "--eval", "--data", "mnist1d", "--weights",
                 str(run_checkpoint)]) == 0
    assert capsys.readouterr().err == ""  # a cnnc checkpoint is verified, silently


def test_resume_notes_an_unverified_checkpoint_and_refuses_a_corrupt_one(run_checkpoint, tmp_path,
                                                                         capsys):
    (tmp_path / "plain").mkdir()
    plain = tmp_path / "plain" / "checkpoint.safetensors"
    without_checksum(run_checkpoint, plain)
    resume = ["run", "mnist1d_mlp", "--train", "--data", "mnist1d", "--epochs", "1", "--resume"]
    assert main([*resume, str(plain)]) == 0  # already 1 epoch: nothing left to train
    assert f"note: {plain} has no checksum" in capsys.readouterr().err
    bad = tmp_path / "bad.safetensors"
    flip_data_byte(run_checkpoint, bad)
    assert main([*resume, str(bad)]) == 1
    assert "does not match its checksum" in one_line(capsys.readouterr().err)


# Memory --------------------------------------------------------------------------------------

def run_measured(spec: Path, *argv: str) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS growth in bytes) of `cnnc run SPEC ARGV` in a fresh
    process, measured from after the imports."""
    # VmHWM is this process's own peak: ru_maxrss would carry pytest's over the exec
    script = ("import sys\nimport cnnc.run\nfrom cnnc.cli import main\n"
              "def peak():\n"
              "    return next(int(l.split()[1]) for l in open('/proc/self/status')\n"
              "                if l.startswith('VmHWM'))\n"
              "before = peak()\n"
              "code = main(sys.argv[1:])\n"
              "print(code, (peak() - before) * 1024)\n")  # VmHWM is in KiB
    done = subprocess.run([sys.executable, "-c", script, "run", str(spec), *argv],
                          capture_output=True, text=True, timeout=300, check=False)
    code, grew = done.stdout.split()
    return int(code), done.stderr, int(grew)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_activations_too_big_for_memory_are_refused_without_allocating(tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text(BIG_ACTIVATIONS)
    code, err, grew = run_measured(spec, "--train", "--data", "mnist1d", "--out",
                                   str(tmp_path / "o"))
    assert code == 1 and grew < 200 << 20
    assert one_line(err).startswith("cnnc run: error: a batch of 64 through 'big' needs ")
    assert "for its activations in training, 2.3 TiB (2,559,897,601,024 bytes) per example for " \
           "the output of 'conv_1' (64x99998x99998), but " in err
    assert "of memory is available; use a smaller batch or a smaller input" in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_parameters_too_big_for_memory_are_refused_without_allocating(tmp_path):
    spec = tmp_path / "wide.yaml"
    spec.write_text(BIG_PARAMS)
    code, err, grew = run_measured(spec, "--train", "--data", "mnist1d", "--out",
                                   str(tmp_path / "o"))
    assert code == 1 and grew < 200 << 20
    assert one_line(err).startswith(
        "cnnc run: error: 'wide' needs 372.5 GiB (400,004,000,000 bytes) for its parameters and "
        "state, 372.5 GiB (400,000,000,000 bytes) of it for 'linear_1.weight' (1000000x100000), "
        "but ")
    assert err.endswith("of memory is available; make layer 'linear_1' smaller\n")


def test_eval_checks_a_batch_of_inference_before_the_data_loads(tmp_path, monkeypatch, no_data,
                                                                capsys):
    import cnnc_runtime.memory_check
    from cnnc import build_model
    weights = tmp_path / "w.safetensors"
    checkpoint.save(weights, build_model("mnist1d_cnn").tensors())
    monkeypatch.setattr(cnnc_runtime.memory_check, "available_memory", lambda xp: 1 << 17)
    assert main(["run", "mnist1d_cnn", "--eval", "--data", "mnist1d", "--weights",
                 str(weights)]) == 1
    assert "a batch of 256 through 'mnist1d_cnn' needs" in one_line(capsys.readouterr().err)


# Inference inputs ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape, spec_input, expected", [
    ((2, 3, 8, 8), "[1, 8, 8]", "(H, W), (1, H, W), (N, H, W) or (N, 1, H, W)"),
    ((8,), "[1, 8, 8]", "(H, W), (1, H, W), (N, H, W) or (N, 1, H, W)"),
    ((8, 8, 3), "[3, 8, 8]", "(H, W), (3, H, W) or (N, 3, H, W)"),
    ((5, 30), "[1, 40]", "(40,), (1, 40), (N, 40) or (N, 1, 40)"),
])
def test_an_npy_array_that_does_not_fit_is_told_the_shapes_that_do(shape, spec_input, expected,
                                                                    tmp_path, capsys):
    from cnnc import build_model, compile_file
    spec = tmp_path / "net.yaml"
    spec.write_text(f"name: net\ninput: {spec_input}\nlayers:\n  - {{op: flatten}}\n"
                    "  - {id: fc, op: linear, out: 3}\n")
    checkpoint.save(tmp_path / "w.safetensors", build_model(compile_file(spec)).tensors())
    np.save(tmp_path / "a.npy", np.ones(shape, np.float32))
    assert main(["run", str(spec), "--infer", "--weights", str(tmp_path / "w.safetensors"),
                 "--input", str(tmp_path / "a.npy")]) == 1
    assert one_line(capsys.readouterr().err) == (
        f"cnnc run: error: {tmp_path / 'a.npy'}: an array of shape {shape} does not fit the "
        f"spec's input {spec_input}; give one of shape {expected}\n")
