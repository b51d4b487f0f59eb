"""`model.summary()` as Keras 3 prints it, character for character.

Keras renders its summary with a `rich` table: columns at 45% / 80% / 100% of the
line length, which is min(88, terminal columns - 4), so 76 in a notebook or a pipe.
We build the same table with the same library; `--explain` and `--macs` add columns
of our own after Keras's three.
"""

from __future__ import annotations

import io
import shutil

from cnnlab.models.shapes import ModelReport, fmt, shape_text

BYTES_PER_PARAM = 4  # float32 weights, as Keras counts memory


def keras_line_length() -> int:
    """The width Keras would use here: min(88, terminal columns - 4)."""
    return min(88, shutil.get_terminal_size().columns - 4)


def readable_size(n_bytes: float) -> str:
    """Keras's memory figure: 141.16 KB, 0.00 B (powers of 1024)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def summary_rows(report: ModelReport, input_name: str | None = None) -> list[dict[str, str]]:
    """One row per layer (InputLayer first for functional models, named `input_name` or as the
    spec names it), as displayed."""
    rows = []
    if report.spec.functional:
        rows.append(
            {
                "name": f"{input_name or report.spec.input_name} (InputLayer)",
                "shape": shape_text(report.input_shape),
                "params": "0",
                "formula": "",
                "macs": "0",
            }
        )
    for r in report.layers:
        rows.append(
            {
                "name": f"{r.layer.name} ({r.layer.kind})",
                "shape": shape_text(r.output_shape),
                "params": fmt(r.params),
                "formula": r.formula if r.params else "",
                "macs": fmt(r.macs),
            }
        )
    return rows


def format_summary(
    report: ModelReport,
    *,
    explain: bool = False,
    macs: bool = False,
    line_length: int | None = None,
    notes: bool = True,
    input_name: str | None = None,
    optimizer_params: int | None = None,
) -> str:
    """The summary text, ending with a newline; `notes` adds cnnlab's remarks after Keras's text.

    `input_name` is the InputLayer's name (default: the spec's); `optimizer_params` (after training, as Keras counts
    the optimizer's variables) adds Keras's "Optimizer params" line and counts them in the total.
    """
    import rich.console
    import rich.table
    from rich.text import Text

    base = line_length or keras_line_length()
    headers = [("Layer (type)", "left"), ("Output Shape", "left"), ("Param #", "right")]
    positions = [0.45, 0.80, 1.0]
    keys = ["name", "shape", "params"]
    extra = []
    if explain:
        extra.append(("Formula", "left", 34, "formula"))
    if macs:
        extra.append(("MACs", "right", 15, "macs"))
    widths = _column_widths(base, positions)
    total_width = base
    for title, align, width, key in extra:
        headers.append((title, align))
        widths.append(width)
        keys.append(key)
        total_width += width

    columns = [
        rich.table.Column(title, justify=align, width=w)
        for (title, align), w in zip(headers, widths)
    ]
    table = rich.table.Table(*columns, width=total_width, show_lines=True)
    for row in summary_rows(report, input_name):
        table.add_row(*(Text(row[k]) for k in keys))

    out = io.StringIO()
    console = rich.console.Console(
        file=out, width=max(total_width, 80), highlight=False, force_terminal=False,
        force_jupyter=False,  # in a notebook, rich would render to the page and leave `out` empty
        color_system=None, soft_wrap=False,
    )
    console.print(Text(f'Model: "{report.spec.name}"'))
    console.print(table)
    size = readable_size
    total = report.total + (optimizer_params or 0)
    console.print(Text(f" Total params: {fmt(total)} ({size(total * BYTES_PER_PARAM)})"))
    console.print(
        Text(f" Trainable params: {fmt(report.trainable)} ({size(report.trainable * BYTES_PER_PARAM)})")
    )
    console.print(
        Text(
            f" Non-trainable params: {fmt(report.non_trainable)} "
            f"({size(report.non_trainable * BYTES_PER_PARAM)})"
        )
    )
    if optimizer_params is not None:
        console.print(
            Text(f" Optimizer params: {fmt(optimizer_params)} ({size(optimizer_params * BYTES_PER_PARAM)})")
        )
    text = out.getvalue()
    if macs:
        text += f" Total MACs: {fmt(report.macs)} per image\n"
    for note in report.notes if notes else []:
        text += f" Note: {note}.\n"
    return text


def _column_widths(line_length: int, positions: list[float]) -> list[int]:
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        widths.append(width)
        current += width
    return widths
