"""Every picture is a valid PNG and SVG of a sensible size; plot_history writes into the run."""

import numpy as np
import pytest
from helpers.images import assert_png, assert_svg
from helpers.runs import DIGITS, confusion, history_rows, write_run

from cnnlab.errors import RunError
from cnnlab.report import plots
from cnnlab.rundir import History


def rows_history(rows):
    return History.from_columns(**{k: [r[k] for r in rows] for k in rows[0]})


def save_and_check(fig, base, min_size=(300, 200)):
    png, svg = plots.save_figure(fig, base)
    assert (png.name, svg.name) == (f"{base.name}.png", f"{base.name}.svg")
    assert_svg(svg)
    return assert_png(png, min_size)


def test_plot_history_writes_curves_into_the_run(tmp_path):
    run = write_run(tmp_path / "r", rows=history_rows(12, overfit_after=5))
    assert plots.plot_history(run) == [run / "plots" / "training_curves.png"]  # PNG unless asked
    written = plots.plot_history(run, ("png", "svg"))
    assert written == [run / "plots" / "training_curves.png", run / "plots" / "training_curves.svg"]
    w, h = assert_png(written[0])
    assert w > h  # two panels side by side
    assert_svg(written[1])
    assert not list((run / "plots").glob(".*tmp"))  # atomic writes leave no temp files


def test_plot_history_of_a_run_that_just_started(tmp_path):
    run = write_run(tmp_path / "r", rows=False, metrics=False)
    assert_png(plots.plot_history(run)[0])
    run = write_run(tmp_path / "one", rows=history_rows(1), metrics=False)
    assert_png(plots.plot_history(run)[0])


def test_plot_history_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(RunError, match="is not a run folder"):
        plots.plot_history(tmp_path)


def test_the_epoch_axis_ticks_whole_epochs_only_even_for_one_epoch():
    for epochs in (1, 3, 12):
        h = History.from_columns(loss=[1.0] * epochs, accuracy=[0.5] * epochs, val_loss=[1.1] * epochs,
                                 val_accuracy=[0.4] * epochs)
        fig = plots.training_curves_figure(h)
        fig.draw_without_rendering()
        for ax in fig.axes[:2]:
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), (epochs, ticks)
            assert epochs > 1 or ticks == [1], ticks


def test_curves_without_validation(tmp_path):
    h = History.from_columns(loss=[1.0, 0.5, 0.3], accuracy=[0.5, 0.7, 0.8])
    save_and_check(plots.training_curves_figure(h), tmp_path / "c")


def test_confusion_matrix_small_and_large(tmp_path):
    w, h = save_and_check(plots.confusion_matrix_figure(confusion(), DIGITS), tmp_path / "cm")
    assert w > h
    many = [f"class {i}" for i in range(40)]  # too many to annotate: drawn without numbers
    assert_png(plots.save_figure(plots.confusion_matrix_figure(np.eye(40) * 5, many), tmp_path / "cm40",
                                 formats=("png",))[0])
    empty_row = confusion()
    empty_row[3] = [0] * 10  # a class with no test images must not divide by zero
    assert_png(plots.save_figure(plots.confusion_matrix_figure(empty_row, DIGITS), tmp_path / "cm0",
                                 formats=("png",))[0])


def test_per_class_accuracy(tmp_path):
    save_and_check(plots.per_class_accuracy_figure([0.9, 0.5, 1.0], ["a", "b", "c"], 0.8),
                   tmp_path / "pc", min_size=(300, 100))


def test_mistakes_and_samples_grids(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (30, 8, 8), dtype=np.uint8)
    colour = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)
    save_and_check(plots.mistakes_figure(colour, [0, 1, 2, 3, 4, 5, 6], [1] * 7, [0.99] * 7, DIGITS),
                   tmp_path / "m")
    save_and_check(plots.mistakes_figure(gray[:0], [], [], [], DIGITS), tmp_path / "m0",
                   min_size=(100, 100))
    labels = np.arange(30) % 3
    save_and_check(plots.samples_figure(gray, labels, ["x", "y", "z"], per_class=4), tmp_path / "s",
                   min_size=(200, 200))


def test_overlaid_curves_and_accuracy_bars(tmp_path):
    a = rows_history(history_rows(10))
    b = rows_history(history_rows(6, overfit_after=2))
    w, h = save_and_check(plots.overlay_curves_figure([("a", a), ("b", b)]), tmp_path / "o")
    assert w > h
    save_and_check(plots.overlay_curves_figure([("a", History())]), tmp_path / "o0")
    save_and_check(plots.accuracy_bars_figure(["a", "b", "c"], [0.9, None, 0.7], [1000, 20, None],
                                              [12.0, None, 3.5]), tmp_path / "bars")


def test_svg_output_is_reproducible(tmp_path):
    h = rows_history(history_rows(5))
    first = plots.save_figure(plots.training_curves_figure(h), tmp_path / "a", formats=("svg",))[0]
    second = plots.save_figure(plots.training_curves_figure(h), tmp_path / "b", formats=("svg",))[0]
    assert first.read_bytes() == second.read_bytes()


def test_mistakes_grid_is_one_axes_of_square_cells():
    # one axes for the whole grid: an axes per image costs more drawing time than the image
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (11, 8, 8), dtype=np.uint8)
    fig = plots.mistakes_figure(images, [i % 10 for i in range(11)], [(i + 1) % 10 for i in range(11)],
                                [0.5] * 11, DIGITS)
    (ax,) = fig.axes
    assert len(ax.images) == 11
    for image in ax.images:
        left, right, bottom, top = image.get_extent()
        assert right - left == pytest.approx(bottom - top)  # equal aspect, y axis downwards
    titles = [t.get_text() for t in ax.texts]
    assert titles[0] == "true: 0\npred: 1\np = 50%" and len(titles) == 11


def test_confusion_matrix_numbers_stay_out_of_the_layout():
    fig = plots.confusion_matrix_figure(confusion(), DIGITS)
    numbers = [t for ax in fig.axes for t in ax.texts]
    assert numbers and not any(t.get_in_layout() for t in numbers)
