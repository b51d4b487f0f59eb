import os

import pytest

from cnnlab.cli import main

# Keras is the oracle in tests; its torch backend needs no TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

# CI replays the same examples every run (a red build must mean a change broke something);
# locally hypothesis explores new examples each time.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture
def cli(capsys):
    """Run `cnnlab ARGS...` in this process: (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
