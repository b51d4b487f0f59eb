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

import dataclasses
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

from cnnlab.settings import ConfigError, TrainSettings
from cnnlab.train.callbacks import Callback, EarlyStopping, ProgressBar
from cnnlab.train.data import DataError, as_images, as_labels, steps_per_epoch, stratified_split
from cnnlab.train.precision import choose
from cnnlab.train.trainer import Diverged, EpochState, Trainer


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training, after the callbacks have saved what they save."""

    def __init__(self, state: EpochState):
        super().__init__(f"interrupted in epoch {state.epoch + 1} after {state.step} steps")
        self.state = state


@dataclass
class Arrays:
    """Images (N, H, W, C) uint8 (float32 in [0, 1] where Python passed floats) and labels (N,)
    int64, as torch tensors sharing numpy memory."""

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
    per-epoch lists, `epoch` counts from 0, `params` holds verbose, epochs and steps. (`cnnlab.rundir.History` is a run folder's history.csv.)"""

    rows: list[dict[str, float]] = field(default_factory=list)
    model: torch.nn.Module | None = None
    params: dict = field(default_factory=dict)  # Keras's: verbose, epochs, steps (per epoch)

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

# fit's own keywords besides the TrainSettings fields; Keras spellings that cnnlab names otherwise
FIT_KEYWORDS = ("validation_data", "verbose", "callbacks")
KERAS_SPELLINGS = {"learning_rate": "lr"}


def fit(
    model,
    data,
    *,
    validation_data=None,
    verbose="auto",
    callbacks: Sequence[Callback] = (),
    **settings,
) -> FitHistory:
    """Train like Keras's `model.fit`; returns a `FitHistory` (`.history`, `.params`, `.model`).

    model: a preset name, a model file, a ModelSpec, or a module from `cnnlab.models.build`.
    data: (x, y), or load_dataset's ((x_train, y_train), (x_test, y_test)).
      x: uint8 pixels 0..255, or floats in [0, 1] (the lesson's `x / 255.0`).
    validation_data: (x, y) to validate on, instead of validation_split or validation="test".
    verbose: "auto" or 1 a live progress bar, 2 one line per epoch, 0 nothing (as Keras).
    settings: the TrainSettings fields, each taking effect as in `cnnlab train`: epochs,
      batch_size, optimizer, lr, validation_split (default 0.0 here, as in Keras),
      validation ("test" validates on data's test part), train_subset (the first N training
      images), seed, precision, early_stopping (patience), threads.
    A setting that is unknown or means nothing with the data given is refused (ConfigError).
    """
    config = _fit_settings(settings, validation_data is not None)
    progress = _progress_bar(verbose)
    train, validation = _fit_data(data, validation_data, config)
    placement = choose(config.precision, config.threads)
    labels = train.y if validation is None else torch.cat([train.y, validation.y])
    net = build_model(model, tuple(train.x.shape[1:]), int(labels.max()) + 1, config.seed)
    trainer = Trainer(net, placement, config.optimizer, config.learning_rate)
    all_callbacks: list[Callback] = [progress] if progress else []
    if config.early_stopping:
        all_callbacks.append(EarlyStopping(config.early_stopping))
    all_callbacks.extend(callbacks)
    rows = run_epochs(trainer, train, validation, config, all_callbacks)
    params = {"verbose": verbose, "epochs": config.epochs, "steps": steps_per_epoch(len(train), config.batch_size)}
    return FitHistory(rows, trainer.net, params)


def _fit_settings(settings: dict, has_validation_data: bool) -> TrainSettings:
    """TrainSettings from fit's keywords; unknown ones and ones the data makes meaningless refused."""
    names = [f.name for f in dataclasses.fields(TrainSettings)]
    for key in settings:
        if key not in names:
            spelled = KERAS_SPELLINGS.get(key)
            hint = f"; cnnlab calls it {spelled}=" if spelled else ""
            raise ConfigError(f"cnnlab.fit got an unknown argument {key!r}{hint}; it takes "
                              f"{', '.join(FIT_KEYWORDS)} and the settings {', '.join(names)}")
    if has_validation_data:
        for key, unused in (("validation_split", 0.0), ("validation", "split")):
            if settings.get(key, unused) != unused:
                raise ConfigError(f"{key}={settings[key]!r} and validation_data both choose the validation "
                                  "data; give only one of them")
    if settings.get("validation") == "test" and settings.get("validation_split", 0.0) != 0.0:
        raise ConfigError(f"validation_split={settings['validation_split']!r} with validation='test': "
                          "the test set is the validation data then; give only one of them")
    values = {"validation_split": 0.0, **settings}
    if has_validation_data:
        # checked as validating on given data, so that early_stopping needs no validation_split
        return dataclasses.replace(TrainSettings.from_dict({**values, "validation": "test"}), validation="split")
    return TrainSettings.from_dict(values)


def _progress_bar(verbose) -> ProgressBar | None:
    """Keras's verbose: "auto" or 1 a live bar (on a terminal), 2 one line per epoch, 0 nothing."""
    if isinstance(verbose, str) and verbose == "auto":
        return ProgressBar()
    if isinstance(verbose, (bool, int)) and verbose in (0, 1, 2):
        return ProgressBar(live=False) if verbose == 2 else ProgressBar() if verbose else None
    raise ConfigError(f"verbose={verbose!r}: use 'auto', 0, 1 or 2, as Keras's fit")


def _fit_data(data, validation_data, config: TrainSettings) -> tuple[Arrays, Arrays | None]:
    """(training, validation) arrays as the settings choose them, like `cnnlab train`'s splits."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise DataError("data must be (x, y), or load_dataset's ((x_train, y_train), (x_test, y_test))")
    split = isinstance(data[0], tuple) and len(data[0]) == 2  # load_dataset's pair of pairs
    x, y = data[0] if split else data
    train = api_arrays(x, y, "training")
    if config.train_subset is not None:
        if config.train_subset > len(train):
            raise ConfigError(f"train_subset={config.train_subset} is more than the {len(train):,} training images")
        train = Arrays(train.x[: config.train_subset], train.y[: config.train_subset])
    if validation_data is not None:
        return train, api_arrays(*_pair(validation_data, "validation_data"), "validation")
    if config.validation == "test":
        if not split:
            raise ConfigError("validation='test' validates on the test set: pass data as load_dataset gives "
                              "it, ((x_train, y_train), (x_test, y_test)), or give validation_data=(x, y)")
        return train, api_arrays(*_pair(data[1], "data's test part"), "test")
    if config.validation_split > 0:
        kept, held = stratified_split(train.y.numpy(), config.validation_split, config.seed)
        if len(kept) == 0 or len(held) == 0:
            raise ConfigError(f"validation_split={config.validation_split} of {len(train)} images leaves "
                              "nothing to train or validate on")
        kept_t, held_t = torch.from_numpy(kept), torch.from_numpy(held)
        return Arrays(train.x[kept_t], train.y[kept_t]), Arrays(train.x[held_t], train.y[held_t])
    return train, None


def _pair(value, what: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise DataError(f"{what} must be a pair (x, y)")
    return tuple(value)


def api_images(x, what: str = "x") -> np.ndarray:
    """Images from Python: uint8 pixels as they are; floats in [0, 1] as float32, which the
    engine takes without scaling (so x / 255.0 trains as the uint8 pixels would)."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        return as_images(x, what)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"{what} has shape {x.shape}; expected images (N, H, W) or (N, H, W, C)")
    if x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
        raise DataError(f"{what} are floats from {np.nanmin(x):g} to {np.nanmax(x):g}; cnnlab takes uint8 "
                        "pixels 0..255 or floats in [0, 1] (x / 255.0); for standardised or other float "
                        "inputs use cnnlab.keras")
    return np.ascontiguousarray(x, dtype=np.float32)


def api_arrays(x, y, what: str) -> Arrays:
    images = api_images(x, f"{what} images")
    labels = as_labels(y, len(images), f"{what} labels")
    return Arrays(torch.from_numpy(images), torch.from_numpy(labels))


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
    """{"loss", "accuracy"} of a module or a run folder on images x (uint8, or floats in [0, 1])
    and labels y."""
    trainer = _inference_trainer(model)
    data = api_arrays(x, y, "x")
    loss, accuracy, _ = trainer.evaluate(data.x, data.y)
    return {"loss": loss, "accuracy": accuracy}


def predict(model, x) -> np.ndarray:
    """Class probabilities (N, classes) for images x (uint8, or floats in [0, 1]), from a module
    or a run folder."""
    trainer = _inference_trainer(model)
    images = torch.from_numpy(api_images(x))
    return torch.softmax(trainer.logits(images), dim=1).numpy()
