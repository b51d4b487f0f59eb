"""`cnnlab train`, `evaluate`, `predict`, and `plot`/`report` given predictions: the work behind the CLI.

Order matters for "nothing written on bad input": settings, dataset, model and data split
are all resolved and checked before the run folder is created.
"""

from __future__ import annotations

from cnnlab.errors import CnnlabError
from cnnlab.settings import TrainSettings, flag_names, setting_flags

RESUME_FLAGS = ("epochs", "threads")  # what may change when a run is continued


# --- train ---------------------------------------------------------------------------


def train(args) -> int:
    if args.resume:
        return resume(args)
    if not args.model:
        raise CnnlabError("train needs a MODEL (a preset such as cifar_model, or a model file), or --resume RUN")
    if not args.dataset:
        raise CnnlabError("train needs --dataset NAME, e.g. --dataset cifar10")
    import os

    from cnnlab.report.painter import Painter

    settings = TrainSettings.from_sources(args.config, setting_flags(args))
    # one run in this process, torch not loaded yet: a painter loads matplotlib on another core
    # meanwhile and draws the curves (under torchrun, rank 0 draws them itself)
    painter = None if "WORLD_SIZE" in os.environ else Painter.start()
    try:
        code, _ = train_run(args.model, args.dataset, settings, args.out, args.name, args.quiet,
                            command=args.command_line, painter=painter)
    finally:
        if painter is not None:
            painter.close()
    return code


def train_run(model, dataset, settings: TrainSettings, out: str = "runs", name: str | None = None,
              quiet: bool = False, command: str | None = None, painter=None):
    """Train `model` (a preset, a model file or a ModelSpec) on `dataset` into a run folder.

    Returns (exit code, run folder path): 0 finished, 130 interrupted. This is `cnnlab
    train` without the argument parsing; the lesson and sweeps call it. Under torchrun it
    trains data-parallel (distributed.py); processes other than rank 0 return (code, None).
    `painter`: a started report.painter.Painter for the curves (the caller closes it).
    """
    from cnnlab.rundir import RunFolder
    from cnnlab.train.distributed import launched_world, train_run_distributed
    from cnnlab.train.run import default_run_name, new_trainer, run_config, train_and_finish
    from cnnlab.train.session import open_dataset, prepare_data, resolve_model

    world = launched_world()
    if world is not None:
        return train_run_distributed(world, model, dataset, settings, out, name, quiet, command)

    data = dataset if not isinstance(dataset, str) else open_dataset(dataset)
    spec = resolve_model(model, data)
    splits = prepare_data(data, settings)
    trainer = new_trainer(spec, settings, settings.precision)
    model_ref = model if isinstance(model, str) else spec.name
    run = RunFolder.create(out, name or default_run_name(out, spec.name, data.name))
    config = run_config(model_ref, command, spec, data, splits, settings, trainer)
    run.write_config(config)
    code = train_and_finish(run, config, trainer, splits, settings, [], None, quiet, painter=painter)
    return code, run.path


def resume(args) -> int:
    extra = [f"--{name.replace('_', '-')}" for name in flag_names() if name not in RESUME_FLAGS
             and getattr(args, name) is not None]
    if args.model or args.dataset or args.config or args.name or extra:
        raise CnnlabError(
            "--resume continues a run with its saved settings; only --epochs, --threads and --quiet "
            "may be given with it"
        )
    from cnnlab.errors import RunError
    from cnnlab.models.layers import ModelSpec
    from cnnlab.rundir import RunFolder
    from cnnlab.train.data import steps_per_epoch
    from cnnlab.train.distributed import launched_world
    from cnnlab.train.run import new_trainer, train_and_finish
    from cnnlab.train.session import open_recorded_dataset, prepare_data, resolve_model
    from cnnlab.train.trainer import EpochState

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
    dataset = open_recorded_dataset(config["dataset"])
    spec = resolve_model(ModelSpec.from_dict(config["model"]), dataset)
    splits = prepare_data(dataset, settings)
    trainer = new_trainer(spec, settings, config["precision"])
    history, progress = run.load_checkpoint(trainer.net, trainer.optimizer)
    state = EpochState(**progress) if progress is not None else None
    if state is not None and state.step > steps_per_epoch(len(splits.train), settings.batch_size):
        raise RunError(f"{run.last_checkpoint} is damaged: it stopped at step {state.step} of an epoch "
                       f"that has {steps_per_epoch(len(splits.train), settings.batch_size)}")
    if state is None and len(history) >= settings.epochs:
        raise RunError(
            f"{run.path} has finished its {len(history)} epochs; give --epochs N with N > "
            f"{len(history)} to train further"
        )
    config["settings"] = settings.to_dict()
    config["resumed"] = config.get("resumed", 0) + 1
    where = f"epoch {state.epoch + 1}, step {state.step}" if state else f"epoch {len(history) + 1}"
    print(f"Resuming {run.path} at {where}", flush=True)
    return train_and_finish(run, config, trainer, splits, settings, history, state, args.quiet)


# --- evaluate / predict ------------------------------------------------------------------


def evaluate(args) -> int:
    from cnnlab.models.layers import ModelSpec
    from cnnlab.rundir import RunFolder
    from cnnlab.train.metrics import format_metrics, test_metrics
    from cnnlab.train.precision import choose
    from cnnlab.train.session import open_dataset, open_recorded_dataset, resolve_model
    from cnnlab.train.trainer import Trainer

    net, config = RunFolder.open(args.run).load_model()

    # the data it trained on, unless another dataset is asked for
    dataset = open_dataset(args.dataset) if args.dataset else open_recorded_dataset(config["dataset"])
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

    from cnnlab.rundir import RunFolder
    from cnnlab.train.images import prepare_image
    from cnnlab.train.precision import choose
    from cnnlab.train.trainer import Trainer

    if args.top < 1:
        raise CnnlabError(f"--top {args.top} must be at least 1")
    net, config = RunFolder.open(args.run).load_model()
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


# --- plot / report -------------------------------------------------------------------------


def plot_or_report(args) -> int:
    """`cnnlab plot` and `cnnlab report`: the report stage, given this stage's predictions for
    the mistakes grid (report/ reads run folders and never imports the training code)."""
    from cnnlab.report.commands import run

    return run(args, predict=_predict)


def _predict(run_dir, x):
    from cnnlab.train.loop import predict  # torch: only when a mistakes grid is drawn

    return predict(run_dir, x)
