"""`cnnlab report runs/<name>`: one self-contained `index.html` for a run.

Sections: results (with sentences computed from the history), training curves, confusion
matrix, per-class accuracy, mistakes, samples, the Keras-format model summary, settings and
environment. Built from the blocks in `cnnlab.report.html`.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from cnnlab import __version__
from cnnlab.errors import CnnlabError
from cnnlab.report import html
from cnnlab.report.analysis import best_epoch
from cnnlab.report.run_pictures import Predictor, RunPictures, draw_run_pictures
from cnnlab.report.sentences import pct, run_sentences
from cnnlab.rundir import Run, load_run

REPORT_FILE = "index.html"
# config.json keys that describe the machine and the software rather than the experiment
ENVIRONMENT_KEYS = ("versions", "cpu", "device", "precision", "threads", "kernels", "wall_time_seconds",
                    "status", "epochs_done", "command", "started", "finished", "python", "platform")
LONG_LIST = 12  # lists longer than this (class names of cifar100) are shortened in tables


def write_run_report(run_dir: str | Path, out: str | Path | None = None, *, mistakes: bool = True,
                     samples: bool = True, formats: tuple[str, ...] = ("png",),
                     predict: Predictor | None = None) -> Path:
    """Draw the run's pictures into `plots/` (in `formats`) and write the report; returns its
    path. `predict` (e.g. cnnlab.predict) gives the mistakes grid the saved model's answers."""
    run = load_run(run_dir)
    pictures = draw_run_pictures(run, mistakes=mistakes, samples=samples, formats=formats, predict=predict)
    return html.write_page(run_page(run, pictures), out or run.path / REPORT_FILE)


def run_page(run: Run, pictures: RunPictures) -> html.Page:
    sections = [html.Section("Results", _results(run))]
    for picture in pictures.pictures:
        sections.append(html.Section(picture.title, [
            html.Image.from_file(picture.png, alt=f"{picture.title} of {run.name}", caption=picture.caption)
        ]))
    sections.append(html.Section("Model", _model_blocks(run)))
    settings, environment = split_config(run.config)
    sections.append(html.Section("Settings and environment", [html.Columns([
        html.key_value_table(settings, caption="Settings (config.json)"),
        html.key_value_table(environment, caption="Environment", headers=("item", "value")),
    ])]))
    notices = [html.Notice(n) for n in run.notes + pictures.notes]
    return html.Page(
        title=f"Run {run.name}",
        subtitle=_subtitle(run),
        sections=sections,
        notices=notices,
        footer=f"Written by cnnlab {__version__} (`cnnlab report {run.path}`) from {run.path}.",
    )


def _subtitle(run: Run) -> str:
    parts = [f"`{run.model_name}` on `{run.dataset or '?'}`"]
    n = len(run.history)
    parts.append(f"{n} epoch{'s' if n != 1 else ''}")
    accuracy = (run.metrics or {}).get("test_accuracy")
    parts.append(f"test accuracy {pct(accuracy)}" if isinstance(accuracy, (int, float))
                 else "not evaluated on the test set yet")
    return " · ".join(parts)


def _results(run: Run) -> list[html.Block]:
    h, metrics = run.history, run.metrics or {}
    if not len(h) and not metrics:
        return [html.Paragraph("Nothing measured yet: no epoch has finished.")]
    rows: list[list[Any]] = []
    if isinstance(metrics.get("test_accuracy"), (int, float)):
        rows.append(["test accuracy", pct(metrics["test_accuracy"])])
    if isinstance(metrics.get("test_loss"), (int, float)):
        rows.append(["test loss", f"{metrics['test_loss']:.4f}"])
    best = best_epoch(h)
    if best is not None and h.val_accuracy:
        rows.append(["best val_accuracy", f"{pct(h.val_accuracy[best])} (epoch {h.epoch[best]})"])
    if len(h):
        last = f"last epoch ({h.epoch[-1]})"
        for column in ("accuracy", "val_accuracy", "loss", "val_loss"):
            values = getattr(h, column)
            if values:
                shown = pct(values[-1]) if column.endswith("accuracy") else f"{values[-1]:.4f}"
                rows.append([f"{column}, {last}", shown])
    if run.seconds is not None:
        rows.append(["training time", f"{run.seconds:,.1f} s"])
    table = html.Table(["measure", "value"], rows)
    sentences = run_sentences(f"`{run.name}`", h)
    return [html.Columns([table, html.BulletList(sentences)]) if sentences else table]


def _model_blocks(run: Run) -> list[html.Block]:
    text, error = model_summary_text(run)
    if text is None:
        return [html.Notice(error)]
    return [html.Preformatted(text, caption="As Keras's `model.summary()` prints it.")]


def model_summary_text(run: Run) -> tuple[str | None, str]:
    """(Keras-format summary, "") or (None, why not)."""
    from cnnlab.models.summary import format_summary

    try:
        report = model_report(run, strict=True)
    except CnnlabError as e:
        return None, f"the model in config.json cannot be summarised: {e}"
    if report is None:
        return None, "config.json holds no model spec; no summary"
    return format_summary(report, line_length=88), ""


def model_report(run: Run, *, strict: bool = False):
    """The run's `ModelReport` (shapes, params, MACs); None without a usable spec, or the
    CnnlabError when `strict`."""
    from cnnlab.models.layers import ModelSpec
    from cnnlab.models.shapes import analyze

    if run.model_dict is None:
        return None
    try:
        spec = ModelSpec.from_dict(run.model_dict)
        return analyze(spec, input_shape_of(run, spec))
    except CnnlabError:
        if strict:
            raise
        return None


def input_shape_of(run: Run, spec) -> tuple[int, ...] | None:
    """The spec's own input shape, else the dataset's."""
    if spec.input_shape or not run.dataset:
        return spec.input_shape
    from cnnlab.datasets import dataset_meta

    return dataset_meta(run.dataset).input_shape


def split_config(config: dict[str, Any]) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """(settings, environment) as flat (key, value) rows; the model spec is shown elsewhere."""
    settings, environment = [], []
    for key, value in config.items():
        if key == "model":
            continue
        if key == "command" and isinstance(value, list):
            value = shlex.join(map(str, value))
        target = environment if key in ENVIRONMENT_KEYS else settings
        target.extend(_flatten(key, value))
    return settings, environment


def _flatten(key: str, value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flatten(f"{key}.{k}", v)]
    if isinstance(value, list):
        shown = ", ".join(map(str, value[:LONG_LIST]))
        return [(key, shown if len(value) <= LONG_LIST else f"{shown}, … ({len(value)} in all)")]
    return [(key, value)]
