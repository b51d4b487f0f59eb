"""Reading a run folder (`runs/<name>/`, written by `cnnlab train`) for plots and reports.

    config.json    "model" (ModelSpec.to_dict()), "dataset" (name, class_names, ...), "settings",
                   "status", "versions", "cpu", "precision", "wall_time_seconds", ...  (marks a run)
    history.csv    epoch,loss,accuracy,val_loss,val_accuracy,seconds: one row per finished
                   epoch, epochs from 1, val_* empty without validation
    metrics.json   test_loss, test_accuracy, per_class_accuracy, confusion_matrix, class_names
    model.safetensors, model.json, checkpoint/

(cnnlab.train.runs describes the folder in full.) Only config.json is required. A run whose
history or metrics are missing is still being trained (or was stopped): `Run.notes` says so,
from the "status" in config.json, and everything that exists is still drawn.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any

from cnnlab.errors import RunError

CONFIG, HISTORY, METRICS, WEIGHTS = "config.json", "history.csv", "metrics.json", "model.safetensors"
HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")


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

    @property
    def has_validation(self) -> bool:
        return bool(self.val_loss) or bool(self.val_accuracy)


@dataclasses.dataclass
class Run:
    path: Path
    config: dict[str, Any]
    history: History
    metrics: dict[str, Any] | None
    notes: list[str]  # what is missing or unusual, in words for the report

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def dataset(self) -> str | None:
        value = self.config.get("dataset")
        if isinstance(value, dict):
            value = value.get("name")
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
