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


@pytest.fixture(scope="session")
def _session_home(tmp_path_factory):
    return tmp_path_factory.mktemp("cnnlab-home")


@pytest.fixture(scope="session", autouse=True)
def _kernels_built(_session_home):
    """The C kernels compiled once, before any test: the first build's notice on stderr then
    never lands in the output a test checks, whatever order the tests run in."""
    from cnnlab.engine.native import compiler

    before = os.environ.get("CNNLAB_HOME")
    os.environ["CNNLAB_HOME"] = str(_session_home)
    try:
        for source in sorted(compiler.SOURCE_DIR.glob("*.c")):
            compiler.load(source.stem)
    finally:
        if before is None:
            del os.environ["CNNLAB_HOME"]
        else:
            os.environ["CNNLAB_HOME"] = before


@pytest.fixture(autouse=True)
def _isolated_home(_session_home, monkeypatch):
    """Every test's cache (datasets, compiled kernels) is a temp folder, never the user's.

    One folder for the session, so the C kernels compile once; tests that need an empty
    cache set CNNLAB_HOME to their own tmp_path.
    """
    monkeypatch.setenv("CNNLAB_HOME", str(_session_home))


@pytest.fixture
def cli(capsys):
    """Run `cnnlab ARGS...` in this process: (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run
