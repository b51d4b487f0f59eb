"""A real Jupyter kernel runs the lesson's notebook cells with `from cnnlab import keras`.

The cells are the lesson's code with the import changed, from the notebook the docs render
(docs/notebooks/lesson-on-cnnlab.ipynb); the data cell loads scikit-learn's embedded digits
(no network) instead of a download, and the model fits 8x8 images.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parents[2] / "docs" / "notebooks" / "lesson-on-cnnlab.ipynb"  # shown in the docs


def lesson_cells() -> list[str]:
    """The code cells of the notebook the docs show (its outputs there come from execute.py)."""
    return [cell.source for cell in nbformat.read(NOTEBOOK, as_version=4).cells if cell.cell_type == "code"]


def test_the_lessons_cells_run_in_a_jupyter_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "home"))  # a first run: kernels compile here
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in lesson_cells()])
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [cell.outputs for cell in notebook.cells]
    for cell_outputs in outputs:
        for out in cell_outputs:
            assert out.output_type != "error"
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text

    def stdout(i: int) -> str:
        return "".join(o.text for o in outputs[i] if o.output_type == "stream" and o.name == "stdout")

    def result(i: int) -> str:
        return "".join(o.data["text/plain"] for o in outputs[i] if o.output_type == "execute_result")

    assert stdout(2).startswith('Model: "digits_model_small"')
    if shutil.which(os.environ.get("CC", "cc")):  # a first run compiles the engine's kernels and says so
        assert "cnnlab: compiling cnnlab's CPU kernels, once" in stdout(3)
    assert "│ input_layer (InputLayer)" in stdout(2) and " Total params: 5,130 (20.04 KB)" in stdout(2)
    fit = stdout(3)
    assert fit.startswith("Epoch 1/3\n") and "Epoch 3/3\n" in fit
    assert len(fit) < 20_000
    finals = [line.split("\r")[-1] for line in fit.split("\n") if "val_accuracy" in line]
    assert len(finals) == 3 and all(re.match(r"\d+/\d+ ━{20} \d+s", line) for line in finals)
    assert result(4) == "dict_keys(['accuracy', 'loss', 'val_accuracy', 'val_loss'])"
    assert "dropout (Dropout)" in stdout(5)
    assert stdout(6).count("Epoch ") >= 3 and "\r" not in stdout(6)
    assert float(stdout(7).splitlines()[-1]) > 0.5
    assert result(8) == "(360, 10)" or re.fullmatch(r"\(\d+, 10\)", result(8))
    assert result(9) == "True"
    assert "Search: Running Trial #2" in stdout(10) and "Trial 2 Complete" in stdout(10)
    assert stdout(11).startswith("Results summary\nResults in ./untitled_project\nShowing 10 best trials\n")
