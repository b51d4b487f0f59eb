"""Command line: argument parsing only. Work happens in the stage modules, imported lazily
so that `cnnlab --help` and `cnnlab params` never import torch."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from cnnlab.errors import CnnlabError
from cnnlab.settings import add_setting_flags

DESCRIPTION = "cnnlab: small convolutional networks on image data, the Keras way."


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cnnlab", description=DESCRIPTION)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # --- params -------------------------------------------------------------------
    p = sub.add_parser("params", help="count the parameters of one Dense or Conv2D layer")
    psub = p.add_subparsers(dest="layer", metavar="LAYER", required=True, parser_class=_Parser)
    d = psub.add_parser("dense", help="a Dense layer on a (flattened) input")
    d.add_argument("--input", required=True, help="input shape, e.g. 32x32x3 (flattened first)")
    d.add_argument("--units", required=True, type=int, help="number of units")
    d.add_argument("--no-bias", action="store_true", help="use_bias=False")
    c = psub.add_parser("conv", help="a Conv2D layer")
    c.add_argument("--input", help="input shape HxWxC, e.g. 32x32x3 (gives the output shape)")
    c.add_argument("--channels", type=int, help="input channels (if --input is not given)")
    c.add_argument("--filters", required=True, type=int, help="number of kernels")
    c.add_argument("--kernel", required=True, help="kernel size, e.g. 3x3")
    c.add_argument("--strides", default="1", help="strides, e.g. 1 or 2x2 (default 1)")
    c.add_argument("--padding", default="valid", choices=["valid", "same"])
    c.add_argument("--no-bias", action="store_true", help="use_bias=False")

    # --- summary ------------------------------------------------------------------
    s = sub.add_parser("summary", help="print a model's Keras-format summary")
    s.add_argument("model", help="preset name, layer file, Keras .py file, TOML/JSON, or - for stdin")
    _add_input_options(s)
    s.add_argument("--explain", action="store_true", help="add the parameter formula column")
    s.add_argument("--macs", action="store_true", help="add multiply-accumulates per layer")
    s.add_argument("--line-length", type=int, default=None, help="table width (Keras: 76 in notebooks)")
    s.add_argument("--model", dest="model_number", type=int, metavar="N",
                   help="only the Nth model of code that builds several (default: each in order)")
    s.add_argument("--call", help='read the models a call of the code\'s function builds, e.g. "create_nn(10, 5)"')

    # --- models -------------------------------------------------------------------
    sub.add_parser("models", help="list the preset models")

    # (other stages add their subcommands below this line)
    _add_sweep_command(sub)
    le = sub.add_parser("lesson", help="the CNN lesson's exercise page, answered and trained")
    le.add_argument("--dataset", nargs="+", metavar="NAME",
                    help="datasets for questions 3-4 (default: fashion_mnist), e.g. cifar10 mnist")
    le.add_argument("--edition", choices=("cifar", "dollar-street"), default="cifar",
                    help="the lesson's edition: cifar (default) or dollar-street (Dollar Street 10, "
                         "--dataset data/dataset_dollarstreet)")
    le.add_argument("--epochs", type=int, default=None, help="epochs per model (default 20; 3 with --quick)")
    le.add_argument("--quick", action="store_true", help="3 epochs on a 3,000-image subset (about 20 s)")
    le.add_argument("--out", default="runs/lesson", help="folder for the runs and index.html")
    le.add_argument("--seed", type=int, default=0)
    le.add_argument("--threads", type=int, default=None,
                    help="CPU threads for training (default: the cores not busy with other work)")
    le.add_argument("--overwrite", action="store_true", help="replace an existing lesson folder")
    le.add_argument("--quiet", action="store_true", help="no progress bars")
    _add_train_commands(sub)  # train, evaluate, predict

    # --- plot / report / compare --------------------------------------------------
    pl = sub.add_parser("plot", help="draw a run's curves, confusion matrix, mistakes (PNG; SVG with --svg)")
    pl.add_argument("run", help="a run folder, e.g. runs/cifar_model; pictures go to RUN/plots/")
    pl.add_argument("--curves-only", action="store_true", help="only the training curves (needs no data)")
    rp = sub.add_parser("report", help="write a run's self-contained HTML report (RUN/index.html)")
    rp.add_argument("run", help="a run folder, e.g. runs/cifar_model")
    rp.add_argument("--out", help="HTML file to write (default RUN/index.html)")
    for pictures in (pl, rp):
        pictures.add_argument("--svg", action="store_true", help="also write each picture as SVG (for print)")
    cp = sub.add_parser("compare", help="compare runs: a table, overlaid curves, what differs")
    cp.add_argument("runs", nargs="+", metavar="RUN", help="two or more run folders")
    cp.add_argument("--out", default="compare.html", help="HTML file to write (default compare.html)")
    cp.add_argument("--text-only", action="store_true", help="print the comparison only, write no HTML")

    # --- datasets -----------------------------------------------------------------
    ds = sub.add_parser("datasets", help="list, download, inspect and preview datasets")
    dsub = ds.add_subparsers(dest="datasets_command", metavar="ACTION", required=True, parser_class=_Parser)
    dsub.add_parser("list", help="every dataset: shape, classes, size on disk, where it is")
    dl = dsub.add_parser("download", help="download, verify and decode datasets (progress on stderr)")
    dl.add_argument("names", nargs="+", metavar="NAME", help="mnist, fashion_mnist, cifar10, cifar100")
    di = dsub.add_parser("info", help="shapes, class counts, source files with their hashes, location")
    di.add_argument("name", help="a dataset name or an image folder")
    di.add_argument("--label-mode", choices=["fine", "coarse"], default="fine", help="cifar100 labels")
    dw = dsub.add_parser("show", help="save a labelled grid of sample images")
    dw.add_argument("name", help="a dataset name or an image folder")
    dw.add_argument("--out", help="image file to write (default NAME_grid.png)")
    dw.add_argument("--split", choices=["train", "test"], default="train")
    dw.add_argument("--count", type=int, default=25, help="number of images (default 25, a 5x5 grid)")
    dw.add_argument("--seed", type=int, default=0, help="which images are picked")
    dw.add_argument("--offline", action="store_true", help="never download")
    return parser


def _add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-shape", help="model input shape H,W,C, e.g. 32,32,3")
    p.add_argument("--dataset", help="take the input shape and classes from a dataset, e.g. cifar10")
    p.add_argument("--classes", type=int, help="number of classes (output units of the last Dense)")


def _add_training_settings(p, *, sweep: bool = False) -> None:
    """--config and one flag per TrainSettings field (a sweep applies them to every run and
    sets seed and threads itself)."""
    p.add_argument("--config", help="TOML file of settings (a [train] table); flags override it")
    add_setting_flags(p, sweep=sweep)


def _add_train_commands(sub) -> None:
    t = sub.add_parser("train", help="train a model on a dataset; writes a run folder")
    t.add_argument("model", nargs="?", help="preset name (e.g. cifar_model) or model file")
    t.add_argument("--dataset", help="dataset name or image folder, e.g. cifar10")
    _add_training_settings(t)
    t.add_argument("--name", help="run folder name (default MODEL-DATASET-TIME)")
    t.add_argument("--out", default="runs", help="where run folders go (default runs)")
    t.add_argument("--resume", metavar="RUN", help="continue an interrupted run from its checkpoint")
    t.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch")
    e = sub.add_parser("evaluate", help="a run's test loss, accuracy, per-class accuracy, confusion")
    e.add_argument("run", help="a run folder, e.g. runs/cifar_model-cifar10-...")
    e.add_argument("--dataset", help="evaluate on another dataset's test set (same image shape)")
    e.add_argument("--threads", type=int, help="CPU threads")
    p = sub.add_parser("predict", help="classify image files with a trained run: top classes")
    p.add_argument("run", help="a run folder")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files, any size and mode")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--invert", choices=["auto", "yes", "no"], default="auto",
                   help="invert dark-on-light images for light-on-dark data like MNIST (default auto)")
    p.add_argument("--threads", type=int, help="CPU threads")


def _add_sweep_command(sub) -> None:
    w = sub.add_parser("sweep", help="a grid of settings x seeds: run folders, mean ± std, a report")
    w.add_argument("model", nargs="?", help="preset name (e.g. cifar_model_dropout), model file (Keras code "
                   "read, never run: its build_model(hp) or model function), or - for stdin")
    w.add_argument("--dataset", help="dataset name or image folder, e.g. fashion_mnist")
    w.add_argument("--set", action="append", metavar="NAME=V1,V2,...",
                   help="an axis of the grid: a training setting (lr=1e-3,3e-4), dropout= (every Dropout "
                   "layer), LAYER.ARG= (conv2d.filters=16,32) or ARG= (every layer but the output); on Keras "
                   "code, a parameter of its model function (n_layers=1,2: the values it is called with) or a "
                   "keras_tuner hyperparameter of its build_model(hp) (some of the values it declares)")
    w.add_argument("--seeds", type=int, help="seeds per setting, 0..N-1 (default 1)")
    w.add_argument("--workers", type=int, default=1, help="runs in parallel processes (default 1)")
    w.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local processes (default), or Ray tasks where ray is installed")
    w.add_argument("--metric", choices=["val_loss", "val_accuracy"],
                   help="what picks the best setting: its mean final value (default val_loss)")
    _add_training_settings(w, sweep=True)
    w.add_argument("--name", help="sweep folder name (default sweep-MODEL-DATASET-NAMES); the same "
                   "name again continues that sweep")
    w.add_argument("--out", default="runs", help="where the sweep folder goes (default runs)")
    w.add_argument("--resume", metavar="SWEEP", help="continue a sweep folder: keep finished runs, run the rest")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from cnnlab import __version__

        print(f"cnnlab {__version__}")
        return 0
    if not args.command:
        parser.print_help()
        return 0
    # how this run was started, recorded in run and sweep folders; None when called from Python
    args.command_line = ["cnnlab", *sys.argv[1:]] if argv is None else None
    module, function = _HANDLERS[args.command]
    try:
        handler = getattr(importlib.import_module(module), function)
        return handler(args) or 0
    except CnnlabError as e:
        print(f"cnnlab: error: {_command_line_message(e, args)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cnnlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`cnnlab models | head -1`): stop quietly
        _silence_stdout()
        return 141
    except OSError as e:  # a path that cannot be read or written: the OS's reason, no traceback
        where = f"{e.filename}: " if e.filename else ""
        print(f"cnnlab: error: {where}{e.strerror or e}; check the path, its permissions and the free "
              "disk space", file=sys.stderr)
        return 2


def _command_line_message(error: CnnlabError, args) -> str:
    """The error in the command line's words: a setting refused with the value its flag gave
    is named by that flag (`--threads 0`, not `threads=0`, which a TOML file would write)."""
    if error.cli_message:
        return error.cli_message
    setting = getattr(error, "setting", None)
    given = getattr(args, setting, None) if setting else None
    if given is not None and given == error.value:
        return str(error).replace(f"{setting}={error.value!r}", f"--{setting.replace('_', '-')} {given}", 1)
    return str(error)


def run() -> NoReturn:
    """The `cnnlab` command: main() on sys.argv, then an exit that skips the interpreter's
    teardown of torch and matplotlib (see cnnlab.quick_exit)."""
    from cnnlab.quick_exit import quick_exit

    try:  # a folder name that is not UTF-8 prints as its bytes, as `ls` prints it
        sys.stdout.reconfigure(errors="surrogateescape")
    except (AttributeError, ValueError):  # not a text stream of its own (replaced, or closed)
        pass
    quick_exit(main())


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush raises nothing either."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# command -> (module, function): imported only when that command runs, so --help stays light
_HANDLERS = {
    "lesson": ("cnnlab.lesson", "main"),
    "sweep": ("cnnlab.sweeps.commands", "sweep"),
    "train": ("cnnlab.train.commands", "train"),
    "evaluate": ("cnnlab.train.commands", "evaluate"),
    "predict": ("cnnlab.train.commands", "predict"),
    "plot": ("cnnlab.train.commands", "plot_or_report"),  # train passes its predict to report
    "report": ("cnnlab.train.commands", "plot_or_report"),
    "compare": ("cnnlab.report.commands", "run"),
    "datasets": ("cnnlab.datasets.commands", "run"),
    "params": ("cnnlab.models.commands", "params"),
    "summary": ("cnnlab.models.commands", "summary"),
    "models": ("cnnlab.models.commands", "list_models"),
}
