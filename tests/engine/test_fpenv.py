"""Flushing subnormal floats on this thread and on torch's worker threads (fpenv.c)."""

import pytest
import torch

from cnnlab.engine.native import fpenv
from cnnlab.train.trainer import flush_denormals

pytestmark = pytest.mark.skipif(fpenv.library() is None, reason="no C compiler")


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


TINY = torch.full((1 << 20,), 1e-39)  # subnormal in float32; made before any flushing


def subnormals_survive() -> int:
    """How many of 2^20 subnormal products come out non-zero (the work is split over threads)."""
    return int(((TINY * 1.0) != 0).sum())


def test_flushing_reaches_the_worker_threads(two_threads):
    assert subnormals_survive() == 1 << 20
    with flush_denormals():
        assert subnormals_survive() == 0
    assert subnormals_survive() == 1 << 20  # switched off again, everywhere


def test_torchs_own_switch_leaves_workers_alone(two_threads):
    """Why fpenv.c exists: torch.set_flush_denormal changes only the calling thread."""
    assert subnormals_survive() == 1 << 20  # the workers exist (new ones copy this thread's setting)
    torch.set_flush_denormal(True)
    try:
        survivors = subnormals_survive()
    finally:
        torch.set_flush_denormal(False)
    assert 0 < survivors < 1 << 20
