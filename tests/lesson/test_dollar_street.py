"""`cnnlab lesson --edition dollar-street`: the Dollar Street 10 edition's questions from the
model code, its runs on a small synthetic folder in the lesson's .npy layout, and its page."""

from __future__ import annotations

import json

import pytest
from helpers.npy_folders import write_npy_folder
from helpers.pages import decode_images, read_page, self_contained

from cnnlab.cli import build_parser, main
from cnnlab.lesson import dollar_street as ds
from cnnlab.lesson import tuning
from cnnlab.lesson.editions import DOLLAR_STREET_MODELS, model_epochs, run_dollar_street
from cnnlab.models.presets import PRESETS

FETCH = "fetch the 4 files by hand into data/dataset_dollarstreet/"


@pytest.fixture(autouse=True)
def _offline_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    monkeypatch.delenv("CNNLAB_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # no data/dataset_dollarstreet here unless a test writes one


def test_the_editions_numbers():
    assert ds.answer_features().value == 12_288
    q1 = ds.answer_dense()
    assert q1.value == 1_228_900 and "(12288 + 1) * 100 = 1,228,900" in q1.text
    q2 = ds.answer_conv(q1)
    assert q2.value == 2_700 and "fewer than the Dense layer's 1,228,900" in q2.text
    most = ds.answer_most_params()
    assert most.answer.value == 1_800_010 and most.model.total == 1_823_960
    assert "The Dense layer `dense` has 1,800,010 of the model's 1,823,960 parameters" in most.answer.text
    assert "180,000 values Flatten makes of the 60x60x50 output" in most.answer.text
    depth = ds.answer_depth()
    assert (depth.without.total, depth.with_extra.total) == (514_510, 137_060)
    assert depth.answer.text.startswith("Fewer parameters: 137,060 with the extra layers against 514,510")
    assert "shrink the feature maps from 14x14 to 6x6" in depth.answer.text
    assert "Flatten gives 1,800 instead of 9,800 values" in depth.answer.text
    drop = ds.answer_dropout()
    assert drop.answer.value == drop.without.total == 137_060
    assert "the 3 Dropout layers (rate 0.8) hold 0 weights and keep the shapes" in drop.answer.text


def test_the_answers_follow_the_shapes_not_a_table():
    # on 32x32 images the maps at Flatten are 6x6 without and 2x2 with the extra block
    small = PRESETS["dollar_street_model"].spec((32, 32, 3))
    extra = PRESETS["dollar_street_model_extra"].spec((32, 32, 3))
    depth = ds.answer_depth(small, extra)
    assert "shrink the feature maps from 6x6 to 2x2" in depth.answer.text
    assert depth.without.total == 1_400 + 22_550 + (6 * 6 * 50 + 1) * 50 + 510
    assert ds.answer_features((32, 32, 3)).value == 3_072
    wide = PRESETS["dollar_street_model_small"].spec()
    wide.layers[1].args["filters"] = 20
    assert ds.answer_most_params(wide).answer.value == (60 * 60 * 20 + 1) * 10


def test_epochs_per_model_follow_the_lesson():
    assert model_epochs(DOLLAR_STREET_MODELS, epochs=None, quick=False) == {
        "dollar_street_model": 10, "dollar_street_dense": 20, "dollar_street_model_extra": 10,
        "dollar_street_model_dropout": 20}
    assert set(model_epochs(DOLLAR_STREET_MODELS, epochs=None, quick=True).values()) == {2, 4}
    assert set(model_epochs(DOLLAR_STREET_MODELS, epochs=3, quick=True).values()) == {3}


@pytest.mark.parametrize("quick, epochs, expected", [(False, None, [30, 20]), (True, None, [1, 1]), (True, 4, [4, 4])])
def test_tuning_epochs_follow_the_lesson(monkeypatch, tmp_path, quick, epochs, expected):
    from cnnlab.lesson.editions import _tune

    calls = []
    for name in ("dropout_sweep", "grid_search"):
        monkeypatch.setattr(tuning, name, lambda data, settings, **kw: calls.append(kw["epochs"]))
    _tune(None, None, tmp_path, epochs=epochs, quick=quick, seeds=2, say=print)
    assert calls == expected


def test_without_the_data_the_page_answers_every_question_and_says_how_to_fetch(tmp_path):
    lines = []
    result = run_dollar_street(out=tmp_path / "lesson", quiet=True, say=lines.append)
    [d] = result.datasets
    assert d.rows == [] and FETCH in d.error and "--dataset data/dataset_dollarstreet" in d.error
    text = " ".join(read_page(result.report.read_text()).text)
    for number in ("12,288", "1,228,900", "2,700", "1,800,010", "137,060", "514,510", "14x14 to 6x6"):
        assert number in text, number
    assert FETCH in text and "https://zenodo.org/records/10970014/files/test_labels.npy" in text
    assert not (tmp_path / "lesson" / "dollar_street").exists()


def test_quick_edition_on_a_folder_in_the_lessons_format(tmp_path):
    folder = write_npy_folder(tmp_path / "data" / "dataset_dollarstreet", train=40, test=20)
    lines = []
    result = run_dollar_street(str(folder), epochs=1, out=tmp_path / "lesson", quiet=True, tuning=False,
                               say=lines.append)
    [d] = result.datasets
    assert d.error == "" and [r.model for r in d.rows] == list(DOLLAR_STREET_MODELS)
    assert all(r.epochs == 1 and r.test_accuracy is not None for r in d.rows)
    config = json.loads((tmp_path / "lesson" / "dataset_dollarstreet" / "dollar_street_model" / "config.json").read_text())
    assert config["settings"]["validation"] == "test"
    observed = "\n".join(result.observations)
    assert "`dollar_street_model_extra` has fewer parameters than `dollar_street_model` (137,060 vs 514,510" in observed
    assert "the dense-only model uses 1.2 times the parameters of `dollar_street_model`" in observed
    assert "with Dropout(0.8)" in observed
    reader = read_page(result.report.read_text())
    assert self_contained(reader) and len(decode_images(reader)) == 1
    page = " ".join(reader.text)
    assert "Dollar Street 10 edition" in page and "Number of features" in page
    assert f"cnnlab train dollar_street_dense --dataset {folder} --epochs 1 --validation test" in page


@pytest.fixture
def small_grids(monkeypatch):
    """The lesson's tuning grids, cut down so a test runs few trainings."""
    monkeypatch.setattr(tuning, "SWEEP_RATES", (0.2, 0.8))
    monkeypatch.setattr(tuning, "GRID_RATES", (0.5,))


def test_tuning_runs_the_sweep_and_grid_with_mean_and_std_over_seeds(tmp_path, small_grids):
    folder = write_npy_folder(tmp_path / "ds", train=30, test=10)
    result = run_dollar_street(str(folder), epochs=1, out=tmp_path / "lesson", quiet=True, seeds=2,
                               models={"dollar_street_model": ("", 1)}, say=lambda text: None)
    sweep, grid = result.tuning
    assert sweep.labels == ["dropout=0.2", "dropout=0.8"] and sweep.rank_by == "final_val_loss"
    assert grid.labels == ["n_layers=1, dropout=0.5", "n_layers=2, dropout=0.5"] and grid.rank_by == "best_val_loss"
    for t in (sweep, grid):
        assert all(len(s.runs) == 2 and s.stats[t.rank_by].std is not None for s in t.summaries)
    runs = sorted(p.name for p in (tmp_path / "lesson" / "ds" / "sweep-dropout").iterdir() if p.name.startswith("dropout"))
    assert runs == ["dropout=0.2,seed=0", "dropout=0.2,seed=1", "dropout=0.8,seed=0", "dropout=0.8,seed=1"]
    config = json.loads((tmp_path / "lesson" / "ds" / "grid-2-layers" / "dropout=0.5,seed=1" / "config.json").read_text())
    assert config["settings"]["validation"] == "test" and config["settings"]["seed"] == 1
    mean, label, best = sweep.best()
    stat = best.stats["final_val_loss"]
    assert mean == min(s.stats["final_val_loss"].mean for s in sweep.summaries)
    assert f"the lowest mean final val_loss over 2 seeds is {stat.text()} with `{label}`" in "\n".join(result.observations)
    page = " ".join(read_page(result.report.read_text()).text)
    assert "Vary the dropout rate" in page and "Hyperparameter tuning: grid search" in page
    assert f"{stat.mean:.4f} ± {stat.std:.4f}" in page


def test_the_tuning_models_are_the_lessons():
    from cnnlab.models.shapes import analyze

    # create_nn_with_hp(dropout_rate, 2) is create_nn with a Dropout: its total is 514,510
    assert analyze(tuning.hp_model(2, (64, 64, 3))).total == 514_510
    assert analyze(tuning.hp_model(1, (64, 64, 3))).total == 1_400 + (31 * 31 * 50 + 1) * 50 + 510
    # create_nn_with_dropout(rate): the third Conv2D has no pooling, so Flatten sees 12x12x50
    assert analyze(tuning.sweep_model((64, 64, 3))).total == 1_400 + 22_550 * 2 + (12 * 12 * 50 + 1) * 50 + 510


def test_cli_edition_flag_and_default(tmp_path, capsys, small_grids):
    assert build_parser().parse_args(["lesson"]).edition == "cifar"
    folder = write_npy_folder(tmp_path / "ds", train=30, test=10)
    out = tmp_path / "page"
    assert main(["lesson", "--edition", "dollar-street", "--dataset", str(folder), "--epochs", "1",
                 "--quiet", "--out", str(out)]) == 0
    assert "Network depth." in capsys.readouterr().out
    assert (out / "index.html").is_file() and (out / "ds" / "dollar_street_model_dropout" / "history.csv").is_file()
    assert main(["lesson", "--edition", "dollar-street", "--dataset", "a", "b", "--out", str(tmp_path / "x")]) == 2
    assert "--edition dollar-street trains on one dataset" in capsys.readouterr().err
