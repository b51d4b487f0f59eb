"""Synthetic run folders in the engine's layout, with made-up histories (test inputs only)."""

from __future__ import annotations

import json
import math
from pathlib import Path

DIGITS = [str(i) for i in range(10)]
TINY_MODEL = {
    "name": "tiny_cnn",
    "input_shape": [8, 8, 1],
    "functional": True,
    "layers": [
        {"kind": "Conv2D", "name": "conv2d", "filters": 4, "kernel_size": [3, 3], "activation": "relu"},
        {"kind": "Flatten", "name": "flatten"},
        {"kind": "Dense", "name": "dense", "units": 10},
    ],
}


def curve(n: int, start: float, end: float, *, turn: int | None = None, rise: float = 0.0) -> list[float]:
    """A smooth decay from start to end over n epochs; after `turn` it climbs by `rise` per epoch."""
    values = [end + (start - end) * math.exp(-i / 2.5) for i in range(n)]
    if turn is not None:
        values = [v if i <= turn else values[turn] + rise * (i - turn) for i, v in enumerate(values)]
    return values


def history_rows(n: int = 10, *, overfit_after: int | None = None, val_shift: float = 0.03) -> list[dict]:
    loss = curve(n, 2.0, 0.2)
    val_loss = curve(n, 2.1, 0.3, turn=overfit_after, rise=0.08)
    acc = [1 - v / 2.3 for v in loss]
    val_acc = [1 - v / 2.3 - val_shift for v in val_loss]
    return [
        {"epoch": i + 1, "loss": loss[i], "accuracy": acc[i], "val_loss": val_loss[i],
         "val_accuracy": val_acc[i], "seconds": 1.5 + 0.01 * i}
        for i in range(n)
    ]


def confusion(n: int = 10, right: int = 30, wrong: int = 2) -> list[list[int]]:
    return [[right if i == j else (wrong if (i + j) % 3 == 0 else 0) for j in range(n)] for i in range(n)]


def write_run(path: Path, *, rows: list[dict] | None = None, metrics: bool = True,
              dataset: str = "digits", model: dict | None = None, config_extra: dict | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    config = {  # the layout cnnlab.rundir writes
        "model": model or TINY_MODEL,
        "model_ref": "tiny_cnn.py",
        "dataset": {"name": dataset, "input_shape": [8, 8, 1], "num_classes": 10, "class_names": DIGITS},
        "settings": {"epochs": 10, "batch_size": 32, "optimizer": "adam", "learning_rate": 0.001},
        "seed": 0,
        "versions": {"cnnlab": "0.1.0", "torch": "2.13.0"},
        "cpu": "Test CPU", "precision": "fp32", "device": "cpu", "threads": 2,
        "status": "finished" if metrics else "running",
        "wall_time_seconds": 16.2,
        "command": ["cnnlab", "train", "tiny_cnn.py", "--dataset", dataset],
        **(config_extra or {}),
    }
    (path / "config.json").write_text(json.dumps(config, indent=2))
    rows = history_rows() if rows is None else rows
    if rows is not False:
        header = "epoch,loss,accuracy,val_loss,val_accuracy,seconds\n"
        body = "".join(",".join(str(r[k]) for k in header.strip().split(",")) + "\n" for r in rows)
        (path / "history.csv").write_text(header + body)
    if metrics:
        matrix = confusion()
        per_class = {DIGITS[i]: row[i] / sum(row) for i, row in enumerate(matrix)}  # as the engine writes it
        total = sum(map(sum, matrix))
        (path / "metrics.json").write_text(json.dumps({
            "test_loss": 0.41, "test_accuracy": sum(matrix[i][i] for i in range(10)) / total,
            "per_class_accuracy": per_class, "confusion_matrix": matrix, "class_names": DIGITS,
        }))
    return path
