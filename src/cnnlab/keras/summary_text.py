"""The two summary texts Keras prints that cnnlab's `format_summary` does not: shapes with a
known batch size, and a Sequential model whose input is not known yet (`?` shapes)."""

from __future__ import annotations

import re

from cnnlab.models.layers import Layer, ModelSpec
from cnnlab.models.shapes import LayerReport, ModelReport
from cnnlab.models.summary import format_summary


def with_batch_size(text: str, batch: int) -> str:
    """Shapes as Keras shows them for a known batch size: (32, 26, 26, 8), same column width."""

    def swap(match: re.Match) -> str:
        shape = f"({batch}, {match[1]})"
        return shape + " " * max(len(match[0]) - len(shape), 1)

    return re.sub(r"\(None, ([0-9, ]*)\) *", swap, text)


def unbuilt_summary(name: str, layers: list[tuple[str, str]], line_length: int | None) -> str:
    """Keras's summary of layers without shapes yet: `?` for the shape, `0 (unbuilt)` params."""
    rows = [LayerReport(Layer(kind, {}, layer_name), (), (), 0, 0, "", 0) for layer_name, kind in layers]
    text = format_summary(ModelReport(ModelSpec(name, [], None, False), (), rows),
                          line_length=line_length, notes=False)

    def unbuilt(match: re.Match) -> str:
        shape_cell, params_cell = match[1], match[2]
        shape = "?" + " " * (len(shape_cell) - 1)
        params = "0 (unbuilt)".rjust(len(params_cell) - 1) + " "
        return f"│ {shape}│{params}│"

    # a row is "│ name │ (None)<pad>│<pad>0 │"; the shape and parameter cells keep their widths
    return re.sub(r"│ (\(None\) *)│( +0 )│", unbuilt, text)
