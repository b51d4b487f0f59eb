"""`cnnlab train`, `evaluate` and `predict`: the work behind the CLI's parsing.

Order matters for "nothing written on bad input": settings, dataset, model and data split
are all resolved and checked before the run folder is created.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from cnnlab.config import TrainSettings
from cnnlab.errors import CnnlabError

# flags that are TrainSettings fields (argparse dest == field name)
SETTING_FLAGS = (
    "epochs", "batch_size", "optimizer", "lr", "validation_split", "validation", "train_subset",
    "seed", "precision", "early_stopping", "threads",
)
RESUME_FLAGS = ("epochs", "threads")  # what may change when a run is continued


# --- train ---------------------------------------------------------------------------


def train(args) -> int:
    if args.resume:
        return resume(args)
    if not args.model:
        raise CnnlabError("train needs a MODEL (a preset such as cifar_model, or a model file), or --resume RUN")
    if not args.dataset:
        raise CnnlabError("train needs --dataset NAME, e.g. --dataset cifar10")
    flags = {name: getattr(args, name) for name in SETTING_FLAGS}
    settings = TrainSettings.from_sources(args.config, flags)
    code, _ = train_run(args.model, args.dataset, settings, args.out, args.name, args.quiet,
                        command=_command_line(args))
    return code


def train_run(model, dataset, settings: TrainSettings, out: str = "runs", name: str | None = None,
              quiet: bool = False, command: str | None = None):
    """Train `model` (a preset, a model file or a ModelSpec) on `dataset` into a run folder.

    Returns (exit code, run folder path): 0 finished, 130 interrupted. This is `cnnlab
    train` without the argument parsing; the lesson and sweeps call it. Under torchrun it
    trains data-parallel (distributed.py); processes other than rank 0 return (code, None).
    """
    from cnnlab.train.distributed import launched_world, train_run_distributed
    from cnnlab.train.session import open_dataset, prepare_data, resolve_model

    world = launched_world()
    if world is not None:
        return train_run_distributed(world, model, dataset, settings, out, name, quiet, command)

    data = dataset if not isinstance(dataset, str) else open_dataset(dataset)
    spec = resolve_model(model, data)
    splits = prepare_data(data, settings)
    trainer = _new_trainer(spec, settings, settings.precision)

    from cnnlab.train.runs import RunFolder

    model_ref = model if isinstance(model, str) else spec.name
    run = RunFolder.create(out, name or _default_name(out, spec.name, data.name))
    config = _run_config(model_ref, command, spec, data, splits, settings, trainer)
    run.write_config(config)
    code = _train_and_finish(run, config, trainer, splits, settings, [], None, quiet)
    return code, run.path


def resume(args) -> int:
    extra = [f"--{name.replace('_', '-')}" for name in SETTING_FLAGS if name not in RESUME_FLAGS
             and getattr(args, name) is not None]
    if args.model or args.dataset or args.config or args.name or extra:
        raise CnnlabError(
            "--resume continues a run with its saved settings; only --epochs, --threads and --quiet "
            "may be given with it"
        )
    from cnnlab.models.layers import ModelSpec
    from cnnlab.train.distributed import launched_world
    from cnnlab.train.runs import RunError, RunFolder
    from cnnlab.train.session import open_dataset, prepare_data, resolve_model

    if launched_world() is not None:
        raise CnnlabError(f"--resume is not supported under torchrun; continue {args.resume} in one "
                          f"process: cnnlab train --resume {args.resume}")
    run = RunFolder.open(args.resume)
    config = run.read_config()
    if "settings" not in config or not run.last_checkpoint.is_file():
        raise RunError(f"{run.path} has no checkpoint to resume from (checkpoint/last.safetensors)")
    values = dict(config["settings"])
    values["threads"] = config["threads"]  # the thread count it ran with: fp32 bits depend on it
    values.update({k: getattr(args, k) for k in RESUME_FLAGS if getattr(args, k) is not None})
    settings = TrainSettings.from_dict(values)
    dataset = open_dataset(config["dataset"]["name"])
    spec = resolve_model(ModelSpec.from_dict(config["model"]), dataset)
    splits = prepare_data(dataset, settings)
    trainer = _new_trainer(spec, settings, config["precision"])
    history, state = run.load_checkpoint(trainer)
    if state is None and len(history) >= settings.epochs:
        raise RunError(
            f"{run.path} has finished its {len(history)} epochs; give --epochs N with N > "
            f"{len(history)} to train further"
        )
    config["settings"] = settings.to_dict()
    config["resumed"] = config.get("resumed", 0) + 1
    where = f"epoch {state.epoch + 1}, step {state.step}" if state else f"epoch {len(history) + 1}"
    print(f"Resuming {run.path} at {where}", flush=True)
    return _train_and_finish(run, config, trainer, splits, settings, history, state, args.quiet)


def _new_trainer(spec, settings: TrainSettings, precision: str):
    import torch

    from cnnlab.models.build import build
    from cnnlab.train.precision import choose
    from cnnlab.train.trainer import Trainer

    placement = choose(precision, settings.threads)
    torch.manual_seed(settings.seed)  # the initial weights
    return Trainer(build(spec), placement, settings.optimizer, settings.learning_rate)


def _train_and_finish(run, config, trainer, splits, settings, history, state, quiet: bool) -> int:
    from cnnlab.train.callbacks import EarlyStopping, ProgressBar
    from cnnlab.train.loop import TrainingInterrupted, run_epochs
    from cnnlab.train.metrics import test_metrics
    from cnnlab.train.runs import RunRecorder
    from cnnlab.train.session import TEST_AS_VALIDATION_NOTE

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
    except TrainingInterrupted as stop:
        config.update(status="interrupted", epochs_done=len(recorder.history),
                      wall_time_seconds=wall_before + time.perf_counter() - started)
        run.write_config(config)
        print(f"Interrupted in epoch {stop.state.epoch + 1} at step {stop.state.step}; checkpoint saved. "
              f"Continue with: cnnlab train --resume {run.path}", file=sys.stderr)
        return 130
    run.save_model(trainer.net, config["model"])
    loss, accuracy, predicted = trainer.evaluate(splits.test.x, splits.test.y)
    metrics = test_metrics(loss, accuracy, splits.test.y.numpy(), predicted.numpy(), config["dataset"]["class_names"])
    run.write_metrics(metrics)
    stopped = early is not None and early.stopped_epoch is not None
    config.update(status="stopped early" if stopped else "finished", epochs_done=len(history),
                  wall_time_seconds=wall_before + time.perf_counter() - started)
    run.write_config(config)
    if stopped:
        print(f"Early stopping: val_loss did not improve for {early.patience} epochs; "
              f"kept the weights of epoch {early.best_epoch + 1} (val_loss {early.best:.4f})")
    print(f"Test: loss {loss:.4f} - accuracy {accuracy:.4f} ({len(splits.test):,} images)")
    from cnnlab.report.plots import plot_history

    plot_history(run.path)  # the curves, as the lesson plots them after every fit
    print(f"Saved {run.path}/: model.safetensors, history.csv, metrics.json, config.json, plots/")
    return 0


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


def _default_name(out: str, model: str, dataset: str) -> str:
    base = f"{model}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    name, n = base, 1
    while (Path(out) / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _command_line(args) -> list[str] | None:
    """How this run was started, when it was started from the command line."""
    if os.path.basename(sys.argv[0]) not in ("cnnlab", "__main__.py"):
        return None  # called from Python (a test, a notebook): argv is not ours
    return ["cnnlab", *sys.argv[1:]]


def _kernels(trainer) -> dict[str, str]:
    """What ran the hot spots: C kernels or torch, direct training step or autograd."""
    from cnnlab.models.native import adam, maxpool, onednn
    from cnnlab.train.optimizers import LeanAdam

    direct = trainer.step_kind == "direct"
    lean_adam = isinstance(trainer.optimizer, LeanAdam) and trainer.placement.device == "cpu"
    program = trainer.direct.program_unsupported() if direct else "autograd"
    return {
        "training_step": trainer.step_kind,
        "step_program": "one C call per step" if program is None else f"layer by layer ({program})",
        "convolution": onednn.status() if direct else "torch",
        "max_pooling": maxpool.kernel_status(),  # bit-identical to torch's either way
        "optimizer_update": adam.status() if lean_adam else "torch",  # bit-identical too
    }


def _run_config(model_ref, command, spec, dataset, splits, settings: TrainSettings, trainer) -> dict[str, Any]:
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


# --- evaluate / predict ------------------------------------------------------------------


def evaluate(args) -> int:
    from cnnlab.train.metrics import format_metrics, test_metrics
    from cnnlab.train.precision import choose
    from cnnlab.train.runs import load_trained
    from cnnlab.train.session import open_dataset, resolve_model
    from cnnlab.train.trainer import Trainer

    net, config = load_trained(args.run)
    from cnnlab.models.layers import ModelSpec

    dataset = open_dataset(args.dataset or config["dataset"]["name"])
    resolve_model(ModelSpec.from_dict(config["model"]), dataset)
    trainer = Trainer(net, choose(config["precision"], args.threads))
    loss, accuracy, predicted = trainer.evaluate(dataset.test.x, dataset.test.y)
    metrics = test_metrics(loss, accuracy, dataset.test.y.numpy(), predicted.numpy(), dataset.class_names)
    print(f"{args.run} on the {dataset.name} test set ({len(dataset.test):,} images)")
    print(format_metrics(metrics))
    return 0


def predict(args) -> int:
    import numpy as np
    import torch

    from cnnlab.train.images import prepare_image
    from cnnlab.train.precision import choose
    from cnnlab.train.runs import load_trained
    from cnnlab.train.trainer import Trainer

    if args.top < 1:
        raise CnnlabError(f"--top {args.top} must be at least 1")
    net, config = load_trained(args.run)
    data = config["dataset"]
    shape = tuple(data["input_shape"])
    images = [prepare_image(path, shape, data.get("pixel_mean"), args.invert) for path in args.images]
    trainer = Trainer(net, choose(config["precision"], args.threads))
    batch = torch.from_numpy(np.stack([image.pixels for image in images]))
    probabilities = torch.softmax(trainer.logits(batch), dim=1).numpy()
    names = data["class_names"]
    for image, probs in zip(images, probabilities):
        w, h = image.original_size
        print(f"{image.path} ({w}x{h} {image.original_mode} -> {'x'.join(map(str, shape))})")
        if image.inverted:
            print("  inverted: the image is dark on light, the training images are light on dark "
                  "(--invert no keeps it as it is)")
        for index in np.argsort(-probs, kind="stable")[: args.top]:
            print(f"  {names[index]:<12} {probs[index]:.4f}")
    return 0
