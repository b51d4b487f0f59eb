"""Fixtures for the training tests; shared helpers live in tests/helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.training import TINY_MODEL


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A fresh current directory holding tiny.txt, the tiny model."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.txt").write_text(TINY_MODEL)
    return tmp_path
