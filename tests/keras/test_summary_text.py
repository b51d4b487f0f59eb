"""The summary text is returned, not rendered, wherever it runs (Jupyter included)."""

import rich.console

from cnnlab.models.layers import make_layer, new_spec
from cnnlab.models.shapes import analyze
from cnnlab.models.summary import format_summary


def test_format_summary_returns_the_text_inside_jupyter(monkeypatch):
    monkeypatch.setattr(rich.console, "_is_jupyter", lambda: True)
    spec = new_spec("m", [make_layer("Flatten", {}), make_layer("Dense", {"units": 3})], (4, 4, 1))
    text = format_summary(analyze(spec))
    assert text.startswith('Model: "m"') and "Total params: 51" in text


def test_input_name_and_optimizer_params_lines():
    spec = new_spec("m", [make_layer("Dense", {"units": 3})], (4,))
    text = format_summary(analyze(spec), input_name="pixels", optimizer_params=32)
    assert "pixels (InputLayer)" in text
    assert " Total params: 47 (188.00 B)\n" in text and text.endswith(" Optimizer params: 32 (128.00 B)\n")
