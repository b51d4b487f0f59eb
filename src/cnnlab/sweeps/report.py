"""The sweep report: `index.html` (best setting, mean ± std table, plot, every run) and
`sweep.png` / `sweep.svg`, the final val_loss and val_accuracy against the swept value with
one-std error bars (the lesson's dropout exercise: val_loss against the rate).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from cnnlab.report import html
from cnnlab.report.plots import save_figure
from cnnlab.sweeps.grid import value_text
from cnnlab.sweeps.summary import MEASURES, SettingSummary, best_setting, within_noise

PLOT = "sweep"


def sweep_figure(summaries: list[SettingSummary], axis_names: list[str]) -> Figure:
    """Final val_loss and val_accuracy (mean, ± one std) against the first axis's values;
    one line per combination of the other axes; each seed's run as a faint dot."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    first = axis_names[0]
    xs_all = [dict(s.values)[first] for s in summaries]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    categories = list(dict.fromkeys(value_text(x) for x in xs_all))

    def position(value: Any) -> float:
        return float(value) if numeric else float(categories.index(value_text(value)))

    lines: dict[str, list[SettingSummary]] = {}
    for s in summaries:
        rest = ",".join(f"{k}={value_text(v)}" for k, v in s.values if k != first)
        lines.setdefault(rest, []).append(s)
    for ax, metric, title in zip(fig.subplots(1, 2), ("val_loss", "val_accuracy"),
                                 ("final val_loss", "final val_accuracy")):
        key = f"final_{metric}"
        for label, group in lines.items():
            group = [s for s in group if key in s.stats]
            if not group:
                continue
            x = [position(dict(s.values)[first]) for s in group]
            mean = [s.stats[key].mean for s in group]
            std = [s.stats[key].std or 0.0 for s in group]
            bars = ax.errorbar(x, mean, yerr=std, marker="o", capsize=4, label=label or None)
            for xi, s in zip(x, group):
                ax.plot([xi] * len(s.runs), [r.values[key] for r in s.runs], ".",
                        color=bars.lines[0].get_color(), alpha=0.35)
        ax.set_title(title)
        ax.set_xlabel(first)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if not numeric:
            ax.set_xticks(range(len(categories)), categories)
        elif min(xs_all) > 0 and max(xs_all) >= 10 * min(xs_all):
            ax.set_xscale("log")  # learning rates and the like: a factor apart, not a distance
        if len(lines) > 1:
            ax.legend(fontsize="small")
    return fig


def write_report(sweep, summaries: list[SettingSummary], status: str, wall_seconds: float) -> Path:
    """Write sweep.{png,svg} and index.html into the sweep folder; returns the HTML path."""
    axis_names = [axis.name for axis in sweep.axes]
    png = None
    if summaries:
        png = save_figure(sweep_figure(summaries, axis_names), sweep.path / PLOT)[0]
    page = _page(sweep, summaries, status, wall_seconds, png)
    return html.write_page(page, sweep.path / "index.html")


def best_sentence(summaries: list[SettingSummary], metric: str) -> str:
    best = best_setting(summaries, metric)
    if best is None:
        return "No setting has finished runs yet."
    stat = best.stats[f"final_{metric}"]
    lower = "lowest" if metric.endswith("loss") else "highest"
    text = (f"Best setting: {best.setting}, the {lower} mean final {metric} "
            f"({stat.text()} over {stat.n} seed{'s' if stat.n > 1 else ''}).")
    close = within_noise(best, summaries, metric)
    if close:
        text += (f" Within one standard deviation of it: {', '.join(s.setting for s in close)}; "
                 "more seeds would be needed to tell them apart.")
    return text


def _page(sweep, summaries, status, wall_seconds, png) -> html.Page:
    runs = sum(len(s.runs) for s in summaries)
    total = len(sweep.points())
    headings = [heading for _, heading, _ in MEASURES]
    keys = [key for key, _, _ in MEASURES]
    table = html.Table(
        ["setting", "runs", *headings, "seconds/run"],
        [[s.setting, len(s.runs), *[s.stats[k].text() if k in s.stats else "" for k in keys],
          f"{s.seconds.mean:.1f}"] for s in summaries],
        caption="mean ± sample standard deviation over the seeds",
    )
    run_rows = [[r.name, r.seed, r.epochs, *[_num(r.values.get(k)) for k in keys], f"{r.seconds:.1f}"]
                for s in summaries for r in s.runs]
    notices = []
    if status != "finished" or runs < total:
        notices.append(html.Notice(
            f"This sweep is {status}: {runs} of {total} runs finished. Continue it with "
            f"`cnnlab sweep --resume {sweep.path}`."))
    result = [html.Paragraph(best_sentence(summaries, sweep.metric))]
    if png is not None:
        result.append(html.Image.from_file(png, alt=f"final val_loss and val_accuracy against {sweep.axes[0].name}",
                                           caption="mean ± one standard deviation; dots are single runs"))
    grid = [f"`{axis.name}` = {', '.join(value_text(v) for v in axis.values)} ({axis.describes()})"
            for axis in sweep.axes]
    grid.append(f"seeds {', '.join(map(str, sweep.seeds))}; {total} runs; wall time {wall_seconds:.0f} s")
    return html.Page(
        title=f"Sweep {sweep.path.name}",
        subtitle=f"{sweep.spec.name} on {sweep.dataset}",
        notices=notices,
        sections=[
            html.Section("Result", result),
            html.Section("Mean ± std per setting", [table]),
            html.Section("Grid", [html.BulletList(grid),
                                  html.key_value_table(_base_settings(sweep), caption="base settings")]),
            html.Section("Runs", [html.Table(["run", "seed", "epochs", *headings, "seconds"], run_rows,
                                             caption="each run is a run folder beside this page")]),
        ],
    )


def _base_settings(sweep) -> dict[str, Any]:
    """The settings every run shares; seed and threads are per run (--seeds, --workers)."""
    return {k: v for k, v in sweep.settings.to_dict().items() if k not in ("seed", "threads")}


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
