"""The default thread count follows the cores that are free right now."""

import os
import subprocess
import sys
import time

import pytest

from cnnlab.train import precision


def fake_loadavg(*running):
    texts = iter(f"0.90 1.10 1.40 {r}/321 4242\n" for r in running)
    return lambda: next(texts)


def test_counts_other_runnable_tasks_by_the_median_of_samples():
    assert precision.other_runnable_tasks(read=fake_loadavg(1, 1, 3, 1, 2), own=lambda: 0) == 0
    assert precision.other_runnable_tasks(read=fake_loadavg(2, 3, 2, 2, 9), own=lambda: 0) == 1


def test_this_commands_own_children_are_not_other_work():
    # the painter loading matplotlib while threads are chosen is one of the 3 running tasks
    assert precision.other_runnable_tasks(read=fake_loadavg(3, 3, 3, 3, 3), own=lambda: 1) == 1


@pytest.mark.skipif(not os.path.exists(f"/proc/self/task/{os.getpid()}/children"),
                    reason="the kernel does not list a process's children")
def test_running_children_counts_a_busy_child_and_not_a_sleeping_one():
    def settles(expected):
        deadline = time.monotonic() + 20
        while precision.running_children() != expected:
            assert time.monotonic() < deadline, f"running_children() never became {expected}"
            time.sleep(0.05)

    sleeping = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        settles(1)
        busy.kill()
        busy.wait()
        settles(0)  # the sleeping child is still there, not running
        assert sleeping.poll() is None
    finally:
        for child in (busy, sleeping):
            child.kill()
            child.wait()


def test_default_threads_leaves_busy_cores_alone(monkeypatch):
    monkeypatch.setattr(precision, "usable_cores", lambda: 2)
    monkeypatch.setattr(precision, "other_runnable_tasks", lambda: 0)
    assert precision.default_threads() == 2
    monkeypatch.setattr(precision, "other_runnable_tasks", lambda: 1)
    assert precision.default_threads() == 1
    monkeypatch.setattr(precision, "other_runnable_tasks", lambda: 5)
    assert precision.default_threads() == 1  # at least one
    monkeypatch.setattr(precision, "other_runnable_tasks", lambda: None)
    assert precision.default_threads() == 2  # unknown: every usable core


def test_unreadable_loadavg_means_unknown():
    assert precision.other_runnable_tasks(read=lambda: None) is None
