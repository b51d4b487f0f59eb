"""Fixtures for the sweep tests: a tiny model with a Dropout layer, run in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.sweeps import TINY_DROPOUT_MODEL


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.txt").write_text(TINY_DROPOUT_MODEL)
    return tmp_path
