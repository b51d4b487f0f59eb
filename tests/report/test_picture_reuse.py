"""A picture already in plots/ drawn from the same values (its PNG carries the stamp of its
inputs) is not drawn again: the curves `cnnlab train` drew serve the report; anything
changed (values, formats asked for, a damaged file) draws it again."""

import pytest
from helpers.runs import write_run

from cnnlab.report import plots, run_pictures
from cnnlab.rundir import load_run

STAMPED = ("training_curves", "confusion_matrix", "per_class_accuracy")
FIGURES = {"training_curves": "training_curves_figure", "confusion_matrix": "confusion_matrix_figure",
           "per_class_accuracy": "per_class_accuracy_figure"}


@pytest.fixture
def drawn(tmp_path, monkeypatch):
    """A run whose pictures were drawn once, and a list recording every figure drawn after."""
    run_dir = write_run(tmp_path / "r")
    run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False)
    calls = []
    for key, name in FIGURES.items():
        real = getattr(plots, name)
        monkeypatch.setattr(plots, name, lambda *a, _real=real, _key=key, **k: calls.append(_key) or _real(*a, **k))
    return run_dir, calls


def test_pictures_drawn_from_the_same_values_are_kept(drawn):
    run_dir, calls = drawn
    before = {key: (run_dir / "plots" / f"{key}.png").read_bytes() for key in STAMPED}
    pictures = run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False)
    assert calls == []
    assert [p.key for p in pictures.pictures] == list(STAMPED)
    assert {key: (run_dir / "plots" / f"{key}.png").read_bytes() for key in STAMPED} == before


def test_the_curves_cnnlab_train_draws_serve_the_report(tmp_path, monkeypatch):
    run_dir = write_run(tmp_path / "r")
    plots.plot_history(run_dir)  # what training calls at its end
    drawn = []
    monkeypatch.setattr(plots, "training_curves_figure", lambda *a, **k: drawn.append(1))
    run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False)
    assert drawn == []


def test_changed_values_svg_or_a_damaged_file_draw_again(drawn):
    run_dir, calls = drawn
    history = run_dir / "history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines[:-1]) + "\n")  # one epoch fewer
    run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False)
    assert calls == ["training_curves"]
    calls.clear()
    run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False, formats=("png", "svg"))
    assert calls == list(STAMPED)
    calls.clear()
    png = run_dir / "plots" / "confusion_matrix.png"
    png.write_bytes(png.read_bytes()[:40])  # truncated inside its header
    run_pictures.draw_run_pictures(load_run(run_dir), samples=False, mistakes=False)
    assert calls == ["confusion_matrix"]
    assert plots.png_stamp(png) is not None


def test_png_stamp_reads_only_a_stamp_cnnlab_wrote(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    plain, = plots.save_figure(fig, tmp_path / "plain", ("png",))
    stamped, = plots.save_figure(fig, tmp_path / "stamped", ("png",), stamp="abc123")
    assert plots.png_stamp(plain) is None
    assert plots.png_stamp(stamped) == "abc123"
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    assert plots.png_stamp(tmp_path / "junk.png") is None
    assert plots.png_stamp(tmp_path / "missing.png") is None
    assert plots.inputs_stamp("k", [1, 2]) != plots.inputs_stamp("k", [1, 3])
