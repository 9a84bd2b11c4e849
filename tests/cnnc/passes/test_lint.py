"""Warnings: a floor-mode pool that leaves input rows or columns out, and no warning otherwise."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cnnc import compile_file, compile_text
from cnnc.cli import main
from cnnc.errors import RuleError
from cnnc.ops import maxpool
from cnnc.zoo import zoo_names


def pool_spec(pool: str, size: int | list[int] = 9, channels: int = 2) -> str:
    shape = [channels, *size] if isinstance(size, list) else [channels, size, size]
    return f"name: pooled\ninput: {shape}\nlayers:\n  - {{id: pool, op: maxpool, {pool}}}\n"


@given(size=st.integers(1, 30), k=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 2),
       d=st.integers(1, 3), ceil=st.booleans())
def test_dropped_counts_the_positions_after_the_last_window(size, k, s, p, d, ceil):
    assume(p <= k // 2)
    attrs = maxpool.MaxPoolAttrs(op="maxpool", kernel=k, stride=s, padding=p, dilation=d,
                                 ceil_mode=ceil)
    x = (1, size)
    try:
        y = maxpool.RULE.infer(attrs, (x,))
    except RuleError:  # the padded input is smaller than the window
        assume(False)
    # the last position any window reads, walking the windows; the gaps of a dilated window
    # or a stride wider than the kernel are the pool's design, not a dropped end
    last = max(o * s - p + d * t for o in range(y[1]) for t in range(k))
    assert maxpool.RULE.dropped(attrs, (x,), y) == (max(0, size - 1 - last),)


def test_a_pool_that_leaves_rows_out_warns_with_its_layer_counts_and_fixes():
    c = compile_text(pool_spec("kernel: 3, stride: 3", 11), "net.yaml")
    (w,) = c.warnings
    assert (w.kind, w.severity, w.span.line, w.span.col) == ("dropped", "warning", 4, 5)
    assert w.message == ("layer 'pool' (maxpool): the last 2 rows and the last 2 columns of its "
                         "2x11x11 input never reach the output: its windows end at 9x9 "
                         "(floor mode)")
    # 9 and 12 fit: the nearest sizes a 3-wide pool at stride 3 covers
    assert w.hint == ("set `ceil_mode: true` or pad the input to pool them too, or give an "
                      "input of 9x9 or 12x12 (every 3)")
    assert w.render().startswith("net.yaml:4:5: warning[dropped]: layer 'pool'")


def test_each_axis_says_what_it_drops():
    (w,) = compile_text(pool_spec("kernel: 2", [8, 9]), "net.yaml").warnings
    assert "the last column of its 2x8x9 input" in w.message
    (w,) = compile_text(pool_spec("kernel: 2", [9]), "net.yaml").warnings
    assert "the last position of its 2x9 input" in w.message and "8 (floor" in w.message


@pytest.mark.parametrize("pool, size", [
    ("kernel: 2", 8),                                 # even: every pixel in a window
    ("kernel: 2, ceil_mode: true", 9),                # the last window takes the odd row
    ("kernel: 3, stride: 2, padding: 1", 112),        # ResNet's stem pool on an even size
    ("kernel: 3, stride: 2, padding: 1", 113),        # ... and an odd one: padding covers it
    ("kernel: 1, stride: 2", 9),                      # subsampling: its gaps are the design
])
def test_no_warning_when_the_windows_reach_the_end(pool, size):
    assert compile_text(pool_spec(pool, size), "net.yaml").warnings == ()


def test_no_zoo_model_warns_at_its_own_size():
    assert {n: [w.message for w in compile_file(n).warnings] for n in zoo_names()} == {
        n: [] for n in zoo_names()}


def test_unet_original_warns_once_on_a_size_of_one_more():
    (w,) = compile_file("unet_original", (1, 573, 573)).warnings
    assert "'down1.pool'" in w.message and "569x569 input" in w.message
    assert "572x572 or 588x588 (every 16)" in w.hint


def test_warnings_go_to_stderr_and_the_json_without_failing(tmp_path, capsys):
    (tmp_path / "net.yaml").write_text(pool_spec("kernel: 2", 9))
    assert main(["compile", str(tmp_path / "net.yaml"), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"{tmp_path / 'net.yaml'}:4:5: warning[dropped]: layer 'pool'")
    assert "\n  hint: set `ceil_mode: true`" in err
    (w,) = json.loads(out)["warnings"]
    assert (w["kind"], w["line"], w["col"]) == ("dropped", 4, 5)
    assert w["message"].startswith("layer 'pool' (maxpool): the last row")
    assert w["hint"].startswith("set `ceil_mode: true`")
    assert main(["compile", str(tmp_path / "net.yaml"), "--input", "2x8x8"]) == 0
    assert capsys.readouterr().err == ""


def test_cnnc_run_prints_the_warnings_too(tmp_path, capsys):
    np = pytest.importorskip("numpy")
    from cnnc_runtime import checkpoint
    spec = tmp_path / "net.yaml"
    spec.write_text("name: pooled\ninput: [1, 9, 9]\nlayers:\n  - {id: pool, op: maxpool, "
                    "kernel: 2}\n  - {op: flatten}\n  - {id: fc, op: linear, out: 3}\n")
    weights = tmp_path / "w.safetensors"
    checkpoint.save(weights, {"fc.weight": np.eye(3, 16, dtype=np.float32),
                              "fc.bias": np.zeros(3, np.float32)})
    np.save(tmp_path / "x.npy", np.ones((9, 9), np.float32))
    assert main(["run", str(spec), "--infer", "--weights", str(weights), "--input",
                 str(tmp_path / "x.npy")]) == 0
    assert f"{spec}:4:5: warning[dropped]: layer 'pool'" in capsys.readouterr().err
