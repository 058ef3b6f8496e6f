"""Progress of long listings on standard error, only when a person is watching (a terminal)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Counts keys listed and envelopes read; redraws one status line at most ten times a second."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, label: str = "") -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_tty(self.stream) if enabled is None else enabled
        self.label = label
        self.keys = 0
        self.envelopes = 0
        self.days = 0
        self._lock = threading.Lock()
        self._drawn = 0.0
        self._width = 0

    def listed(self, count: int = 1) -> None:
        with self._lock:
            self.keys += count
        self._draw()

    def day(self) -> None:
        with self._lock:
            self.days += 1
        self._draw()

    def read(self, count: int = 1) -> None:
        with self._lock:
            self.envelopes += count
        self._draw()

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        text = f"{self.label}{self.days} day(s), {self.keys} key(s) listed, {self.envelopes} envelope(s) read"
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def done(self) -> None:
        """Erase the status line so that what follows starts on a clean line."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _is_tty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False
