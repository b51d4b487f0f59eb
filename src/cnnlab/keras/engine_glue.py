"""The Keras API's loops on cnnlab's engine: epochs, validation, evaluation, prediction.

Images arrive from data.py as uint8 (meaning value / 255: the step program scales them as
it reads them) or float32 (values as given: the step program copies them in unscaled).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from cnnlab.keras.callbacks import ProgbarLogger, logs_value
from cnnlab.train.precision import choose
from cnnlab.train.trainer import EpochState, Trainer


def make_trainer(net, optimizer) -> Trainer:
    trainer = Trainer(net, choose("auto"), optimizer._engine_name, optimizer.learning_rate, keras_formulas=True)
    trainer.nonfinite = "continue"  # Keras trains on through a nan loss and reports it
    return trainer


def run_fit(model, trainer: Trainer, x, y, val, batch_size, epochs, initial_epoch, shuffle,
            callbacks, metrics) -> None:
    images, labels = torch.from_numpy(x), torch.from_numpy(y)
    count = len(labels)
    steps = -(-count // batch_size)
    seed = int(np.random.randint(0, 2**31 - 1))  # keras.utils.set_random_seed fixes it
    watchers = callbacks.nonfinite_watchers()
    trainer.nonfinite = "stop" if watchers else "continue"
    callbacks.on_train_begin({})
    for epoch in range(initial_epoch, epochs):
        callbacks.on_epoch_begin(epoch, {})
        progress = callbacks.progress
        epoch_x, epoch_y = images, labels
        if not shuffle:  # the engine gathers batches in a seeded order: undo it
            order = np.random.default_rng([seed, epoch]).permutation(count)
            inverse = torch.from_numpy(np.argsort(order))
            epoch_x, epoch_y = images[inverse], labels[inverse]

        def on_progress(step, total, loss, accuracy, progress=progress):
            if progress is not None:
                progress.update(step, total, _logs(loss, accuracy, metrics))

        state = EpochState(epoch)
        trainer.train_epoch(epoch_x, epoch_y, state, batch_size, seed, on_progress=on_progress)
        loss, accuracy = state.means()
        logs = _logs(loss, accuracy, metrics)
        if watchers and not np.isfinite(loss):  # the engine stopped at the batch of the first one
            for watcher in watchers:
                watcher.on_batch_end(state.step - 1, dict(logs))
            if progress is not None:
                progress.update(state.step, steps, logs)
        if val is not None:
            val_loss, val_accuracy, _ = trainer.evaluate(torch.from_numpy(val[0]), torch.from_numpy(val[1]))
            logs.update({f"val_{k}": v for k, v in _logs(val_loss, val_accuracy, metrics).items()})
        if progress is not None:
            progress.update(steps, steps, logs, final=True)
        callbacks.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callbacks.on_train_end({})


def _logs(loss: float, accuracy: float, metrics: list[str]) -> dict[str, float]:
    """Keras's logs, in name order as Keras 3 reports them (accuracy before loss, loss before
    sparse_categorical_accuracy)."""
    logs = {name: logs_value(accuracy) for name in metrics}
    logs["loss"] = logs_value(loss)
    return dict(sorted(logs.items()))


def run_evaluate(model, trainer: Trainer, x, y, batch_size, verbose, metrics) -> dict[str, float]:
    started = time.time()
    loss, accuracy, _ = trainer.evaluate(torch.from_numpy(x), torch.from_numpy(y))
    logs = _logs(loss, accuracy, metrics)
    _final_bar(verbose, -(-len(y) // batch_size), started, logs)
    return logs


def run_predict(model, x, batch_size, verbose) -> np.ndarray:
    started = time.time()
    net = model._ensure_net()
    trainer = model._trainer or Trainer(net, choose("auto"))
    outputs = trainer.logits(torch.from_numpy(x))
    if getattr(trainer.net, "output_softmax", False):
        outputs = torch.softmax(outputs, dim=-1)
    _final_bar(verbose, -(-len(x) // batch_size), started, {})
    return outputs.numpy()


def _final_bar(verbose: int, steps: int, started: float, logs: dict) -> None:
    if verbose:
        bar = ProgbarLogger(verbose, 1)
        bar.started = started
        bar.update(steps, steps, logs, final=True)
