"""`cnnlab compare runs/a runs/b ...`: a side-by-side table, overlaid curves, a bar chart, and
a paragraph whose every sentence is computed from the runs' numbers; as HTML and as text.

Runs of different datasets may be compared; the report then says so at the top.
"""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Sequence
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.report import html, plots
from cnnlab.report.analysis import best_epoch, generalisation_gap
from cnnlab.report.sentences import (
    best_epoch_sentence,
    duration,
    gap_words,
    overfitting_sentence,
    pct,
    points,
)
from cnnlab.rundir import Run, load_run

SAME = 0.001  # accuracies closer than 0.1 points count as equal
CLEARLY = 0.01  # generalisation gaps must differ by a point to call one run better


@dataclasses.dataclass
class RunRow:
    """One run's line in the comparison table; None where the run has no such number."""

    label: str
    run: Run
    params: int | None
    macs: int | None
    epochs: int
    best_val_accuracy: float | None
    best_epoch: int | None
    final_val_accuracy: float | None
    test_accuracy: float | None
    seconds: float | None

    @property
    def model(self) -> str:
        return self.run.model_name

    @property
    def dataset(self) -> str:
        return self.run.dataset or "?"


COLUMNS = ("run", "model", "dataset", "params", "MACs", "epochs", "best val acc (epoch)",
           "final val acc", "test acc", "seconds")


def load_rows(run_dirs: Sequence[str | Path]) -> list[RunRow]:
    if len(run_dirs) < 2:
        raise CnnlabError("compare needs at least two run folders, e.g. cnnlab compare runs/a runs/b")
    runs = [load_run(d) for d in run_dirs]
    return [_row(label, run) for label, run in zip(run_labels(runs), runs)]


def run_labels(runs: Sequence[Run]) -> list[str]:
    """Folder names, with the parent folder added where two runs share a name."""
    names = [r.name for r in runs]
    return [f"{r.path.parent.name}/{r.name}" if names.count(r.name) > 1 else r.name for r in runs]


def _row(label: str, run: Run) -> RunRow:
    from cnnlab.report.run_report import model_report

    report = model_report(run)
    h = run.history
    best = best_epoch(h)
    test = (run.metrics or {}).get("test_accuracy")
    return RunRow(
        label=label,
        run=run,
        params=report.total if report else None,
        macs=report.macs if report else None,
        epochs=len(h),
        best_val_accuracy=h.val_accuracy[best] if best is not None and h.val_accuracy else None,
        best_epoch=h.epoch[best] if best is not None else None,
        final_val_accuracy=h.val_accuracy[-1] if h.val_accuracy else None,
        test_accuracy=float(test) if isinstance(test, (int, float)) else None,
        seconds=run.seconds,
    )


# --- the paragraph ----------------------------------------------------------------------------


def warnings(rows: Sequence[RunRow]) -> list[str]:
    found = []
    datasets = sorted({r.dataset for r in rows})
    if len(datasets) > 1:
        which = ", ".join(f"`{r.label}` on {r.dataset}" for r in rows)
        found.append(f"These runs use different datasets ({which}): their accuracies are not "
                     "measured on the same images and do not compare directly.")
    for r in rows:
        if not r.run.finished:
            found.append(f"`{r.label}` has no test metrics yet (still training, or stopped after "
                         f"{r.epochs} epoch{'s' if r.epochs != 1 else ''}).")
    return found


def comparison_sentences(rows: Sequence[RunRow]) -> list[str]:
    """What differs between the runs, each sentence computed from their numbers."""
    sentences = [_leader_sentence(rows), _generalisation_sentence(rows), _cost_sentence(rows),
                 _epochs_sentence(rows)]
    for r in rows:
        sentences.append(best_epoch_sentence(f"`{r.label}`", r.run.history))
        sentences.append(overfitting_sentence(f"`{r.label}`", r.run.history))
    return [s for s in sentences if s]


def ranking_measure(rows: Sequence[RunRow]) -> tuple[str, list[float]] | None:
    """Test accuracy when every run has one, else the best val_accuracy."""
    if all(r.test_accuracy is not None for r in rows):
        return "test accuracy", [r.test_accuracy for r in rows]
    if all(r.best_val_accuracy is not None for r in rows):
        return "best val_accuracy", [r.best_val_accuracy for r in rows]
    return None


def _leader_sentence(rows: Sequence[RunRow]) -> str | None:
    measure = ranking_measure(rows)
    if measure is None:
        return None
    what, values = measure
    order = sorted(range(len(rows)), key=lambda i: -values[i])
    top, last = order[0], order[-1]
    if values[top] - values[last] < SAME:
        every = "Both runs" if len(rows) == 2 else "All runs"
        return f"{every} reach the same {what}, {pct(values[top])} (within 0.1 points)."
    if len(rows) == 2:
        return (f"`{rows[top].label}` has the higher {what}, {pct(values[top])}: "
                f"{points(values[top] - values[last])} above `{rows[last].label}` ({pct(values[last])}).")
    return (f"`{rows[top].label}` has the highest {what}, {pct(values[top])}; `{rows[last].label}` "
            f"the lowest, {pct(values[last])} ({points(values[top] - values[last])} below).")


def _generalisation_sentence(rows: Sequence[RunRow]) -> str | None:
    gaps = [(generalisation_gap(r.run.history), r) for r in rows]
    gaps = [(g, r) for g, r in gaps if g is not None]
    if len(gaps) < 2:
        return None
    gaps.sort(key=lambda item: item[0])
    (small, better), (large, worse) = gaps[0], gaps[-1]
    if large - small < CLEARLY:
        listed = " and ".join(f"{abs(g) * 100:.1f}" for g, _ in gaps)
        if small >= 0:
            return ("The runs generalise about equally well: at their last epochs training accuracy "
                    f"exceeds val_accuracy by {listed} points.")
        if large <= 0:
            return ("The runs generalise about equally well: at their last epochs val_accuracy exceeds "
                    f"training accuracy by {listed} points.")
        listed = " and ".join(f"{g * 100:+.1f}" for g, _ in gaps)
        return ("The runs generalise about equally well: at their last epochs training accuracy minus "
                f"val_accuracy is {listed} points.")
    best = "better" if len(gaps) == 2 else "best"
    lead = f"`{better.label}` generalises {best}: at its last epoch {gap_words(small)}"
    if small >= 0:  # both gaps are training accuracy above val_accuracy
        if len(gaps) == 2:
            return f"{lead}, against {points(large)} for `{worse.label}`."
        return f"{lead}; the largest gap is {points(large)}, for `{worse.label}`."
    return f"{lead}; for `{worse.label}` {gap_words(large)}."


def _cost_sentence(rows: Sequence[RunRow]) -> str | None:
    """Parameters and time of the most accurate run against the next one."""
    measure = ranking_measure(rows)
    if measure is None:
        return None
    order = sorted(range(len(rows)), key=lambda i: -measure[1][i])
    a, b = rows[order[0]], rows[order[1]]
    parts = []
    if a.params and a.params == b.params:
        parts.append(f"the same number of parameters as `{b.label}` ({a.params:,})")
    elif a.params and b.params:
        parts.append(f"{_times(a.params / b.params, 'as many parameters as', 'the parameters of')} "
                     f"`{b.label}` ({a.params:,} vs {b.params:,})")
    if a.seconds and b.seconds:
        parts.append(f"trained {_times(a.seconds / b.seconds, 'as long', 'the time', within='in ')} "
                     f"({duration(a.seconds)} vs {duration(b.seconds)})")
    if not parts:
        return None
    values = measure[1]
    if values[order[0]] - values[order[1]] < SAME:
        lead = f"`{a.label}` and `{b.label}` are equally accurate; `{a.label}` has "
    else:
        lead = f"The most accurate run, `{a.label}`, has "
    return lead + " and ".join(parts) + "."


def _times(ratio: float, as_much: str, share_of: str, within: str = "") -> str:
    """'3.1 times as long', 'in only 42% of the time', 'about as long'."""
    if ratio >= 1.05:
        return f"{ratio:.1f} times {as_much}"
    if ratio <= 0.95:
        return f"{within}only {ratio:.0%} of {share_of}"
    return f"about {as_much}"


def _epochs_sentence(rows: Sequence[RunRow]) -> str | None:
    counts = sorted({r.epochs for r in rows})
    if len(counts) < 2:
        return None
    listed = ", ".join(f"`{r.label}` {r.epochs}" for r in rows)
    return f"The runs trained for different numbers of epochs ({listed})."


# --- outputs ----------------------------------------------------------------------------------


def table_rows(rows: Sequence[RunRow]) -> list[list[str]]:
    def acc(v):
        return pct(v) if v is not None else "–"

    return [
        [r.label, r.model, r.dataset,
         f"{r.params:,}" if r.params is not None else "–",
         f"{r.macs:,}" if r.macs is not None else "–",
         str(r.epochs),
         f"{acc(r.best_val_accuracy)} ({r.best_epoch})" if r.best_val_accuracy is not None else "–",
         acc(r.final_val_accuracy), acc(r.test_accuracy),
         f"{r.seconds:,.1f}" if r.seconds is not None else "–"]
        for r in rows
    ]


def comparison_text(rows: Sequence[RunRow], width: int = 88) -> str:
    """The table in fixed-width columns, then the warnings and the paragraph, for a terminal."""
    body = table_rows(rows)
    widths = [max(len(c), *(len(b[i]) for b in body)) for i, c in enumerate(COLUMNS)]
    left = {0, 1, 2}

    def line(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(COLUMNS), line(["-" * w for w in widths]), *(line(b) for b in body), ""]
    for w in warnings(rows):
        out += textwrap.wrap("warning: " + w.replace("`", ""), width, subsequent_indent="  ")
    for sentence in comparison_sentences(rows):
        out += textwrap.wrap("- " + sentence.replace("`", ""), width, subsequent_indent="  ")
    return "\n".join(out) + "\n"


def comparison_page(rows: Sequence[RunRow], curves_png: Path, bars_png: Path) -> html.Page:
    labels = ", ".join(r.label for r in rows)
    return html.Page(
        title=f"Comparing {len(rows)} runs",
        subtitle=labels,
        notices=[html.Notice(w) for w in warnings(rows)],
        sections=[
            html.Section("Side by side", [html.Table(list(COLUMNS), table_rows(rows))]),
            html.Section("What differs", [html.BulletList(comparison_sentences(rows))]),
            html.Section("Training curves", [html.Image.from_file(
                curves_png, alt="overlaid training curves",
                caption="One colour per run; solid: training data, dashed: validation data.")]),
            html.Section("Test accuracy", [html.Image.from_file(
                bars_png, alt="test accuracy per run",
                caption="Final test accuracy with the parameter count and training time of each run.")]),
        ],
        footer="Written by `cnnlab compare " + " ".join(str(r.run.path) for r in rows) + "`.",
    )


def write_comparison(rows: Sequence[RunRow], out: str | Path) -> Path:
    """The HTML comparison at `out`, its pictures (PNG, SVG) in `<out stem>_plots/`."""
    out = Path(out)
    folder = out.with_name(f"{out.stem}_plots")
    curves = plots.save_figure(
        plots.overlay_curves_figure([(r.label, r.run.history) for r in rows]), folder / "overlaid_curves")
    bars = plots.save_figure(
        plots.accuracy_bars_figure([r.label for r in rows], [r.test_accuracy for r in rows],
                                   [r.params for r in rows], [r.seconds for r in rows]),
        folder / "test_accuracy")
    return html.write_page(comparison_page(rows, curves[0], bars[0]), out)
