"""A plain download progress bar on stderr (no dependency): redrawn in place on a terminal,
one line at start and end otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class Progress:
    WIDTH = 30

    def __init__(self, label: str, total: int | None, *, start: int = 0, stream=None, enabled: bool = True):
        self.label, self.total, self.done = label, total, start
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = self.last = time.monotonic()
        self.start = start
        if enabled and not self.tty:
            size = f" ({_mb(total)})" if total else ""
            resumed = f", resuming at {_mb(start)}" if start else ""
            print(f"downloading {label}{size}{resumed}", file=self.stream, flush=True)

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty and now - self.last >= 0.1:
            self.last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        rate = (self.done - self.start) / max(now - self.t0, 1e-6)
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * self.WIDTH)
            text = f"\r{self.label} [{bar:<{self.WIDTH}}] {frac:4.0%} {_mb(self.done)}/{_mb(self.total)} {rate / 1e6:.1f} MB/s"
        else:
            text = f"\r{self.label} {_mb(self.done)} {rate / 1e6:.1f} MB/s"
        self.stream.write(text)
        self.stream.flush()

    def close(self, ok: bool) -> None:
        if not self.enabled:
            return
        if self.tty:
            self._draw(time.monotonic())
            self.stream.write("\n")
        elapsed = time.monotonic() - self.t0
        status = "done" if ok else "stopped"
        print(f"{self.label}: {status}, {_mb(self.done)} in {elapsed:.1f} s", file=self.stream, flush=True)
