"""fit / evaluate / predict: the epoch loop and the Python API.

    history = cnnlab.fit("cifar_model", cnnlab.load_dataset("cifar10"), epochs=10,
                         validation_split=0.1)
    history.history["val_accuracy"]   # Keras's keys

`run_epochs` is the loop both the API and `cnnlab train` use: per epoch it trains (see
`Trainer.train_epoch`), validates, appends a history row and asks the callbacks whether to
stop. Ctrl-C stops at the next step boundary: callbacks get `on_interrupt` (the run folder
saves a checkpoint there) and `TrainingInterrupted` is raised.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cnnlab.settings import TrainSettings
from cnnlab.train.callbacks import Callback, EarlyStopping, ProgressBar
from cnnlab.train.data import as_images, as_labels, steps_per_epoch, stratified_split
from cnnlab.train.precision import choose
from cnnlab.train.trainer import Diverged, EpochState, Trainer


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the callbacks have saved what they save."""

    def __init__(self, state: EpochState):
        super().__init__(f"interrupted in epoch {state.epoch + 1} after {state.step} steps")
        self.state = state


@dataclass
class Arrays:
    """Images (N, H, W, C) uint8 and labels (N,) int64 as torch tensors sharing numpy memory."""

    x: torch.Tensor
    y: torch.Tensor

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray, what: str = "data") -> Arrays:
        images = as_images(x, f"{what} images")
        labels = as_labels(y, len(images), f"{what} labels")
        return cls(torch.from_numpy(images), torch.from_numpy(labels))

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class FitHistory:
    """What `fit` returns, shaped like Keras's History: `history` maps loss/accuracy/val_* to
    per-epoch lists, `epoch` counts from 0. (`cnnlab.rundir.History` is a run folder's history.csv.)"""

    rows: list[dict[str, float]] = field(default_factory=list)
    model: torch.nn.Module | None = None

    @property
    def epoch(self) -> list[int]:
        return [int(row["epoch"]) - 1 for row in self.rows]

    @property
    def history(self) -> dict[str, list[float]]:
        keys = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if self.rows and k in self.rows[0]]
        return {k: [row[k] for row in self.rows] for k in keys}


# --- the loop --------------------------------------------------------------------------


def run_epochs(
    trainer: Trainer,
    train: Arrays,
    validation: Arrays | None,
    settings: TrainSettings,
    callbacks: Sequence[Callback] = (),
    history: list[dict[str, float]] | None = None,
    resume_state: EpochState | None = None,
) -> list[dict[str, float]]:
    """Train epochs len(history) .. settings.epochs - 1; returns the history rows."""
    history = list(history or [])
    for cb in callbacks:
        cb.on_train_begin(trainer, settings.epochs)
    steps = steps_per_epoch(len(train), settings.batch_size)

    def progress(step: int, total: int, loss: float, accuracy: float) -> None:
        for cb in callbacks:
            cb.on_progress(step, total, loss, accuracy)

    with _stop_on_sigint(trainer):
        for epoch in range(len(history), settings.epochs):
            resuming = resume_state is not None and resume_state.epoch == epoch
            state = resume_state if resuming else EpochState(epoch)
            for cb in callbacks:
                cb.on_epoch_begin(epoch, steps)
            finished = trainer.train_epoch(
                train.x, train.y, state, settings.batch_size, settings.seed, on_progress=progress
            )
            if not finished:
                for cb in callbacks:
                    cb.on_interrupt(trainer, state)
                raise TrainingInterrupted(state)
            logs = _epoch_logs(trainer, state, validation)
            for key in ("val_loss",):  # the training loss is checked during the epoch
                if key in logs and not math.isfinite(logs[key]):
                    raise Diverged(epoch, None, key, logs[key])
            history.append(logs)
            stop = [cb.on_epoch_end(epoch, logs) for cb in callbacks]
            if any(stop):
                break
    for cb in callbacks:
        cb.on_train_end(trainer, history)
    return history


def _epoch_logs(trainer: Trainer, state: EpochState, validation: Arrays | None) -> dict[str, float]:
    started = time.perf_counter()
    loss, accuracy = state.means()
    logs = {"epoch": state.epoch + 1, "loss": loss, "accuracy": accuracy}
    if validation is not None:
        val_loss, val_accuracy, _ = trainer.evaluate(validation.x, validation.y)
        logs.update(val_loss=val_loss, val_accuracy=val_accuracy)
    logs["seconds"] = state.seconds + time.perf_counter() - started
    return logs


@contextmanager
def _stop_on_sigint(trainer: Trainer) -> Iterator[None]:
    """First Ctrl-C: finish the current step, then stop. Second: stop at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum, frame):
        if trainer.stop_requested:
            raise KeyboardInterrupt
        trainer.stop_requested = True

    previous = signal.signal(signal.SIGINT, request_stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# --- the Python API ----------------------------------------------------------------------


def fit(
    model,
    data,
    *,
    validation_data=None,
    verbose: bool = True,
    callbacks: Sequence[Callback] = (),
    **settings,
) -> FitHistory:
    """Train like Keras's `model.fit`; returns a `FitHistory` (`.history`, `.model`).

    model: a preset name, a model file, a ModelSpec, or a module from `cnnlab.models.build`.
    data: (x, y), or load_dataset's ((x_train, y_train), (x_test, y_test)) (its train part).
    validation_data: (x, y) to validate on instead of validation_split.
    settings: any TrainSettings field (epochs, batch_size, optimizer, lr, seed, precision,
    early_stopping, ...); defaults as `cnnlab train`, except validation_split=0.0 as in Keras.
    """
    settings.setdefault("validation_split", 0.0)
    config = TrainSettings.from_dict(settings)
    x, y = data[0] if isinstance(data[0], tuple) else data
    train = Arrays.of(x, y, "training")
    validation = Arrays.of(*validation_data, "validation") if validation_data is not None else None
    if validation is None and config.validation_split > 0:
        kept, held = stratified_split(train.y.numpy(), config.validation_split, config.seed)
        train, validation = Arrays(train.x[kept], train.y[kept]), Arrays(train.x[held], train.y[held])
    placement = choose(config.precision, config.threads)
    net = build_model(model, tuple(train.x.shape[1:]), int(train.y.max()) + 1, config.seed)
    trainer = Trainer(net, placement, config.optimizer, config.learning_rate)
    all_callbacks: list[Callback] = [ProgressBar()] if verbose else []
    if config.early_stopping:
        all_callbacks.append(EarlyStopping(config.early_stopping))
    all_callbacks.extend(callbacks)
    rows = run_epochs(trainer, train, validation, config, all_callbacks)
    return FitHistory(rows, trainer.net)


def build_model(model, input_shape: tuple[int, ...], classes: int, seed: int) -> torch.nn.Module:
    """A freshly initialised module (seeded) for a name, file or ModelSpec; a module as is."""
    if isinstance(model, torch.nn.Module):
        return model
    from cnnlab.models.build import build
    from cnnlab.models.source import load_model

    spec = load_model(model, input_shape=input_shape, classes=classes)
    torch.manual_seed(seed)
    return build(spec)


def _inference_trainer(model) -> Trainer:
    """A module as is (precision auto), or a run folder's model in the precision it trained in."""
    precision = "auto"
    if isinstance(model, (str, Path)):
        from cnnlab.rundir import RunFolder

        model, config = RunFolder.open(model).load_model()
        precision = config["precision"]
    return Trainer(model, choose(precision))


def evaluate(model, x, y) -> dict[str, float]:
    """{"loss", "accuracy"} of a module or a run folder on images x (uint8) and labels y."""
    trainer = _inference_trainer(model)
    data = Arrays.of(x, y)
    loss, accuracy, _ = trainer.evaluate(data.x, data.y)
    return {"loss": loss, "accuracy": accuracy}


def predict(model, x) -> np.ndarray:
    """Class probabilities (N, classes) for uint8 images x, from a module or a run folder."""
    trainer = _inference_trainer(model)
    images = torch.from_numpy(as_images(x))
    return torch.softmax(trainer.logits(images), dim=1).numpy()
