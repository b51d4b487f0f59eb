"""Test-set metrics (the keys of metrics.json) and their text form."""

from __future__ import annotations

from typing import Any

import numpy as np


def test_metrics(loss: float, accuracy: float, y_true, y_pred, class_names: list[str]) -> dict[str, Any]:
    """metrics.json: test_loss, test_accuracy, per_class_accuracy, confusion_matrix, class_names."""
    count = len(class_names)
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    matrix = np.bincount(y_true * count + y_pred, minlength=count * count).reshape(count, count)
    support = matrix.sum(axis=1)
    per_class = [float(matrix[i, i] / support[i]) if support[i] else None for i in range(count)]
    return {
        "test_loss": float(loss),
        "test_accuracy": float(accuracy),
        "per_class_accuracy": dict(zip(class_names, per_class)),
        "confusion_matrix": matrix.tolist(),  # rows: true class, columns: predicted class
        "class_names": list(class_names),
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    names = metrics["class_names"]
    lines = [f"test_loss: {metrics['test_loss']:.4f} - test_accuracy: {metrics['test_accuracy']:.4f}", ""]
    lines.append("per-class accuracy:")
    width = max(len(n) for n in names)
    for name in names:
        value = metrics["per_class_accuracy"][name]
        lines.append(f"  {name:<{width}}  {'-' if value is None else f'{value:.4f}'}")
    lines += ["", "confusion matrix (rows: true class, columns: predicted class):"]
    matrix = metrics["confusion_matrix"]
    cell = max(len(str(v)) for row in matrix for v in row)
    cell = max(cell, len(str(len(names) - 1)))
    lines.append(" " * (width + 3) + " ".join(f"{i:>{cell}}" for i in range(len(names))))
    for i, (name, row) in enumerate(zip(names, matrix)):
        lines.append(f"  {name:<{width}} " + " ".join(f"{v:>{cell}}" for v in row) + f"  ({i})")
    return "\n".join(lines)
