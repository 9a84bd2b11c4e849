"""Ctrl-C that waits for a safe point: the training loop checks the flag between steps."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Self


class StopFlag:
    """Ctrl-C during training asks the loop to stop after the current step (so the checkpoint
    never holds half an update); a second Ctrl-C stops at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Callable | int | None = None

    def __enter__(self) -> Self:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: Ctrl-C is not ours to catch
            self._previous = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
