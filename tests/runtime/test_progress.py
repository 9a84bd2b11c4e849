"""The progress bar redraws in place on a terminal, within its width (80 columns included), and
prints one summary line per epoch into a pipe. The terminal is a real one: a pseudo-terminal
whose size is set with TIOCSWINSZ, read back as a terminal would show it."""

import fcntl
import io
import os
import re
import struct
import subprocess
import sys
import termios
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from cnnc_runtime import progress
from cnnc_runtime.progress import Bar, wrap

LOSS = "loss 0.4123  acc 91.25%  12,345 img/s"  # what the training loop shows
SUMMARY = ("epoch 3: train loss 0.4123 acc 91.25% | val loss 0.4410 acc 90.10% | test loss "
           "0.4501 acc 89.90% mIoU 0.714 | 12.3 s, 12,345 img/s")
ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def open_terminal(columns: int) -> tuple[int, int]:
    """(master, slave) of a pseudo-terminal `columns` wide; output passes unchanged (no
    newline translation), so what is read is what the program wrote."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return master, slave


def read_all(master: int) -> str:
    """Everything written to the terminal, once every writer has closed it. Run it beside the
    writers (a pseudo-terminal holds only a few KiB before a write blocks)."""
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: no writer is left
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return b"".join(chunks).decode()


def reading(master: int) -> Future:
    return ThreadPoolExecutor(1).submit(read_all, master)


def screen_lines(text: str) -> list[str]:
    """What a terminal shows each line as, written in turn: the pieces between carriage
    returns and new lines, escape sequences removed."""
    return [piece for line in ESCAPE.sub("", text).split("\n") for piece in line.split("\r")]


def test_a_pipe_gets_one_summary_line_per_epoch():
    out = io.StringIO()
    bar = Bar(out, "epoch 1/2", 3)
    for _ in range(3):
        bar.update("loss 0.5")
    bar.close(SUMMARY)
    assert out.getvalue() == SUMMARY + "\n"  # never wrapped, however long


@pytest.mark.parametrize("columns", [80, 50, 200])
def test_on_a_terminal_the_bar_fits_the_width_and_redraws_in_place(columns, monkeypatch):
    monkeypatch.setattr(progress, "REDRAW_SECONDS", 0)  # draw at every step
    master, slave = open_terminal(columns)
    shown = reading(master)
    with open(slave, "w", closefd=True) as terminal:
        assert terminal.isatty()
        for epoch in (1, 2):
            bar = Bar(terminal, f"epoch {epoch}/2", 250)
            for _ in range(250):
                bar.update(LOSS)
            bar.close(SUMMARY)
    text = shown.result(timeout=60)
    assert text.count("\r\x1b[K") == 2 * 251  # every draw, and the close, rewrite one line
    assert max(len(s) for s in screen_lines(text)) <= columns - 1
    wrapped = wrap(SUMMARY, columns - 1)
    # nothing but the summaries ever moves down a line
    assert text.count("\n") == 2 * (wrapped.count("\n") + 1)
    assert text.endswith("\r\x1b[K" + wrapped + "\n")
    last_bar = [s for s in screen_lines(text) if s.startswith("epoch 2/2")][-1]
    assert "250/250" in last_bar and "loss 0.4123" in last_bar
    assert ("#]" in last_bar) == (columns >= 80)  # the bar itself, where there is room for it


def test_a_summary_wider_than_the_terminal_wraps_at_its_separators():
    lines = wrap(SUMMARY, 79).splitlines()
    assert lines == ["epoch 3: train loss 0.4123 acc 91.25% | val loss 0.4410 acc 90.10%",
                     "  test loss 0.4501 acc 89.90% mIoU 0.714 | 12.3 s, 12,345 img/s"]
    assert wrap(SUMMARY, 200) == SUMMARY
    assert all(len(s) <= 20 for s in wrap(SUMMARY, 20).splitlines())


RUN = [sys.executable, "-m", "cnnc", "run", "mnist1d_mlp", "--train", "--data", "mnist1d",
       "--epochs", "2", "--batch-size", "20", "--val-split", "0.1", "--out", "o"]


def test_cnnc_run_on_an_80_column_terminal_keeps_every_line_within_it(tmp_path):
    master, slave = open_terminal(80)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    child = subprocess.Popen(RUN, cwd=tmp_path, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    shown = reading(master)
    stdout = child.communicate(timeout=300)[0].decode()
    text = shown.result(timeout=60)
    assert child.returncode == 0, text
    assert max(len(s) for s in screen_lines(text)) <= 80, text
    assert text.count("\r\x1b[Kepoch 1/2 ") >= 1 and text.count("\r\x1b[Kepoch 2/2 ") >= 1
    shown = text.split("\n")
    summaries = [s for s in shown if "epoch" in s and "train loss" in s]
    assert len(summaries) == 2  # one per epoch, each starting on the line its bar was drawn on
    assert all(s.startswith("\r\x1b[K") for s in summaries)
    assert "after 2 epochs" in stdout


def test_cnnc_run_into_a_pipe_writes_one_line_per_epoch(tmp_path):
    done = subprocess.run(RUN, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 4 and "\r" not in done.stderr and "\x1b" not in done.stderr
    assert lines[0].startswith("mnist1d_mlp: 2,250 parameters, input 1x40; writing o/")
    # stratified: each class gives a tenth of its examples, rounded
    assert lines[1] == "mnist1d: 3,602 training, 398 validation and 1,000 test examples, 10 classes"
    assert [s.split(":")[0] for s in lines[2:]] == ["epoch 1", "epoch 2"]
    assert all("| val loss " in s and "| test loss " in s for s in lines[2:])
