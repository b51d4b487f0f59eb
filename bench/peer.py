"""Finding and running the Keras peer of the benchmarks (bench/keras_peer.py).

The peer is Keras 3 on TensorFlow from .venv-bench (`make bench` creates it with pip's
tensorflow-cpu). Where TensorFlow could not be installed, Keras 3 on the torch backend in
this interpreter stands in, and every report says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_SCRIPT = ROOT / "bench" / "keras_peer.py"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def find_peer(python: str | None = None) -> tuple[str, dict[str, str], str]:
    """(python executable, environment, description) of the Keras side."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    candidate = python or (str(BENCH_PYTHON) if BENCH_PYTHON.exists() else None)
    if candidate and _imports(candidate, "tensorflow", env):
        return candidate, {**env, "KERAS_BACKEND": "tensorflow"}, "Keras 3 on TensorFlow"
    note = ("Keras 3 on the torch backend (TensorFlow is not installed in .venv-bench; "
            "`make bench` tries to install tensorflow-cpu there)")
    return sys.executable, {**env, "KERAS_BACKEND": "torch"}, note


def _imports(python: str, module: str, env: dict[str, str]) -> bool:
    done = subprocess.run([python, "-c", f"import {module}"], env=env, capture_output=True)
    return done.returncode == 0


def run_peer(python: str, env: dict[str, str], *args: str) -> dict:
    done = subprocess.run([python, str(PEER_SCRIPT), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the Keras peer failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def code_version() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src", "bench"],
                           capture_output=True, text=True).stdout.strip()
    return (done.stdout.strip() or "unknown") + ("+changes" if dirty else "")


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"
