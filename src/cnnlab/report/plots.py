"""Pictures of runs, drawn with matplotlib's object API (Agg for PNG, no pyplot state).

Every `*_figure` function returns a Figure; `save_figure` writes it as PNG and SVG,
atomically. A run's own pictures are PNG unless SVG is asked for (`cnnlab plot --svg`):
drawing is most of what `cnnlab train` and `cnnlab report` spend besides training, and
every format draws the figure again. `plot_history(run_dir)` is what the training engine
calls at the end of training: it writes `plots/training_curves.png` into the run folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from cnnlab.files import atomic_write, real_subfolder
from cnnlab.report.analysis import best_epoch, detect_overfitting
from cnnlab.rundir import History, load_run

PLOTS_DIR = "plots"
FORMATS = ("png", "svg")
RUN_FORMATS = ("png",)  # a run folder's pictures, unless SVG is asked for
DPI = 110
TRAIN_STYLE, VAL_STYLE = "-", "--"  # solid training, dashed validation, in every plot
MAX_ANNOTATED_CLASSES = 20  # confusion matrices larger than this lose their cell numbers
TITLE_PAD = 6 / 72  # inches between a picture and its title, as matplotlib's axes titles
STAMP_KEY = "cnnlab-drawn-from"  # the PNG text chunk holding a picture's inputs stamp
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def inputs_stamp(key: str, *inputs) -> str:
    """A digest of what a picture is drawn from: its key, its inputs (JSON-able), this module's
    code and matplotlib's version; kept in the PNG so that the same picture is not drawn twice."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(json.dumps([matplotlib.__version__, key, *inputs], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def png_stamp(png: Path) -> str | None:
    """The inputs stamp `save_figure` wrote into `png`, or None (no file, no stamp, not a PNG)."""
    try:
        data = png.read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_SIGNATURE):
        return None
    at = len(PNG_SIGNATURE)
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"tEXt":
            name, _, text = data[at + 8:at + 8 + length].partition(b"\0")
            if name == STAMP_KEY.encode():
                return text.decode("latin-1")
        if kind in (b"IDAT", b"IEND"):
            return None  # matplotlib writes its text chunks before the image data
        at += 12 + length
    return None


def save_figure(fig: Figure, base: Path, formats: Sequence[str] = FORMATS,
                stamp: str | None = None) -> list[Path]:
    """Write `base.png`, `base.svg`, ...; returns the paths written. `stamp`: an `inputs_stamp`
    kept in the PNG."""
    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else ({STAMP_KEY: stamp} if stamp else None)
        with matplotlib.rc_context({"svg.hashsalt": "cnnlab"}):  # same drawing, same bytes
            fig.savefig(buffer, format=fmt, dpi=DPI, metadata=metadata)
        # the layout is in inches, the same for every format: the next ones reuse it
        fig.set_layout_engine("none")
        written.append(atomic_write(base.with_suffix(f".{fmt}"), buffer.getvalue()))
    return written


def plot_history(run_dir: str | Path, formats: Sequence[str] = RUN_FORMATS) -> list[Path]:
    """Training curves of a run folder into `<run_dir>/plots/training_curves.png` (and the
    other `formats`)."""
    run = load_run(run_dir)
    title = curves_title(run)
    fig = training_curves_figure(run.history, title=title)
    return save_figure(fig, real_subfolder(run.path, PLOTS_DIR) / "training_curves", formats,
                       stamp=curves_stamp(run.history, title))


def curves_title(run) -> str:
    return f"{run.name}: {run.model_name}"


def curves_stamp(history: History, title: str) -> str:
    return inputs_stamp("training_curves", title, dataclasses.asdict(history))


# --- one run ----------------------------------------------------------------------------


def training_curves_figure(history: History, *, title: str = "") -> Figure:
    """Accuracy and loss against epochs (two panels), best epoch and overfitting marked."""
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    acc_ax, loss_ax = fig.subplots(1, 2)
    marker = "o" if len(history) <= 12 else None
    x = history.epoch
    for ax, metric, label in ((acc_ax, "accuracy", "Accuracy"), (loss_ax, "loss", "Loss")):
        train, val = getattr(history, metric), getattr(history, f"val_{metric}")
        if train:
            ax.plot(x, train, TRAIN_STYLE, marker=marker, color="C0", label=metric)
        if val:
            ax.plot(x, val, VAL_STYLE, marker=marker, color="C1", label=f"val_{metric}")
        _epoch_axes(ax, label)
    best = best_epoch(history)
    if best is not None:
        for ax in (acc_ax, loss_ax):
            ax.axvline(x[best], color="0.4", linestyle=":", linewidth=1)
        if history.val_accuracy:
            acc_ax.plot(x[best], history.val_accuracy[best], "*", color="C3", markersize=14,
                        label=f"best val_accuracy {history.val_accuracy[best]:.3f} (epoch {x[best]})")
        if history.val_loss:
            loss_ax.plot(x[best], history.val_loss[best], "*", color="C3", markersize=14,
                         label=f"val_loss at best epoch {history.val_loss[best]:.3f}")
    overfit = detect_overfitting(history)
    if overfit:
        loss_ax.axvspan(overfit.onset_epoch, overfit.last_epoch, color="C3", alpha=0.08,
                        label=f"overfitting: val_loss rises after epoch {overfit.onset_epoch}")
    acc_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in (acc_ax, loss_ax):
        if ax.has_data():
            _legend_below(ax, ncols=2)
        else:
            _no_data(ax, "no epoch has finished yet")
    if title:
        fig.suptitle(title)
    return fig


def confusion_matrix_figure(matrix, class_names: Sequence[str]) -> Figure:
    """Counts (left) and row-normalised rates (right): row = true class, column = predicted."""
    counts = np.asarray(matrix, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    n = len(class_names)
    side = min(6.5, 2.5 + 0.4 * n)
    fig = Figure(figsize=(2 * side + 1.2, side), layout="constrained")
    for ax, values, title, fmt in zip(
        fig.subplots(1, 2), (counts, rates), ("Counts", "Row-normalised (recall per class)"),
        ("{:.0f}", "{:.2f}"),
    ):
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=values.max() or 1)
        ax.set_title(title)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        if n <= MAX_ANNOTATED_CLASSES:
            ax.set_xticks(range(n), class_names, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(n), class_names, fontsize=8)
            high = (values.max() or 1) * 0.6
            for (i, j), v in np.ndenumerate(values):
                if v:  # empty cells stay blank: easier to read, and each number costs drawing time
                    # inside its cell, so the layout need not measure it
                    ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7,
                            color="white" if v > high else "black", in_layout=False)
        fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def per_class_accuracy_figure(per_class: Sequence[float], class_names: Sequence[str],
                              overall: float | None = None) -> Figure:
    """One horizontal bar per class (in class order), the overall accuracy as a line."""
    n = len(class_names)
    fig = Figure(figsize=(7, 1.0 + 0.3 * n), layout="constrained")
    ax = fig.subplots()
    y = np.arange(n)
    bars = ax.barh(y, per_class, color="C0")
    ax.bar_label(bars, labels=[f"{v:.1%}" for v in per_class], padding=3, fontsize=8, zorder=3,
                 bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # readable over the line
    ax.set_yticks(y, class_names, fontsize=8 if n <= 30 else 5)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("test accuracy of the class")
    if overall is not None:
        ax.axvline(overall, color="C3", linestyle="--", label=f"all classes {overall:.1%}")
        _legend_below(ax, ncols=1)
    ax.set_title("Per-class accuracy")
    return fig


def mistakes_figure(images: np.ndarray, true: Sequence[int], predicted: Sequence[int],
                    probability: Sequence[float], class_names: Sequence[str]) -> Figure:
    """A grid of misclassified images titled 'true -> predicted (probability)'."""
    cols = min(9, max(1, len(images)))
    rows = max(1, math.ceil(len(images) / cols))
    width, height = max(3.0, 1.35 * cols), 1.75 * rows + 0.4
    fig = Figure(figsize=(width, height))
    # one axes in inches from the top left, the cells laid out as subplots would lay them out
    # (margins, gaps of 0.15 and 0.45 of a cell): an axes per image costs more than its image
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    left, right, top, bottom = 0.1, 0.1, 0.75, 0.1
    cell_w = (width - left - right) / (cols + 0.15 * (cols - 1))
    cell_h = (height - top - bottom) / (rows + 0.45 * (rows - 1))
    for i, (image, t, p, prob) in enumerate(zip(images, true, predicted, probability)):
        row, col = divmod(i, cols)
        h, w = np.shape(image)[:2]
        scale = min(cell_w / w, cell_h / h)  # equal aspect, centred in its cell
        x0 = left + col * 1.15 * cell_w + (cell_w - w * scale) / 2
        y0 = top + row * 1.45 * cell_h + (cell_h - h * scale) / 2
        _show_image(ax, image, extent=(x0, x0 + w * scale, y0 + h * scale, y0))
        ax.text(x0 + w * scale / 2, y0 - TITLE_PAD, f"true: {class_names[t]}\npred: {class_names[p]}\n"
                f"{_probability(prob)}", ha="center", va="bottom", fontsize=7)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    if not len(images):
        _no_data(ax, "no mistakes")
    fig.suptitle("Most confident mistakes")
    return fig


def samples_figure(images: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
                   *, per_class: int = 8, max_classes: int = 10, seed: int = 0) -> Figure:
    """One row per class (the first `max_classes`), `per_class` random images each, drawn as
    one mosaic (one image, so it stays quick for many classes)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels).reshape(-1)
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    shown = list(range(min(len(class_names), max_classes)))
    h, w = images.shape[1:3]
    gap = max(1, h // 8)
    mosaic = np.full((len(shown) * (h + gap) - gap, per_class * (w + gap) - gap, *images.shape[3:]),
                     255, dtype=np.uint8)
    for row, c in enumerate(shown):
        members = np.flatnonzero(labels == c)
        pick = rng.choice(members, size=min(per_class, len(members)), replace=False)
        for col, i in enumerate(pick):
            top, left = row * (h + gap), col * (w + gap)
            mosaic[top:top + h, left:left + w] = images[i]
    fig = Figure(figsize=(0.8 * per_class + 1.4, 0.8 * len(shown) + 0.5), layout="constrained")
    ax = fig.subplots()
    _show_image(ax, mosaic)
    ax.set_xticks([])
    ax.set_yticks([r * (h + gap) + h / 2 for r in range(len(shown))], [class_names[c] for c in shown])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    more = f" (first {len(shown)} of {len(class_names)} classes)" if len(shown) < len(class_names) else ""
    ax.set_title(f"Samples per class{more}")
    return fig


# --- several runs -----------------------------------------------------------------------


def overlay_curves_figure(histories: Sequence[tuple[str, History]]) -> Figure:
    """Accuracy and loss of several runs: one colour per run, solid train, dashed val."""
    fig = Figure(figsize=(11, 5), layout="constrained")
    acc_ax, loss_ax = fig.subplots(1, 2)
    for i, (label, history) in enumerate(histories):
        colour = f"C{i % 10}"
        for ax, metric in ((acc_ax, "accuracy"), (loss_ax, "loss")):
            train, val = getattr(history, metric), getattr(history, f"val_{metric}")
            if train:
                ax.plot(history.epoch, train, TRAIN_STYLE, color=colour, label=f"{label} {metric}")
            if val:
                ax.plot(history.epoch, val, VAL_STYLE, color=colour, label=f"{label} val_{metric}")
    _epoch_axes(acc_ax, "Accuracy")
    _epoch_axes(loss_ax, "Loss")
    acc_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in (acc_ax, loss_ax):
        if ax.has_data():
            _legend_below(ax, ncols=2 if len(histories) > 1 else 1)
        else:
            _no_data(ax, "no epoch has finished yet")
    fig.suptitle("Training (solid) and validation (dashed), one colour per run")
    return fig


def accuracy_bars_figure(labels: Sequence[str], accuracy: Sequence[float | None],
                         params: Sequence[int | None], seconds: Sequence[float | None]) -> Figure:
    """Final test accuracy per run, each bar labelled with its parameters and training time."""
    fig = Figure(figsize=(max(5.0, 1.6 * len(labels) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(labels))
    heights = [a if a is not None else 0.0 for a in accuracy]
    bars = ax.bar(x, heights, color=[f"C{i % 10}" for i in range(len(labels))])
    texts = []
    for a, p, s in zip(accuracy, params, seconds):
        lines = [f"{a:.1%}" if a is not None else "no test yet"]
        lines.append(f"{p:,} params" if p is not None else "params ?")
        lines.append(f"{s:,.0f} s" if s is not None else "time ?")
        texts.append("\n".join(lines))
    ax.bar_label(bars, labels=texts, padding=3, fontsize=8)
    ax.set_xticks(x, labels, rotation=15 if len(labels) > 3 else 0, ha="right" if len(labels) > 3 else "center")
    ax.set_ylim(0, 1.3)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("test accuracy")
    ax.set_title("Test accuracy, parameters and training time")
    return fig


# --- helpers ----------------------------------------------------------------------------


def _epoch_axes(ax, title: str) -> None:
    """Title, label and whole-epoch ticks; called once the curves are drawn."""
    ax.set_title(title)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    first, last = ax.dataLim.intervalx
    if ax.has_data() and first == last:  # one epoch: the locator would tick 0.945 ... 1.050
        ax.set_xlim(first - 0.5, last + 0.5)
        ax.set_xticks([first])
    ax.grid(True, alpha=0.3)


def _legend_below(ax, ncols: int) -> None:
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=ncols, frameon=False)


def _probability(p: float) -> str:
    """0.87 -> 'p = 87%'; never rounds a probability below 1 up to 100%."""
    return "p > 99.9%" if p >= 0.999 else f"p = {p:.1%}" if p >= 0.99 else f"p = {p:.0%}"


def _show_image(ax, image: np.ndarray, extent=None) -> None:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255,
              interpolation="nearest", extent=extent, aspect="equal" if extent is None else "auto")


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
