"""Fixtures for the sweep tests: a tiny model with a Dropout layer, run in this process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from sweepfixtures import TINY_DROPOUT_MODEL  # noqa: E402


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.txt").write_text(TINY_DROPOUT_MODEL)
    return tmp_path
