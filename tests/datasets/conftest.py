"""Fixtures for the datasets tests: an isolated cache, tiny files in the real formats, and a
loopback HTTP server with fault injection. Nothing here touches the internet."""

from __future__ import annotations

import socket

import pytest
from helpers.datasets import FaultServer

from cnnlab.datasets import registry

ENV_VARS = ("CNNLAB_HOME", "CNNLAB_DATA_DIR", "CNNLAB_MIRRORS", "CNNLAB_OFFLINE", "KERAS_HOME",
            "XDG_CACHE_HOME", "CNNLAB_CONNECT_TIMEOUT", "CNNLAB_READ_TIMEOUT", "CNNLAB_MIN_RATE",
            "CNNLAB_DOWNLOAD_DEADLINE")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test: its own cache and Keras home, short timeouts, and no route off loopback."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("CNNLAB_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("CNNLAB_READ_TIMEOUT", "1")
    real = socket.create_connection

    def loopback_only(address, *args, **kwargs):
        assert address[0] in ("127.0.0.1", "localhost"), f"test tried to reach {address[0]}"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", loopback_only)
    return tmp_path


@pytest.fixture
def server():
    s = FaultServer()
    yield s
    s.close()


@pytest.fixture
def mirrored(server, monkeypatch):
    """The server, with CNNLAB_MIRRORS pointing every dataset at http://127.0.0.1:PORT/<name>/."""
    monkeypatch.setenv("CNNLAB_MIRRORS", server.url + "/{dataset}/")
    return server


@pytest.fixture
def install(monkeypatch):
    """Put a spec into the registry for this test only."""

    def _install(spec: registry.DatasetSpec) -> registry.DatasetSpec:
        monkeypatch.setitem(registry.DATASETS, spec.name, spec)
        return spec

    return _install


