"""`keras.callbacks` with Keras's semantics, and the progress display Keras prints.

Callbacks see epochs (on_train_begin/end, on_epoch_begin/end with Keras's logs); the engine
runs the steps of an epoch without stopping in Python between them, so a callback that
overrides a per-batch hook is refused rather than silently never called.
"""

from __future__ import annotations

import csv
import operator
import os
import re
import sys
import time

import numpy as np

from cnnlab.models.layers import ModelError

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_train_batch_begin", "on_train_batch_end",
                "on_test_batch_begin", "on_test_batch_end", "on_predict_batch_begin",
                "on_predict_batch_end")


def resolve_verbose(verbose) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose should be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...


class History(Callback):
    """What `fit` returns: `history` (Keras's keys), `epoch`, `params`, `model`."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class CallbackList:
    """The user's callbacks, then the progress display and History, as Keras orders them."""

    def __init__(self, callbacks, model, history: History, verbose: int, params: dict):
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ModelError(f"callbacks should be keras.callbacks objects, got {type(cb).__name__}")
            overridden = [h for h in _BATCH_HOOKS if hasattr(cb, h) and not _own_hook(cb, h)]
            if overridden:
                raise ModelError(
                    f"{type(cb).__name__} overrides {overridden[0]}: per-batch callbacks are not "
                    "supported by cnnlab.keras (epoch hooks are)"
                )
        self.progress = ProgbarLogger(verbose, params["epochs"]) if verbose else None
        self.callbacks = callbacks + ([self.progress] if self.progress else []) + [history]
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def nonfinite_watchers(self) -> list[TerminateOnNaN]:
        """The callbacks the engine must stop for at the first non-finite loss of an epoch."""
        return [cb for cb in self.callbacks if isinstance(cb, TerminateOnNaN)]

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)

        return call


def _own_hook(cb: Callback, hook: str) -> bool:
    """True for TerminateOnNaN's own on_batch_end, which the fit loop calls at the bad batch."""
    return hook == "on_batch_end" and getattr(type(cb), hook, None) is TerminateOnNaN.on_batch_end


def _metric_text(logs: dict) -> str:
    parts = []
    for key, value in logs.items():
        parts.append(f" - {key}: {value:.4f}" if abs(value) > 1e-3 else f" - {key}: {value:.4e}")
    return "".join(parts)


def _step_time(seconds: float) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/step"
    return f" {seconds * 1e6:.0f}us/step"


def _eta(seconds: float) -> str:
    s = int(seconds)
    if seconds > 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    if seconds > 60:
        return f"{s // 60}:{s % 60:02d}"
    return f"{s}s"


class ProgbarLogger(Callback):
    """Keras's display on stdout: `Epoch 1/10`, then a bar redrawn in place (verbose=1) or
    one line at the end of the epoch (verbose=2)."""

    WIDTH = 20

    def __init__(self, verbose: int, epochs: int):
        super().__init__()
        self.verbose, self.epochs = verbose, epochs
        self.started, self.width = 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        if self.epochs > 1:  # Keras names the epoch only when there are several
            _print(f"Epoch {epoch + 1}/{self.epochs}\n")
        self.started, self.width = time.time(), 0

    def update(self, step: int, steps: int, logs: dict, final: bool = False) -> None:
        """Draw the bar at `step` of `steps` with running metrics (called by the fit loop)."""
        if self.verbose != 1 and not final:
            return
        elapsed = time.time() - self.started
        per_step = elapsed / max(step, 1)
        digits = len(str(steps))
        if self.verbose == 2:
            _print(f"{step:>{digits}}/{steps} - {elapsed:.0f}s -{_step_time(per_step)}{_metric_text(logs)}\n")
            return
        done = int(self.WIDTH * step / max(steps, 1))
        bar = f"{step:>{digits}}/{steps} " + "━" * done + "━" * (self.WIDTH - done)
        timing = f" {elapsed:.0f}s" if final else f" {_eta(per_step * (steps - step))}"
        line = bar + timing + _step_time(per_step) + _metric_text(logs)
        pad = " " * max(self.width - len(line), 0)
        self.width = len(line)
        _print("\r" + line + pad + ("\n" if final else ""))


def _print(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


class EarlyStopping(Callback):
    """Keras's EarlyStopping: stop when `monitor` has not improved for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            mode = "auto"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.monitor_op = None
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = self.best_weights = None

    def _set_monitor_op(self):
        self.monitor_op = _direction(self.monitor, self.mode, type(self).__name__)
        if self.monitor_op is operator.lt:
            self.min_delta *= -1

    def _is_improvement(self, value, reference) -> bool:
        return reference is None or bool(self.monitor_op(value - self.min_delta, reference))

    def on_train_begin(self, logs=None):
        self.wait = self.stopped_epoch = self.best_epoch = 0
        self.best = self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise ModelError(
                f"EarlyStopping watches {self.monitor!r}, which fit does not report here; it "
                f"reports {', '.join(logs or {})} (val_* needs validation data)"
            )
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            _print(f"Epoch {self.stopped_epoch + 1}: early stopping\n")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                _print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.\n")
            self.model.set_weights(self.best_weights)


def _direction(monitor: str, mode: str, who: str):
    if mode == "min":
        return operator.lt
    if mode == "max":
        return operator.gt
    name = monitor.removeprefix("val_")
    if name == "loss":
        return operator.lt
    if name in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy"):
        return operator.gt
    raise ValueError(
        f"{who} callback received monitor={monitor}, but Keras isn't able to automatically "
        "determine whether that metric should be maximized or minimized. Pass `mode='max'` in "
        "order to monitor based on the highest metric value, or pass `mode='min'` in order to "
        "use the lowest value."
    )


class TerminateOnNaN(Callback):
    """Keras's TerminateOnNaN: stop training after the first batch whose loss is nan or inf.

    The epoch's running loss is checked after every batch, as Keras does; validation and
    on_epoch_end still run for that epoch. `raise_error=True` raises a RuntimeError instead.
    """

    def __init__(self, raise_error: bool = False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or np.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        _print(f"Batch {batch}: Invalid loss, terminating training\n")
        self.model.stop_training = True


class ModelCheckpoint(Callback):
    """Save the model after epochs, or only the best one: a Keras file (`name.keras`), cnnlab's
    folder (`name.cnnlab`), or with `save_weights_only=True` the weights (`name.weights.h5`)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        from cnnlab.keras.saving import check_path, check_weights_path

        if save_freq != "epoch":
            raise ModelError("ModelCheckpoint: only save_freq='epoch' is supported by cnnlab.keras")
        example = re.sub(r"\{[^}]*\}", "0", os.fspath(filepath))  # placeholders filled per epoch
        if save_weights_only:
            check_weights_path(example, "save")
        else:
            check_path(example)
        self.save_weights_only = save_weights_only
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.mode = save_best_only, mode
        self.best = initial_value_threshold
        self.monitor_op = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            if self.monitor_op is None:
                self.monitor_op = _direction(self.monitor, self.mode, type(self).__name__)
            current = logs.get(self.monitor)
            if current is None:
                raise ModelError(f"ModelCheckpoint watches {self.monitor!r}, which fit does not report here")
            if self.best is not None and not self.monitor_op(current, self.best):
                if self.verbose > 0:
                    _print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}\n")
                return
            if self.verbose > 0:
                best = "inf" if self.best is None else f"{self.best:.5f}"
                _print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {current:.5f}, "
                       f"saving model to {path}\n")
            self.best = current
        elif self.verbose > 0:
            _print(f"\nEpoch {epoch + 1}: saving model to {path}\n")
        if self.save_weights_only:
            self.model.save_weights(path, overwrite=True)
        else:
            self.model.save(path, overwrite=True)


class CSVLogger(Callback):
    """One row per epoch: `epoch` then the logs' keys sorted, as Keras writes them."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.write_header = not exists
        self.file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(k.startswith("val_") for k in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch", *self.keys], dialect=dialect)
            if self.write_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        self.file.close()


def logs_value(value: float) -> float:
    """A metric as Keras reports it: a float32 value as a Python float."""
    return float(np.float32(value))


def __getattr__(name: str):
    """A Keras name this module does not offer is refused by name (an AttributeError for hasattr)."""
    from cnnlab.keras.layers import Unsupported

    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise Unsupported(f"keras.callbacks.{name} is not supported by cnnlab.keras; it offers Callback, History, EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN")
