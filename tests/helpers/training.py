"""Helpers for the training tests: a tiny model, fast flags, reading history.csv.

scikit-learn's digits (1,797 images of 8x8, embedded in the package) is real data that
needs no download; the model is one small Conv2D, so an epoch takes well under a second.
"""

from __future__ import annotations

import csv
from pathlib import Path

TINY_MODEL = """\
Conv2D(8, (3, 3), activation='relu')
Flatten()
Dense(10)
"""
# every CLI test runs single-threaded in fp32: deterministic and kind to shared cores
FAST = ["--threads", "1", "--precision", "fp32"]


def read_history(run: Path) -> list[dict[str, str]]:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def metric_columns(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """history.csv without the wall-clock seconds column, which no two runs share."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
