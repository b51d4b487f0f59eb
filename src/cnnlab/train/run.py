"""One training run into its run folder: the config record, the epochs, the final files.

`cnnlab train`, `--resume` and each process of a torchrun launch (distributed.py) share these
steps; `cnnlab.rundir` owns the folder's format.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

from cnnlab.settings import TrainSettings


def default_run_name(out: str, model: str, dataset: str) -> str:
    """MODEL-DATASET-TIME, with -2, -3, ... when that folder exists already."""
    base = f"{model}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    name, n = base, 1
    while (Path(out) / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def new_trainer(spec, settings: TrainSettings, precision: str):
    """A Trainer on a freshly built model: its initial weights come from settings.seed."""
    import torch

    from cnnlab.models.build import build
    from cnnlab.train.precision import choose
    from cnnlab.train.trainer import Trainer

    placement = choose(precision, settings.threads)
    torch.manual_seed(settings.seed)  # the initial weights
    return Trainer(build(spec), placement, settings.optimizer, settings.learning_rate)


def run_config(model_ref, command, spec, dataset, splits, settings: TrainSettings, trainer) -> dict[str, Any]:
    """config.json of a new run: everything needed to rerun it, and where it ran."""
    import numpy
    import torch

    from cnnlab import __version__
    from cnnlab.train.precision import cpu_has_bf16, cpu_name, usable_cores

    trainable, non_trainable = trainer.net.count_params()
    placement = trainer.placement
    return {
        "model_ref": model_ref,
        "model": spec.to_dict(),
        "params": {"trainable": trainable, "non_trainable": non_trainable},
        "dataset": {
            "name": dataset.name,
            "source": dataset.source,
            "fingerprint": dataset.fingerprint,
            "resize": list(dataset.resize) if dataset.resize else None,
            "input_shape": list(dataset.input_shape),
            "num_classes": dataset.num_classes,
            "class_names": dataset.class_names,
            "train_size": len(splits.train),
            "validation_size": len(splits.validation) if splits.validation is not None else 0,
            "test_size": len(splits.test),
            "pixel_mean": splits.pixel_mean,
        },
        "settings": settings.to_dict(),
        "seed": settings.seed,
        "precision": placement.precision,
        "device": placement.device,
        "threads": placement.threads,
        "kernels": _kernels(trainer),
        "cpu": {"name": cpu_name(), "bf16": cpu_has_bf16(), "cores": usable_cores()},
        "versions": {
            "cnnlab": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version(),
        },
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "status": "running",
        "epochs_done": 0,
        "wall_time_seconds": 0.0,
    }


def _kernels(trainer) -> dict[str, str]:
    """What ran the hot spots (engine.kernels_used), after the kind of training step."""
    from cnnlab import engine

    direct = trainer.direct if trainer.step_kind == "direct" else None
    placement = trainer.placement
    return {"training_step": trainer.step_kind,
            **engine.kernels_used(direct, trainer.optimizer, trainer.net, placement.device, placement.precision)}


def train_and_finish(run, config, trainer, splits, settings: TrainSettings, history, state, quiet: bool,
                     painter=None) -> int:
    """Train the epochs still to do, then write the model, test metrics and curves; 0 when
    finished, 130 when interrupted (the checkpoint is saved). `painter`: a started
    report.painter.Painter, given the curves to draw while the test set is evaluated."""
    from cnnlab.train.callbacks import EarlyStopping, ProgressBar, RunRecorder
    from cnnlab.train.loop import TrainingInterrupted, run_epochs
    from cnnlab.train.metrics import test_metrics
    from cnnlab.train.session import TEST_AS_VALIDATION_NOTE
    from cnnlab.train.trainer import Diverged

    _print_header(run, config, splits, settings)
    if settings.validation == "test":
        print(TEST_AS_VALIDATION_NOTE, flush=True)
    callbacks: list = [ProgressBar(live=False if quiet else None)]
    early = None
    if settings.early_stopping:
        early = EarlyStopping(settings.early_stopping)
        early.resume(history, run.load_best())
        callbacks.append(early)
    recorder = RunRecorder(run, history)
    callbacks.append(recorder)
    started = time.perf_counter()
    wall_before = config.get("wall_time_seconds", 0.0)
    config["status"] = "running"
    try:
        history = run_epochs(trainer, splits.train, splits.validation, settings, callbacks, history, state)
    except Diverged:
        # the folder stays readable: history up to the last finite epoch, status "diverged"
        config.update(status="diverged", epochs_done=len(recorder.history),
                      wall_time_seconds=wall_before + time.perf_counter() - started)
        run.write_config(config)
        raise
    except TrainingInterrupted as stop:
        config.update(status="interrupted", epochs_done=len(recorder.history),
                      wall_time_seconds=wall_before + time.perf_counter() - started)
        run.write_config(config)
        print(f"Interrupted in epoch {stop.state.epoch + 1} at step {stop.state.step}; checkpoint saved. "
              f"Continue with: cnnlab train --resume {run.path}", file=sys.stderr)
        return 130
    if painter is not None:
        painter.draw(run.path, ["training_curves"], ("png",))  # history.csv is final
    run.save_model(trainer.net, config["model"])
    loss, accuracy, predicted = trainer.evaluate(splits.test.x, splits.test.y)
    metrics = test_metrics(loss, accuracy, splits.test.y.numpy(), predicted.numpy(), config["dataset"]["class_names"])
    metrics["mistakes"] = _mistakes(trainer, splits.test, predicted)
    run.write_metrics(metrics)
    stopped = early is not None and early.stopped_epoch is not None
    config.update(status="stopped early" if stopped else "finished", epochs_done=len(history),
                  wall_time_seconds=wall_before + time.perf_counter() - started)
    run.write_config(config)
    if stopped:
        print(f"Early stopping: val_loss did not improve for {early.patience} epochs; "
              f"kept the weights of epoch {early.best_epoch + 1} (val_loss {early.best:.4f})")
    print(f"Test: loss {loss:.4f} - accuracy {accuracy:.4f} ({len(splits.test):,} images)")
    if painter is None or not painter.finish():
        from cnnlab.report.plots import plot_history  # matplotlib: only where no painter drew

        plot_history(run.path)  # the curves, as the lesson plots them after every fit
    print(f"Saved {run.path}/: model.safetensors, history.csv, metrics.json, config.json, plots/")
    return 0


def _mistakes(trainer, test, predicted) -> dict:
    """The most confident wrong answers, kept so that `cnnlab report` draws them without torch."""
    import torch

    from cnnlab.report.mistakes import mistakes_record, most_confident_mistakes
    from cnnlab.train.trainer import Trainer

    wrong = torch.nonzero(predicted != test.y).flatten()
    if len(wrong) == 0:
        return mistakes_record([], [], [])
    # this process alone: a distributed trainer's logits are collective, and only rank 0 gets here
    probabilities = torch.softmax(Trainer.logits(trainer, test.x[wrong]), dim=1)
    return mistakes_record(*most_confident_mistakes(wrong.numpy(), probabilities.numpy(), test.y.numpy()))


def _print_header(run, config, splits, settings: TrainSettings) -> None:
    data = config["dataset"]
    if splits.validation is None:
        held = "no validation"
    elif settings.validation == "test":
        held = "validation on the test set"
    else:
        held = f"{len(splits.validation):,} validation ({settings.validation_split:g}, stratified)"
    steps = -(-len(splits.train) // settings.batch_size)
    print(f"Training {config['model']['name']} on {data['name']}: {len(splits.train):,} train, {held}, "
          f"{len(splits.test):,} test")
    print(f"{settings.epochs} epoch{'s' if settings.epochs > 1 else ''} of {steps:,} steps (batch {settings.batch_size}), {settings.optimizer} "
          f"lr {settings.learning_rate:g}, seed {settings.seed}, {config['precision']} on {config['device']} "
          f"({config['threads']} thread{'s' if config['threads'] > 1 else ''})")
    print(f"Run folder: {run.path}", flush=True)
