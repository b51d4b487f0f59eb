"""A painter process draws some of a run's pictures while the caller draws the others: the
files are the same as when one process draws them all, and a painter that fails is replaced
by drawing here."""

import hashlib
import os

import pytest
from helpers.runs import write_run

from cnnlab.report import plots, run_pictures
from cnnlab.report.painter import REPORT_JOB, Painter, spare_core
from cnnlab.rundir import load_run


def digests(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


@pytest.fixture
def drawn_here(tmp_path):
    """A run's pictures drawn by this process alone, and their digests."""
    run_dir = write_run(tmp_path / "r")
    alone = run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False)
    return run_dir, alone, digests(run_dir / "plots")


def test_the_painter_draws_its_pictures_in_its_own_process(drawn_here, monkeypatch):
    run_dir, alone, expected = drawn_here
    for key in REPORT_JOB:
        (run_dir / "plots" / f"{key}.png").unlink()

    def not_here(*args, **kwargs):
        raise AssertionError("drawn by the caller, not the painter")

    monkeypatch.setattr(plots, "confusion_matrix_figure", not_here)
    monkeypatch.setattr(plots, "per_class_accuracy_figure", not_here)
    painter = Painter.launch()
    painter.draw(run_dir, REPORT_JOB, ("png",))
    shared = run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False, painter=painter)
    assert painter.process.returncode == 0
    assert shared == alone and digests(run_dir / "plots") == expected  # same pictures, same bytes


def test_a_painter_that_fails_is_replaced_by_drawing_here(drawn_here):
    run_dir, alone, expected = drawn_here
    for key in REPORT_JOB:
        (run_dir / "plots" / f"{key}.png").unlink()
    painter = Painter.launch()
    painter.process.kill()  # dies before it gets its job
    painter.draw(run_dir, REPORT_JOB, ("png",))
    shared = run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False, painter=painter)
    assert shared == alone and digests(run_dir / "plots") == expected


def test_a_painter_without_a_job_is_stopped(tmp_path):
    painter = Painter.launch()
    painter.close()
    assert painter.process.returncode is not None
    painter.close()  # twice is harmless
    assert Painter.start() is None  # matplotlib is loaded in this process already: no time to save


def test_a_painter_only_where_a_second_core_is_free():
    cores = len(os.sched_getaffinity(0))
    assert spare_core("0.1 0.1 0.1 1/200 4242") == (cores >= 2)  # only this process runs
    assert not spare_core(f"2.0 2.0 2.0 {cores}/200 4242")  # the others keep all but one core busy
    assert spare_core("not a load average") == (cores >= 2)  # unreadable: the cores alone
