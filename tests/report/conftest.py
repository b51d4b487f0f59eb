"""Report tests: synthetic run folders (fakeruns.py) and an isolated cnnlab home."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the helpers module beside this file, importable whatever pytest's import mode
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path_factory.getbasetemp() / "cnnlab_home"))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
