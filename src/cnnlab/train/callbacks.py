"""What happens around the training loop: the progress display, early stopping and the
run folder's history and checkpoints (`RunRecorder`, writing through `cnnlab.rundir`).

A callback may implement any of the hooks of `Callback`; `on_epoch_end` returning True
asks the loop to stop after this epoch.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

METRIC_NAMES = ("loss", "accuracy", "val_loss", "val_accuracy")


class Callback:
    def on_train_begin(self, trainer, epochs: int) -> None: ...
    def on_epoch_begin(self, epoch: int, steps: int) -> None: ...
    def on_progress(self, step: int, steps: int, loss: float, accuracy: float) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool | None: ...
    def on_interrupt(self, trainer, state) -> None: ...
    def on_train_end(self, trainer, history: list[dict[str, float]]) -> None: ...


def format_logs(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {logs[k]:.4f}" for k in METRIC_NAMES if logs.get(k) is not None)


def format_duration(seconds: float) -> str:
    """Keras's ETA style: 7s, 1:05, 1:02:03."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def format_step_time(seconds: float) -> str:
    return f"{seconds * 1e3:.0f}ms/step" if seconds >= 1e-3 else f"{seconds * 1e6:.0f}us/step"


class ProgressBar(Callback):
    """Keras-like output on stderr: a live bar per epoch on a terminal, one line per epoch.

    `live=False` (logs, --quiet, not a terminal) prints only the per-epoch lines.
    """

    WIDTH = 20

    def __init__(self, stream: TextIO | None = None, live: bool | None = None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        encoding = (getattr(self.stream, "encoding", None) or "utf-8").lower()
        self.marks = ("━", "─") if "utf" in encoding else ("=", ".")
        self.epochs = 0
        self.started = 0.0
        self.steps = 0

    def on_train_begin(self, trainer, epochs: int) -> None:
        self.epochs = epochs

    def on_epoch_begin(self, epoch: int, steps: int) -> None:
        self.started = time.perf_counter()
        self.steps = steps
        if self.live:
            self._write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_progress(self, step: int, steps: int, loss: float, accuracy: float) -> None:
        if not self.live:
            return
        per_step = (time.perf_counter() - self.started) / max(step, 1)
        eta = format_duration(per_step * (steps - step))
        logs = format_logs({"loss": loss, "accuracy": accuracy})
        self._write(f"\r{self._bar(step, steps)} {eta} {format_step_time(per_step)} - {logs}\x1b[K")

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        seconds = logs.get("seconds", 0.0)
        if self.live:
            steps = max(self.steps, 1)
            line = f"{self._bar(steps, steps)} {format_duration(seconds)} "
            line += f"{format_step_time(seconds / steps)} - {format_logs(logs)}"
            self._write(f"\r{line}\x1b[K\n")
        else:
            self._write(f"Epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {format_logs(logs)}\n")

    def on_interrupt(self, trainer, state) -> None:
        if self.live:
            self._write("\n")

    def _bar(self, step: int, steps: int) -> str:
        done = self.WIDTH * step // max(steps, 1)
        width = len(str(steps))
        return f"{step:>{width}}/{steps} {self.marks[0] * done}{self.marks[1] * (self.WIDTH - done)}"

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class EarlyStopping(Callback):
    """Stop when val_loss has not improved for `patience` epochs; restore the best weights.

    Unlike Keras (which restores only when it actually stopped early), the best epoch's
    weights are restored at the end of every run that uses early stopping.
    """

    def __init__(self, patience: int):
        self.patience = patience
        self.best = float("inf")
        self.best_epoch = -1
        self.wait = 0
        self.best_weights: dict | None = None
        self.stopped_epoch: int | None = None
        self._net = None

    def on_train_begin(self, trainer, epochs: int) -> None:
        self._net = trainer.net

    def resume(self, history: list[dict[str, float]], best_weights: dict | None) -> None:
        """Continue from a run's history; best_weights are those of its best epoch."""
        for row in history:
            self._observe(int(row["epoch"]) - 1, row["val_loss"])
        self.best_weights = best_weights

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> bool:
        self._observe(epoch, logs["val_loss"])
        if self.best_epoch == epoch:
            self.best_weights = {k: v.detach().clone() for k, v in self._net.state_dict().items()}
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def _observe(self, epoch: int, val_loss: float) -> None:
        if val_loss < self.best:
            self.best, self.best_epoch, self.wait = val_loss, epoch, 0
        else:
            self.wait += 1

    def on_train_end(self, trainer, history) -> None:
        if self.best_weights is not None:
            trainer.net.load_state_dict(self.best_weights)


class RunRecorder(Callback):
    """Writes history.csv and the checkpoints of a `rundir.RunFolder` after every epoch, and on Ctrl-C."""

    def __init__(self, run, history: list[dict] | None = None):
        self.run = run
        self.history = list(history or [])
        finished = [row["val_loss"] for row in self.history if "val_loss" in row]
        self.best_val_loss = min(finished, default=float("inf"))

    def on_train_begin(self, trainer, epochs: int) -> None:
        self._trainer = trainer

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.history.append(logs)
        val_loss = logs.get("val_loss")
        if val_loss is not None and val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
            self.run.save_best(self._trainer.net, epoch)
        self.run.save_checkpoint(self._trainer.net, self._trainer.optimizer, self.history)
        self.run.write_history(self.history)

    def on_interrupt(self, trainer, state) -> None:
        self.run.save_checkpoint(trainer.net, trainer.optimizer, self.history, state)
