"""The default thread count follows the cores that are free right now."""

from cnnlab.train import precision


def fake_loadavg(*running):
    texts = iter(f"0.90 1.10 1.40 {r}/321 4242\n" for r in running)
    return lambda: next(texts)


def test_counts_other_runnable_tasks_by_the_median_of_samples():
    assert precision.other_runnable_tasks(read=fake_loadavg(1, 1, 3, 1, 2)) == 0
    assert precision.other_runnable_tasks(read=fake_loadavg(2, 3, 2, 2, 9)) == 1


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
