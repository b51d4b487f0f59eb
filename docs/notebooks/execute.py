"""Run docs/notebooks/lesson-on-cnnlab.ipynb in a fresh Jupyter kernel and save its outputs.

    .venv/bin/python docs/notebooks/execute.py

The outputs are what the docs show; tests/keras/test_notebook.py runs the same notebook.
"""

import os
import tempfile
from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).with_name("lesson-on-cnnlab.ipynb")


def shown(outputs: list) -> list:
    """What Jupyter shows: consecutive stream outputs joined, each line at its last carriage
    return (a live progress bar's final state)."""
    merged: list = []
    for output in outputs:
        if (output.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                and merged[-1]["name"] == output["name"]):
            merged[-1]["text"] += output["text"]
        else:
            merged.append(output)
    for output in merged:
        if output.get("output_type") == "stream":
            output["text"] = "\n".join(line.split("\r")[-1] for line in output["text"].split("\n"))
    return merged


def main() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as work:  # the files the cells write stay out of the repo
        os.environ.setdefault("CNNLAB_OFFLINE", "1")
        nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": work}}).execute()
    for cell in notebook.cells:
        cell["outputs"] = shown(cell.get("outputs", []))
    nbformat.write(notebook, NOTEBOOK)
    print(f"wrote {NOTEBOOK}")


if __name__ == "__main__":
    main()
