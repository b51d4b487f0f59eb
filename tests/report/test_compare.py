"""Comparison sentences computed from synthetic histories, the text table, the HTML page."""

import pytest
from helpers.pages import decode_images, read_page, self_contained
from helpers.runs import TINY_MODEL, history_rows, write_run

from cnnlab.errors import CnnlabError
from cnnlab.report import compare
from cnnlab.report.sentences import duration, gap_words, overfitting_sentence
from cnnlab.rundir import History, load_run

WIDE_MODEL = {**TINY_MODEL, "name": "wide_cnn", "layers": [
    {**TINY_MODEL["layers"][0], "filters": 16}, *TINY_MODEL["layers"][1:]]}


def set_test_accuracy(run_dir, accuracy):
    import json

    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["test_accuracy"] = accuracy
    (run_dir / "metrics.json").write_text(json.dumps(metrics))


@pytest.fixture
def two_runs(tmp_path):
    """`wide` overfits after epoch 6 and reaches 91.0%; `small` keeps improving, 87.5%."""
    wide = write_run(tmp_path / "wide", rows=history_rows(12, overfit_after=5), model=WIDE_MODEL,
                     config_extra={"wall_time_seconds": 40.0})
    small = write_run(tmp_path / "small", rows=history_rows(12, val_shift=0.01))
    set_test_accuracy(wide, 0.91)
    set_test_accuracy(small, 0.875)
    return wide, small


def test_table_numbers(two_runs):
    rows = compare.load_rows(two_runs)
    assert [r.label for r in rows] == ["wide", "small"]
    assert [r.params for r in rows] == [5_930, 1_490] and [r.macs for r in rows] == [10_944, 2_736]
    assert compare.table_rows(rows)[0] == ["wide", "wide_cnn", "digits", "5,930", "10,944", "12",
                                           "73.4% (6)", "52.5%", "91.0%", "40.0"]


def test_sentences_are_computed_from_the_numbers(two_runs):
    rows = compare.load_rows(two_runs)
    assert compare.comparison_sentences(rows) == [
        "`wide` has the higher test accuracy, 91.0%: 3.5 points above `small` (87.5%).",
        "`small` generalises better: at its last epoch training accuracy exceeds val_accuracy by "
        "5.3 points, against 37.8 points for `wide`.",
        "The most accurate run, `wide`, has 4.0 times as many parameters as `small` (5,930 vs 1,490) "
        "and trained 2.5 times as long (40 s vs 16 s).",
        "`wide` reaches its best val_accuracy, 73.4%, at epoch 6 of 12.",
        "`wide` starts overfitting after epoch 6: val_loss rises from 0.544 (its lowest) to 0.944 "
        "(mean of epochs 10-12, +74%) while loss keeps falling from 0.444 to 0.235.",
        "`small` reaches its best val_accuracy, 85.0%, at its last epoch.",
        "`small` shows no sign of overfitting in 12 epochs: val_loss is at its lowest, 0.322, at the "
        "last epoch.",
    ]
    assert compare.warnings(rows) == []


def test_equal_runs_and_unfinished_runs(tmp_path):
    a = write_run(tmp_path / "x" / "run", rows=history_rows(5))
    b = write_run(tmp_path / "y" / "run", rows=history_rows(8), metrics=False)
    rows = compare.load_rows([a, b])
    assert [r.label for r in rows] == ["x/run", "y/run"]  # same folder names: parents added
    sentences = compare.comparison_sentences(rows)
    # no test accuracy for y/run: ranked by best val_accuracy instead
    assert sentences[0] == "`y/run` has the higher best val_accuracy, 79.2%: 11.0 points above `x/run` (68.2%)."
    assert "The runs trained for different numbers of epochs (`x/run` 5, `y/run` 8)." in sentences
    assert compare.warnings(rows) == ["`y/run` has no test metrics yet (still training, or stopped after 8 epochs)."]
    same = compare.load_rows([a, write_run(tmp_path / "z", rows=history_rows(5))])
    assert compare.comparison_sentences(same)[:3] == [
        "Both runs reach the same test accuracy, 83.3% (within 0.1 points).",
        "The runs generalise about equally well: at their last epochs training accuracy exceeds "
        "val_accuracy by 7.3 and 7.3 points.",
        "`run` and `z` are equally accurate; `run` has the same number of parameters as `z` "
        "(1,490) and trained about as long (16 s vs 16 s).",
    ]


def test_different_datasets_are_allowed_with_a_warning(tmp_path):
    a = write_run(tmp_path / "a")
    b = write_run(tmp_path / "b", dataset="mnist", model={**TINY_MODEL, "input_shape": [28, 28, 1]})
    rows = compare.load_rows([a, b])
    assert compare.warnings(rows) == [
        "These runs use different datasets (`a` on digits, `b` on mnist): their accuracies are not "
        "measured on the same images and do not compare directly."]
    assert "warning: These runs use different datasets (a on digits, b on mnist)" in compare.comparison_text(rows)


def test_compare_needs_two_runs(tmp_path):
    with pytest.raises(CnnlabError) as e:
        compare.load_rows([write_run(tmp_path / "a")])
    assert str(e.value) == "compare needs at least two run folders, e.g. cnnlab compare runs/a runs/b"


def test_plain_text_comparison(two_runs):
    text = compare.comparison_text(compare.load_rows(two_runs))
    lines = text.splitlines()
    assert lines[0].split() == ["run", "model", "dataset", "params", "MACs", "epochs", "best", "val", "acc",
                                "(epoch)", "final", "val", "acc", "test", "acc", "seconds"]
    assert lines[2].split() == ["wide", "wide_cnn", "digits", "5,930", "10,944", "12", "73.4%", "(6)",
                                "52.5%", "91.0%", "40.0"]
    assert len({len(line) for line in lines[:4] if line}) <= 2  # columns line up
    assert "- wide has the higher test accuracy, 91.0%: 3.5 points above small (87.5%)." in text
    assert "`" not in text and max(map(len, lines[4:])) <= 88


def test_html_comparison(two_runs, tmp_path):
    out = compare.write_comparison(compare.load_rows(two_runs), tmp_path / "out" / "cmp.html")
    page = out.read_text()
    reader = read_page(page)
    assert self_contained(reader)
    assert len(decode_images(reader)) == 2
    assert "<h1>Comparing 2 runs</h1>" in page
    assert "<li><code>wide</code> has the higher test accuracy, 91.0%: 3.5 points above" in page
    assert sorted(p.name for p in (tmp_path / "out" / "cmp_plots").iterdir()) == [
        "overlaid_curves.png", "overlaid_curves.svg", "test_accuracy.png", "test_accuracy.svg"]


def test_overfitting_sentence_reasons():
    def h(val, loss=None):
        return History.from_columns(val_loss=val, loss=loss or [1.0 - 0.1 * i for i in range(len(val))])

    assert overfitting_sentence("r", h([1.0, 0.9, 0.95])) == (
        "r shows no sign of overfitting in 3 epochs: val_loss was lowest at epoch 2, 1 epoch before "
        "the end: too soon to call a trend.")
    assert overfitting_sentence("r", h([1.0, 0.9, 0.91, 0.92])) == (
        "r shows no sign of overfitting in 4 epochs: val_loss stays within 5% of its lowest value, "
        "0.900 (epoch 2).")
    assert overfitting_sentence("r", h([1.0, 0.9, 1.0, 1.1], loss=[1.0, 0.9, 1.0, 1.1])) == (
        "r shows no sign of overfitting in 4 epochs: val_loss rose, but so did the training loss, so "
        "this is not overfitting.")
    assert overfitting_sentence("r", h([1.0])) is None


def test_run_sentences_use_the_loaded_run(two_runs):
    assert load_run(two_runs[0]).history.epoch[-1] == 12


def test_negative_gaps_and_sub_second_times_read_right(tmp_path):
    # `calm` validates 3.7 points above its training accuracy; `busy` 5.3 points below
    calm = write_run(tmp_path / "calm", rows=history_rows(12, val_shift=-0.08), config_extra={"wall_time_seconds": 0.08})
    busy = write_run(tmp_path / "busy", rows=history_rows(12, val_shift=0.01), config_extra={"wall_time_seconds": 2.0})
    set_test_accuracy(calm, 0.91)
    set_test_accuracy(busy, 0.875)
    sentences = compare.comparison_sentences(compare.load_rows([calm, busy]))
    assert sentences[1] == ("`calm` generalises better: at its last epoch val_accuracy exceeds training accuracy "
                            "by 3.7 points; for `busy` training accuracy exceeds val_accuracy by 5.3 points.")
    assert sentences[2] == ("The most accurate run, `calm`, has the same number of parameters as `busy` (1,490) "
                            "and trained in only 4% of the time (0.08 s vs 2.0 s).")
    assert not any("by -" in s for s in sentences)


def test_runs_that_both_validate_above_training_generalise_equally(tmp_path):
    a = write_run(tmp_path / "a", rows=history_rows(12, val_shift=-0.08))
    b = write_run(tmp_path / "b", rows=history_rows(12, val_shift=-0.075))
    sentences = compare.comparison_sentences(compare.load_rows([a, b]))
    assert ("The runs generalise about equally well: at their last epochs val_accuracy exceeds training "
            "accuracy by 3.7 and 3.2 points.") in sentences


@pytest.mark.parametrize("gap, words", [
    (0.053, "training accuracy exceeds val_accuracy by 5.3 points"),
    (-0.03, "val_accuracy exceeds training accuracy by 3.0 points"),
    (-0.01, "val_accuracy exceeds training accuracy by 1.0 point"),
    (0.0002, "training accuracy equals val_accuracy"),
])
def test_gap_words(gap, words):
    assert gap_words(gap) == words


@pytest.mark.parametrize("value, text", [(0.0004, "under 0.001 s"), (0.0072, "0.007 s"), (0.04, "0.04 s"),
                                         (0.0949, "0.09 s"), (0.096, "0.1 s"), (0.44, "0.4 s"), (2.0, "2.0 s"), (16.2, "16 s"),
                                         (1234.4, "1,234 s")])
def test_duration(value, text):
    assert duration(value) == text
