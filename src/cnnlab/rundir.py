"""The run folder: everything one `cnnlab train` produced, its format, writer and reader.

    runs/<name>/
      config.json        what is needed to rerun it and how it went: model, model_ref, dataset
                         (name, input_shape, num_classes, class_names, sizes, pixel_mean),
                         settings (TrainSettings), seed, precision, device, threads, kernels,
                         cpu, versions, params, status (running | finished | stopped early |
                         interrupted), epochs_done, wall_time_seconds, command, started
      history.csv        HISTORY_COLUMNS, one row per finished epoch (epochs from 1; val_*
                         empty without validation)
      metrics.json       test_loss, test_accuracy, per_class_accuracy, confusion_matrix
                         (rows: true class, columns: predicted), class_names
      model.safetensors  the final weights (the best epoch's with early stopping)
      model.json         the model spec (ModelSpec.to_dict()) plus output_softmax
      checkpoint/last.safetensors   resume state: weights, optimizer, RNG, progress in the epoch
      checkpoint/best.safetensors   the weights of the epoch with the lowest val_loss so far

docs/run-folder.md describes every key. Only config.json is required; a run without history or
metrics is still training (or was stopped) and `Run.notes` says so. Every file is written
atomically (`cnnlab.files.atomic_write`), and nothing here is a pickle. `RunFolder` writes
(training), `load_run` reads (reports); torch is imported only by the methods that need it.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.errors import CnnlabError, RunError
from cnnlab.files import as_text, atomic_write, mark_owned

if TYPE_CHECKING:
    import torch

CONFIG, HISTORY, METRICS, WEIGHTS = "config.json", "history.csv", "metrics.json", "model.safetensors"
MODEL_SPEC = "model.json"
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
CHECKPOINT_FORMAT = "cnnlab-checkpoint-1"


@dataclasses.dataclass
class History:
    """Per-epoch values as in Keras's `history.history`; a column the run lacks is empty."""

    epoch: list[int] = dataclasses.field(default_factory=list)
    loss: list[float] = dataclasses.field(default_factory=list)
    accuracy: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    val_accuracy: list[float] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    @classmethod
    def from_columns(cls, **columns: list[float]) -> History:
        """Columns of equal length; `epoch` defaults to 1..n (as Keras prints epochs)."""
        lengths = {len(v) for v in columns.values()}
        assert len(lengths) <= 1, f"history columns differ in length: {lengths}"
        n = lengths.pop() if lengths else 0
        epoch = columns.pop("epoch", None) or list(range(1, n + 1))
        return cls(epoch=[int(e) for e in epoch], **{k: [float(x) for x in v] for k, v in columns.items()})


# --- reading ------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    path: Path
    config: dict[str, Any]
    history: History
    metrics: dict[str, Any] | None
    notes: list[str]  # what is missing or unusual, in words for the report

    @property
    def name(self) -> str:
        """The folder's name as text for titles and pages: a byte that is not UTF-8 shows as U+FFFD."""
        return as_text(self.path.name)

    @property
    def dataset(self) -> str | None:
        """What to load the run's data by: its recorded source (a folder's absolute path), else its name."""
        value = self.config.get("dataset")
        if isinstance(value, dict):
            value = value.get("source") or value.get("name")
        return str(value) if value else None

    @property
    def model_dict(self) -> dict[str, Any] | None:
        model = self.config.get("model")
        return model if isinstance(model, dict) else None

    @property
    def model_name(self) -> str:
        return str((self.model_dict or {}).get("name") or "?")

    @property
    def finished(self) -> bool:
        return self.metrics is not None

    @property
    def weights(self) -> Path | None:
        path = self.path / WEIGHTS
        return path if path.is_file() else None

    @property
    def seconds(self) -> float | None:
        """Training wall time: the config's record if any, else the sum of epoch times."""
        for key in ("wall_time_seconds", "wall_seconds", "wall_time", "seconds"):
            value = self.config.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        return sum(self.history.seconds) if self.history.seconds else None


def load_run(path: str | Path) -> Run:
    """Read a run folder; RunError when it is not one, notes when it is incomplete."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path}: no such folder; give a run folder such as runs/<name>")
    if not path.is_dir():
        raise RunError(f"{path} is a file, not a run folder; give a folder such as runs/<name>")
    if not (path / CONFIG).is_file():
        raise RunError(
            f"{path} is not a run folder: it has no {CONFIG} "
            "(cnnlab train writes one when a run starts)"
        )
    config = _read_json(path / CONFIG)
    if not isinstance(config, dict):
        raise RunError(f"{path / CONFIG} should hold a JSON object, not {type(config).__name__}")
    notes: list[str] = []
    history = _read_history(path / HISTORY, notes)
    metrics = None
    if (path / METRICS).is_file():
        metrics = _read_json(path / METRICS)
        if not isinstance(metrics, dict):
            raise RunError(f"{path / METRICS} should hold a JSON object, not {type(metrics).__name__}")
    elif len(history):
        notes.append(_unfinished_note(path, config.get("status"), len(history)))
    if config.get("status") == "diverged":  # not "still going": it stopped for good
        notes = [n for n in notes if "still going" not in n]
        notes.insert(0, f"training diverged after {len(history)} epoch{'s' if len(history) != 1 else ''} "
                        "(a loss became non-finite): no test results; train again with a lower learning rate")
    return Run(path=path, config=config, history=history, metrics=metrics, notes=notes)


def _unfinished_note(path: Path, status: Any, epochs: int) -> str:
    """Why a run with a history has no test metrics, from the status the engine records."""
    done = f"{epochs} epoch{'s' if epochs != 1 else ''}"
    if status == "interrupted":
        return (f"training was interrupted after {done} (continue it with "
                f"`cnnlab train --resume {path}`); no {METRICS}, showing what exists")
    if status in ("finished", "stopped early"):
        return f"training {status} after {done} but left no {METRICS}: no test results to show"
    return f"no {METRICS} yet: training is still going after {done}; showing what exists so far"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise RunError(f"{path} is not valid JSON (line {e.lineno}: {e.msg})") from None
    except UnicodeDecodeError:
        raise RunError(f"{path} is not a text file") from None


def _read_history(path: Path, notes: list[str]) -> History:
    if not path.is_file():
        notes.append(f"no {HISTORY} yet: training is still going, no epoch has finished")
        return History()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RunError(f"{path} is not a text file") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        notes.append(f"{HISTORY} is empty: training is still going, no epoch has finished")
        return History()
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in rows[0]]
    if "loss" not in header:
        raise RunError(f"{path}: the first line should name the columns "
                       f"({','.join(HISTORY_COLUMNS)}), got {','.join(header)!r}")
    columns: dict[str, list[float]] = {name: [] for name in header if name in HISTORY_COLUMNS}
    filled: set[str] = set()  # columns with at least one value (val_* stay empty without validation)
    body = [r for r in rows[1:] if r]
    if body and not text.endswith("\n") and len(body[-1]) != len(header):
        body.pop()  # the engine is writing this line right now
        notes.append(f"the last line of {HISTORY} is incomplete (still being written); left out")
    for line_no, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise RunError(f"{path}, line {line_no}: {len(row)} values for {len(header)} columns")
        for name, cell in zip(header, row):
            if name in columns:
                columns[name].append(_number(cell, path, line_no, name))
                filled.update([name] if cell.strip() else [])
    return History.from_columns(**{k: v for k, v in columns.items() if k in filled})


def _number(cell: str, path: Path, line_no: int, column: str) -> float:
    if not cell.strip() and column != "epoch":
        return math.nan  # no value this epoch
    try:
        value = float(cell)
    except ValueError:
        raise RunError(f"{path}, line {line_no}: {column} is {cell!r}, not a number") from None
    if math.isinf(value):
        raise RunError(f"{path}, line {line_no}: {column} is infinite")
    return value  # NaN is kept: a diverged loss is a fact worth drawing as a gap


# --- writing ------------------------------------------------------------------------------


def write_json(path: Path, data: Any) -> None:
    """Indented JSON with lists of numbers on one line (a confusion matrix reads as a table)."""
    text = json.dumps(data, indent=2)
    text = _NUMBER_LIST.sub(lambda m: re.sub(r"\s+", " ", m.group(0)).replace("[ ", "[").replace(" ]", "]"), text)
    atomic_write(path, text + "\n")


_NUMBER_LIST = re.compile(r"\[[-0-9.eE,\s]*\]")


def check_run_name(name: str) -> None:
    """A run name is one folder name inside --out: never a path that leads elsewhere."""
    bad = not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name or len(name) > 200
    bad = bad or not name.isprintable()  # it titles pictures and pages: no control bytes, no non-UTF-8 ones
    if bad or Path(name).is_absolute() or name != name.strip():
        raise RunError(f"run name {name!r} must be a single folder name of printable text (no '/', '..', "
                       "control characters or leading spaces); use --out to choose where runs go")


class RunFolder:
    """A run folder being written by training (and read back by --resume, evaluate, predict)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, out: str | Path, name: str) -> RunFolder:
        check_run_name(name)
        path = Path(out) / name
        if path.exists():
            if (path / "checkpoint" / "last.safetensors").is_file():
                raise RunError(f"{path} already exists; continue it with --resume {path} or pick another --name")
            raise RunError(f"{path} already exists (with no checkpoint to continue from); pick another --name")
        (path / "checkpoint").mkdir(parents=True)
        mark_owned(path, "run")  # a sweep may delete and redo only folders cnnlab wrote
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        run = cls(path)
        if not (run.path / CONFIG).is_file():
            raise RunError(f"{run.path} is not a cnnlab run folder (it has no {CONFIG})")
        return run

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoint" / "last.safetensors"

    @property
    def best_checkpoint(self) -> Path:
        return self.path / "checkpoint" / "best.safetensors"

    def read_config(self) -> dict[str, Any]:
        """config.json, checked for what resume, evaluate and predict read from it."""
        path = self.path / CONFIG
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise RunError(f"{path} cannot be read ({e})") from None
        if not isinstance(config, dict):
            raise RunError(f"{path} should hold a JSON object, not {type(config).__name__}")
        for key, kind in (("model", dict), ("dataset", dict)):
            if not isinstance(config.get(key), kind):
                raise RunError(f"{path} has no {key!r} object: it is damaged or not a cnnlab run's")
        names = config["dataset"].get("class_names")
        if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)):
            raise RunError(f"{path}: dataset.class_names should list at least two class names")
        return config

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.path / CONFIG, config)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.path / METRICS, metrics)

    def write_history(self, rows: list[dict[str, float]]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HISTORY_COLUMNS)
        for row in rows:
            writer.writerow([_csv_value(row.get(column)) for column in HISTORY_COLUMNS])
        atomic_write(self.path / HISTORY, out.getvalue())

    # --- weights and checkpoints --------------------------------------------------
    def save_model(self, net: torch.nn.Module, spec: dict[str, Any]) -> None:
        from safetensors.torch import save as save_tensors

        atomic_write(self.path / WEIGHTS, save_tensors(_weights(net)))
        write_json(self.path / MODEL_SPEC, {**spec, "output_softmax": bool(net.output_softmax)})

    def load_model(self) -> tuple[torch.nn.Module, dict[str, Any]]:
        """(module with the run's final weights, the run's config) for evaluate and predict."""
        from cnnlab.models.build import build
        from cnnlab.models.layers import ModelSpec

        config = self.read_config()
        if not (self.path / WEIGHTS).is_file():
            if not self.last_checkpoint.is_file():  # stopped before its first checkpoint
                raise RunError(f"{self.path} has no {WEIGHTS} and no checkpoint: the run stopped before "
                               "its first epoch ended; train it again")
            raise RunError(
                f"{self.path} has no {WEIGHTS}: the run has not finished; "
                f"continue it with cnnlab train --resume {self.path}"
            )
        with _damaged(self.path / CONFIG):
            net = build(ModelSpec.from_dict(config["model"]))
        _load_weights(net, read_tensors(self.path / WEIGHTS)[0], self.path / WEIGHTS)
        return net, config

    def save_best(self, net: torch.nn.Module, epoch: int) -> None:
        from safetensors.torch import save as save_tensors

        atomic_write(self.best_checkpoint, save_tensors(_weights(net), metadata={"epoch": str(epoch + 1)}))

    def load_best(self) -> dict[str, torch.Tensor] | None:
        return read_tensors(self.best_checkpoint)[0] if self.best_checkpoint.is_file() else None

    def save_checkpoint(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        history: list[dict], progress=None) -> None:
        """Everything needed to continue exactly: after an epoch (progress None) or within one
        (`progress` has epoch, step, seen, seconds and the tensors loss_sum, correct)."""
        import torch
        from safetensors.torch import save as save_tensors

        tensors = {f"model/{k}": v for k, v in _weights(net).items()}
        state_dict = optimizer.state_dict()
        plain_state: dict[str, dict[str, Any]] = {}
        for index, values in state_dict["state"].items():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer/{index}/{key}"] = value.detach().cpu().contiguous()
                else:
                    plain_state.setdefault(str(index), {})[key] = value
        tensors["rng/torch"] = torch.get_rng_state()
        where = None
        if progress is not None:
            tensors["progress/loss_sum"] = progress.loss_sum.cpu()
            tensors["progress/correct"] = progress.correct.cpu()
            where = {"epoch": progress.epoch, "step": progress.step, "seen": progress.seen,
                     "seconds": progress.seconds}
        meta = {
            "history": history,
            "progress": where,
            "param_groups": state_dict["param_groups"],
            "optimizer_plain_state": plain_state,
        }
        blob = save_tensors(tensors, metadata={"format": CHECKPOINT_FORMAT, "state": json.dumps(meta)})
        atomic_write(self.last_checkpoint, blob)

    def load_checkpoint(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer
                        ) -> tuple[list[dict], dict[str, Any] | None]:
        """Restore weights, optimizer and RNG; (history, progress within an epoch or None),
        the progress as the keyword arguments of `train.trainer.EpochState`."""
        import torch

        if not self.last_checkpoint.is_file():
            raise RunError(f"{self.path} has no checkpoint to resume from (checkpoint/last.safetensors)")
        tensors, metadata = read_tensors(self.last_checkpoint)
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise RunError(f"{self.last_checkpoint} is not a {CHECKPOINT_FORMAT} file")
        with _damaged(self.last_checkpoint):
            meta = json.loads(metadata["state"])
            history, progress = _checked_progress(meta, tensors)
        _load_weights(net, {k[6:]: v for k, v in tensors.items() if k.startswith("model/")}, self.last_checkpoint)
        opt_state = _optimizer_state(optimizer, tensors, self.last_checkpoint)
        rng = tensors.get("rng/torch")
        expected = torch.get_rng_state()
        if rng is None or rng.shape != expected.shape or rng.dtype != expected.dtype:
            raise RunError(f"{self.last_checkpoint}: its random-number state is missing or the wrong size")
        with _damaged(self.last_checkpoint):
            for index, values in meta["optimizer_plain_state"].items():
                opt_state.setdefault(int(index), {}).update(values)
            optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
            torch.set_rng_state(rng)
        return history, progress


@contextlib.contextmanager
def _damaged(path: Path) -> Iterator[None]:
    """A file whose contents do not have the shape cnnlab writes: one RunError, not a traceback."""
    try:
        yield
    except RunError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, CnnlabError) as e:
        raise RunError(f"{path} is damaged or was not written by this version of cnnlab "
                       f"({type(e).__name__}: {e})") from None


def _checked_progress(meta: dict, tensors: dict) -> tuple[list[dict], dict | None]:
    """The checkpoint's history rows and within-epoch progress, checked before anything uses them."""
    history = meta["history"]
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise ValueError("history is not a list of rows")
    for row in history:
        if not all(isinstance(row.get(k), (int, float)) for k in ("epoch", "loss", "accuracy")):
            raise ValueError(f"history row {row!r} is not numeric")
    where = meta["progress"]
    if where is None:
        return history, None
    epoch, step, seen = where["epoch"], where["step"], where["seen"]
    if not all(isinstance(v, int) and v >= 0 for v in (epoch, step, seen)) or epoch != len(history):
        raise ValueError(f"progress {where!r} does not continue a history of {len(history)} epochs")
    if step > seen or seen > 10**9:
        raise ValueError(f"progress {where!r} counts more steps than examples")
    return history, dict(where, loss_sum=tensors["progress/loss_sum"], correct=tensors["progress/correct"])


def _load_weights(net: torch.nn.Module, weights: dict[str, torch.Tensor], path: Path) -> None:
    """Copy checkpointed weights into `net`, after checking every name, shape and dtype."""
    expected = net.state_dict()
    if set(weights) != set(expected):
        missing, extra = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
        raise RunError(f"{path} does not hold this run's model (missing {missing[:3]}, unexpected {extra[:3]})")
    for name, value in weights.items():
        if value.shape != expected[name].shape or value.dtype != expected[name].dtype:
            raise RunError(f"{path}: {name} is {tuple(value.shape)} {value.dtype}, the model needs "
                           f"{tuple(expected[name].shape)} {expected[name].dtype}")
    net.load_state_dict(weights)


def _optimizer_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                     path: Path) -> dict[int, dict[str, torch.Tensor]]:
    """The optimizer's per-parameter tensors, checked against the parameters and laid out in
    each parameter's memory format: fused updates walk parameter and state memory in step, so
    a channels_last weight with a contiguous moment would pair the wrong elements."""
    import torch

    params = [p for group in optimizer.param_groups for p in group["params"]]
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if not key.startswith("optimizer/"):
            continue
        _, index, name = key.split("/", 2)
        if not index.isdigit() or int(index) >= len(params):
            raise RunError(f"{path}: {key} names no parameter of this run's model")
        param = params[int(index)]
        if value.dim() == 0:  # Adam's step count
            state.setdefault(int(index), {})[name] = value
            continue
        if value.shape != param.shape or not value.is_floating_point():
            raise RunError(f"{path}: {key} is {tuple(value.shape)} {value.dtype}, its parameter is "
                           f"{tuple(param.shape)} {param.dtype}")
        state.setdefault(int(index), {})[name] = torch.empty_like(param).copy_(value)
    return state


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, (f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for bad bytes
        raise RunError(f"{path} cannot be read as safetensors ({e})") from None


def _weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def _csv_value(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, int) else repr(float(value))
