"""A one-line progress bar for training epochs, on a terminal; plain lines elsewhere.

On a terminal the line is redrawn in place (carriage return, erase line; at most 10 times a
second, so drawing costs nothing next to a step), fitted to the terminal's width, measured at
each redraw so a resized window is followed, and replaced by the epoch's summary when it closes,
the summary wrapped at its " | " separators where the terminal is narrower. Written to a file or
a pipe (CI logs, `| tee`), only the summaries appear, one line each.

Our own rather than rich's: rich would add three packages and 0.1 s to every start, redraw from
a thread beside the training loop's Ctrl-C handling, and in a pipe write a blank line per epoch
and wrap each summary at 80 columns (measured with rich 15), where a log wants one line.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import TextIO

MAX_BAR, MIN_BAR = 24, 8  # cells of the bar: it shrinks to fit, and below MIN_BAR goes
REDRAW_SECONDS = 0.1


class Bar:
    """`update(text)` after each step; `close(summary)` at the end of the epoch."""

    def __init__(self, stream: TextIO, label: str, total: int, done: int = 0) -> None:
        self.stream, self.label, self.total, self.done = stream, label, total, done
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self.started, self.drawn = time.perf_counter(), 0.0

    def update(self, text: str) -> None:
        self.done += 1
        now = time.perf_counter()
        if not self.live or (now - self.drawn < REDRAW_SECONDS and self.done < self.total):
            return
        self.drawn = now
        rate = (now - self.started) / max(self.done, 1)
        self.stream.write("\r\033[K" + self._line(text, _clock(rate * (self.total - self.done))))
        self.stream.flush()

    def close(self, summary: str | None = None) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            if summary:
                summary = wrap(summary, _columns(self.stream) - 1)
        if summary:
            self.stream.write(summary + "\n")
        self.stream.flush()

    def _line(self, text: str, eta: str) -> str:
        """The bar's line in at most the terminal's width less one column (a line that fills
        the last column makes some terminals wrap, and the next redraw would start below it):
        the bar shrinks first, then goes, then the line is cut."""
        room = _columns(self.stream) - 1
        count = f"{self.done:>{len(str(self.total))}}/{self.total}"
        tail = f"  {text}  eta {eta}"
        cells = min(MAX_BAR, room - len(self.label) - len(count) - len(tail) - 4)  # " [", "] "
        if cells < MIN_BAR:
            return f"{self.label} {count}{tail}"[:room]
        filled = cells * self.done // self.total
        return f"{self.label} [{'#' * filled}{'.' * (cells - filled)}] {count}{tail}"


def wrap(line: str, width: int) -> str:
    """`line` in lines of at most `width` columns, broken at its " | " separators (the pieces
    after the first indented by two), a piece wider than `width` cut."""
    lines = [""]
    for piece in line.split(" | "):
        joined = f"{lines[-1]} | {piece}" if lines[-1] else piece
        if len(joined) <= width or not lines[-1]:
            lines[-1] = joined
        else:
            lines.append(f"  {piece}")
    return "\n".join(s[:width] for s in lines)


def _columns(stream: TextIO) -> int:
    """The width of the stream's terminal; $COLUMNS or 80 where it has none to ask."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or shutil.get_terminal_size().columns
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last
        return shutil.get_terminal_size().columns


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"
