"""Fixtures for the training tests; helpers live in trainfixtures.py beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from trainfixtures import TINY_MODEL  # noqa: E402


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A fresh current directory holding tiny.txt, the tiny model."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.txt").write_text(TINY_MODEL)
    return tmp_path
