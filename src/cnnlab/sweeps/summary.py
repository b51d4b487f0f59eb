"""A sweep's numbers: each run's final and best validation metrics, and mean ± std per setting.

std is the sample standard deviation (ddof=1) over the seeds of a setting, as airbench
reports it; with one seed there is no spread and it is None. Only finished runs count.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FINISHED = ("finished", "stopped early")
DIVERGED = "diverged"  # a non-finite loss stopped it: never ranked
# (column key, heading, lower is better)
MEASURES = (
    ("final_val_loss", "final val_loss", True),
    ("best_val_loss", "best val_loss", True),
    ("final_val_accuracy", "final val_accuracy", False),
    ("best_val_accuracy", "best val_accuracy", False),
    ("test_accuracy", "test accuracy", False),
)
METRICS = ("val_loss", "val_accuracy")  # what --metric may rank by (final epoch's value)


@dataclasses.dataclass
class RunResult:
    name: str
    setting: str
    seed: int
    values: dict[str, float]  # MEASURES keys
    epochs: int
    seconds: float


@dataclasses.dataclass
class Stat:
    mean: float
    std: float | None  # None with a single run
    n: int

    def text(self, digits: int = 4) -> str:
        spread = "–" if self.std is None else f"{self.std:.{digits}f}"
        return f"{self.mean:.{digits}f} ± {spread}"


@dataclasses.dataclass
class SettingSummary:
    setting: str
    values: tuple[tuple[str, Any], ...]  # (axis name, value)
    runs: list[RunResult]
    stats: dict[str, Stat]  # MEASURES keys
    seconds: Stat


def run_status(run_dir: Path) -> str | None:
    """The status its config.json records, or None where there is none to read."""
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config.get("status") if isinstance(config, dict) else None


def run_finished(run_dir: Path) -> bool:
    """Finished with a history: a run whose numbers count in the summary."""
    return run_status(run_dir) in FINISHED and (run_dir / "history.csv").is_file()


def run_done(run_dir: Path) -> bool:
    """Kept when a sweep resumes: finished, or diverged (the same seed would diverge again)."""
    return run_finished(run_dir) or run_status(run_dir) == DIVERGED


def read_result(run_dir: Path, setting: str, seed: int) -> RunResult:
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    with open(run_dir / "history.csv", encoding="utf-8", newline="") as f:
        rows = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]
    values: dict[str, float] = {}
    if rows and "val_loss" in rows[-1]:
        values["final_val_loss"] = rows[-1]["val_loss"]
        values["best_val_loss"] = min(row["val_loss"] for row in rows)
        values["final_val_accuracy"] = rows[-1]["val_accuracy"]
        values["best_val_accuracy"] = max(row["val_accuracy"] for row in rows)
    metrics_file = run_dir / "metrics.json"
    if metrics_file.is_file():
        values["test_accuracy"] = json.loads(metrics_file.read_text(encoding="utf-8"))["test_accuracy"]
    return RunResult(run_dir.name, setting, seed, values, len(rows), float(config.get("wall_time_seconds", 0.0)))


def stat(numbers: Sequence[float]) -> Stat:
    n = len(numbers)
    mean = math.fsum(numbers) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in numbers) / (n - 1)) if n > 1 else None
    return Stat(mean, std, n)


def summarize(groups: list[tuple[str, tuple[tuple[str, Any], ...]]], results: list[RunResult]) -> list[SettingSummary]:
    """One SettingSummary per (setting label, values) that has at least one finished run."""
    out = []
    for label, values in groups:
        runs = [r for r in results if r.setting == label]
        if not runs:
            continue
        stats = {key: stat([r.values[key] for r in runs]) for key, _, _ in MEASURES
                 if all(key in r.values for r in runs)}
        out.append(SettingSummary(label, values, runs, stats, stat([r.seconds for r in runs])))
    return out


def best_setting(summaries: list[SettingSummary], metric: str) -> SettingSummary | None:
    """The setting with the best mean final `metric` (lowest loss, highest accuracy)."""
    key = f"final_{metric}"
    ranked = [s for s in summaries if key in s.stats]
    if not ranked:
        return None
    sign = 1 if metric.endswith("loss") else -1
    return min(ranked, key=lambda s: sign * s.stats[key].mean)


def within_noise(best: SettingSummary, summaries: list[SettingSummary], metric: str) -> list[SettingSummary]:
    """Other settings whose mean is within one std (of either) of the best's: not told apart."""
    key = f"final_{metric}"
    b = best.stats[key]
    close = []
    for s in summaries:
        if s is best or key not in s.stats or b.std is None or s.stats[key].std is None:
            continue
        if abs(s.stats[key].mean - b.mean) <= max(b.std, s.stats[key].std):
            close.append(s)
    return close


def text_table(summaries: list[SettingSummary]) -> str:
    """The fixed-width table printed at the end of a sweep."""
    columns = [key for key, _, _ in MEASURES if any(key in s.stats for s in summaries)]
    headings = {key: heading for key, heading, _ in MEASURES}
    header = ["setting", "runs", *[headings[k] for k in columns], "seconds/run"]
    rows = [
        [s.setting, str(len(s.runs)), *[s.stats[k].text() if k in s.stats else "" for k in columns],
         f"{s.seconds.mean:.1f}"]
        for s in summaries
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
