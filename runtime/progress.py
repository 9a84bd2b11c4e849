"""A one-line progress bar for training epochs, on a terminal; plain lines elsewhere.

On a terminal the line is redrawn in place (at most 10 times a second, so drawing costs nothing
next to a step) and replaced by the epoch's summary when it closes. Written to a file or a pipe
(CI logs, `| tee`), only the summaries appear, one line each.
"""

from __future__ import annotations

import time
from typing import TextIO

WIDTH = 24
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
        filled = WIDTH * self.done // self.total
        rate = (now - self.started) / max(self.done, 1)
        eta = _clock(rate * (self.total - self.done))
        self.stream.write(f"\r\033[K{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] "
                          f"{self.done}/{self.total}  {text}  eta {eta}")
        self.stream.flush()

    def close(self, summary: str | None = None) -> None:
        if self.live:
            self.stream.write("\r\033[K")
        if summary:
            self.stream.write(summary + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"
