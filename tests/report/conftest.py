"""Report tests: synthetic run folders (helpers/runs.py), offline."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
