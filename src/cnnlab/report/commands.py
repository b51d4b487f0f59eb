"""`cnnlab plot | report | compare`: the work behind the CLI (argument values in, files out).

`predict` is the training stage's prediction function for the mistakes grid (this package
never runs a model): `cnnlab.train.commands.plot_or_report` passes it.
"""

from __future__ import annotations

import sys


def run(args, predict=None) -> int:
    if args.command == "compare":
        return compare(args)
    return {"plot": plot, "report": report}[args.command](args, predict)


def plot(args, predict=None) -> int:
    formats = ("png", "svg") if args.svg else ("png",)
    painter = None if args.curves_only else _painter(args.run, formats)
    from cnnlab.report.plots import plot_history
    from cnnlab.report.run_pictures import draw_run_pictures
    from cnnlab.rundir import load_run

    try:
        run = load_run(args.run)
        _notes(run.notes)
        if args.curves_only:
            written = plot_history(run.path, formats)
        else:
            pictures = draw_run_pictures(run, predict=predict, formats=formats, painter=painter)
    finally:
        if painter is not None:
            painter.close()
    if not args.curves_only:
        written = [p.png.with_suffix(f".{fmt}") for p in pictures.pictures for fmt in formats]
        _notes(pictures.notes)
    for path in written:
        print(f"wrote {path}")
    return 0


def report(args, predict=None) -> int:
    formats = ("png", "svg") if args.svg else ("png",)
    painter = _painter(args.run, formats)
    from cnnlab.report.html import write_page
    from cnnlab.report.run_pictures import draw_run_pictures
    from cnnlab.report.run_report import REPORT_FILE, run_page
    from cnnlab.rundir import load_run

    try:
        run = load_run(args.run)
        pictures = draw_run_pictures(run, predict=predict, formats=formats, painter=painter)
    finally:
        if painter is not None:
            painter.close()
    _notes(run.notes + pictures.notes)
    out = write_page(run_page(run, pictures), args.out or run.path / REPORT_FILE)
    print(f"wrote {out}")
    return 0


def _painter(run_dir, formats):
    """A painter already given its job, which it starts once matplotlib is loaded, while this
    process loads matplotlib too and draws the other pictures; None where no core is free."""
    from cnnlab.report.painter import REPORT_JOB, Painter

    painter = Painter.start()
    if painter is not None:
        painter.draw(run_dir, REPORT_JOB, formats)
    return painter


def compare(args) -> int:
    from cnnlab.report.compare import comparison_text, load_rows, write_comparison

    rows = load_rows(args.runs)
    print(comparison_text(rows), end="")
    if not args.text_only:
        out = write_comparison(rows, args.out)
        print(f"\nwrote {out}")
    return 0


def _notes(notes: list[str]) -> None:
    for note in notes:
        print(f"cnnlab: note: {note}", file=sys.stderr)
