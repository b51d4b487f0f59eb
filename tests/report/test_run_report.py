"""`index.html` of a run: every section from the run's files, self-contained, honest notes."""

import json

import numpy as np
import pytest
from helpers.pages import decode_images, read_page, self_contained
from helpers.runs import history_rows, write_run

from cnnlab.datasets import load_dataset
from cnnlab.report import run_pictures
from cnnlab.report.run_report import write_run_report
from cnnlab.rundir import load_run


@pytest.fixture(scope="module")
def finished_report(tmp_path_factory):
    run = write_run(tmp_path_factory.mktemp("runs") / "digits_run", rows=history_rows(12, overfit_after=5))
    out = write_run_report(run, mistakes=False)
    return run, out.read_text(encoding="utf-8")


def headings(page: str) -> list[str]:
    return [line[4:-5] for line in page.splitlines() if line.startswith("<h2>")]


def test_report_has_every_section_and_embeds_its_pictures(finished_report):
    run, page = finished_report
    assert headings(page) == ["Results", "Training curves", "Confusion matrix", "Per-class accuracy",
                              "Samples per class", "Model", "Settings and environment"]
    reader = read_page(page)
    assert self_contained(reader)
    sizes = decode_images(reader)
    assert len(sizes) == 4 and all(w >= 300 and h >= 200 for w, h in sizes)
    for stem in ("training_curves", "confusion_matrix", "per_class_accuracy", "samples"):
        assert (run / "plots" / f"{stem}.png").is_file() and not (run / "plots" / f"{stem}.svg").exists()


def test_a_run_folder_whose_name_is_not_utf8_gets_its_report(tmp_path, cli):
    import os
    import subprocess
    import sys

    run = write_run(tmp_path / os.fsdecode(b"run-\xff"), rows=history_rows(3))  # made by another tool
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}  # stdout strict, as in a UTF-8 locale
    done = subprocess.run([sys.executable, "-m", "cnnlab", "report", os.fsencode(run)], env=env,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert done.stdout == b"wrote " + os.fsencode(run / "index.html") + b"\n"
    page = (run / "index.html").read_text(encoding="utf-8")  # valid UTF-8 throughout
    assert "Run run-\ufffd" in page
    code, _, err = cli("train", "dense_only", "--dataset", "digits", "--epochs", "1", "--out", str(tmp_path),
                       "--name", os.fsdecode(b"new-\xff"))
    assert code == 2 and "must be a single folder name of printable text" in err


def test_report_svg_asks_for_svg_pictures_too(tmp_path, cli):
    run = write_run(tmp_path / "r", rows=history_rows(4))
    code, out, _ = cli("report", str(run), "--svg")
    assert (code, out) == (0, f"wrote {run}/index.html\n")
    assert sorted(p.name for p in (run / "plots").glob("*.svg")) == [
        "confusion_matrix.svg", "per_class_accuracy.svg", "samples.svg", "training_curves.svg"]


def test_report_numbers_and_sentences(finished_report):
    _, page = finished_report
    assert "<h1>Run digits_run</h1>" in page
    assert "<code>tiny_cnn</code> on <code>digits</code> · 12 epochs · test accuracy 83.3%" in page
    assert "<td>best val_accuracy</td><td>73.4% (epoch 6)</td>" in page
    assert "<td>training time</td><td class=\"num\">16.2 s</td>" in page
    assert ("<code>digits_run</code> starts overfitting after epoch 6: val_loss rises from 0.544 "
            "(its lowest) to 0.944 (mean of epochs 10-12, +74%)") in page


def test_report_shows_the_keras_summary_settings_and_environment(finished_report):
    _, page = finished_report
    assert "(None, 6, 6, 4)" in page  # input shape taken from the digits dataset: 8x8x1
    assert "Total params: 1,490 (5.82 KB)" in page
    assert "<td>settings.epochs</td><td>10</td>" in page  # key-value tables align left
    assert "<td>dataset.class_names</td><td>0, 1, 2, 3, 4, 5, 6, 7, 8, 9</td>" in page
    assert "<td>versions.torch</td><td>2.13.0</td>" in page
    assert "<td>precision</td><td>fp32</td>" in page
    assert "<td>command</td><td>cnnlab train tiny_cnn.py --dataset digits</td>" in page


def test_unfinished_run_says_so_and_draws_what_exists(tmp_path):
    run = write_run(tmp_path / "going", rows=history_rows(3), metrics=False)
    page = write_run_report(run, samples=False, mistakes=False, formats=("png",)).read_text()
    assert headings(page) == ["Results", "Training curves", "Model", "Settings and environment"]
    assert "no metrics.json yet: training is still going after 3 epochs; showing what exists so far" in page
    assert "no test metrics yet" not in page and "mistakes" not in page  # said once, above
    assert "not evaluated on the test set yet" in page
    assert len(decode_images(read_page(page))) == 1


def test_run_with_no_epoch_yet(tmp_path):
    run = write_run(tmp_path / "new", rows=False, metrics=False)
    page = write_run_report(run, samples=False, mistakes=False, formats=("png",)).read_text()
    assert "no history.csv yet: training is still going, no epoch has finished" in page
    assert "Nothing measured yet: no epoch has finished." in page


def test_missing_dataset_and_model_are_notes_not_failures(tmp_path):
    run = write_run(tmp_path / "odd", dataset="nosuch", model={"name": "broken", "layers": [{"kind": "Nope"}]},
                    metrics=False)
    page = write_run_report(run, formats=("png",)).read_text()
    assert "the nosuch test set is not available here (unknown dataset &#x27;nosuch&#x27;" in page
    assert "the model in config.json cannot be summarised: unknown layer &#x27;Nope&#x27;" in page


def fake_probabilities(y: np.ndarray, wrong: int) -> np.ndarray:
    """Probabilities whose argmax is right except for the first `wrong` images (test input)."""
    p = np.full((len(y), 10), 0.01)
    predicted = y.copy()
    predicted[:wrong] = (y[:wrong] + 1) % 10
    p[np.arange(len(y)), predicted] = np.linspace(0.5, 0.9, len(y))
    return p / p.sum(axis=1, keepdims=True)


def test_mistakes_grid_from_predictions(tmp_path, monkeypatch):
    _, (_, y) = load_dataset("digits")
    y = y.reshape(-1).astype(int)
    run_dir = write_run(tmp_path / "m")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["test_accuracy"] = 1 - 25 / len(y)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setattr(run_pictures, "predict_probabilities", lambda run, x: fake_probabilities(y, 25))
    pictures = run_pictures.draw_run_pictures(load_run(run_dir), samples=False, formats=("png",))
    assert pictures.get("mistakes") is not None and pictures.notes == []
    assert pictures.get("mistakes").caption.startswith("The 18 test images the model got wrong")
    index, predicted, probability = run_pictures._most_confident_mistakes(
        load_run(run_dir), np.zeros((len(y), 8, 8), np.uint8), y, [])
    assert list(index) == list(range(24, 6, -1))  # the highest probabilities among the 25 wrong
    assert all(predicted != y[index]) and list(probability) == sorted(probability, reverse=True)


def test_mistakes_left_out_when_predictions_disagree_with_metrics(tmp_path, monkeypatch):
    _, (_, y) = load_dataset("digits")
    y = y.reshape(-1).astype(int)
    run_dir = write_run(tmp_path / "m")
    (run_dir / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setattr(run_pictures, "predict_probabilities", lambda run, x: fake_probabilities(y, 0))
    notes = []
    assert run_pictures._most_confident_mistakes(load_run(run_dir), np.zeros((len(y), 8, 8)), y, notes) is None
    assert notes == ["predictions of the saved model give 100.0% test accuracy but "
                     "metrics.json records 83.3%; the mistakes grid is left out"]


@pytest.mark.parametrize("kept", [
    {"index": [10**9], "predicted": [1], "probability": [0.5]},  # not a test image
    {"index": [0], "predicted": "x", "probability": [0.5]},
    {"index": [0, 1], "predicted": [1], "probability": [0.5]},
    "mistakes",
])
def test_kept_mistakes_that_do_not_fit_the_test_set_are_asked_of_the_model(tmp_path, monkeypatch, kept):
    _, (_, y) = load_dataset("digits")
    y = y.reshape(-1).astype(int)
    run_dir = write_run(tmp_path / "m")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics.update(test_accuracy=1 - 25 / len(y), mistakes=kept)
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "model.safetensors").write_bytes(b"weights")
    monkeypatch.setattr(run_pictures, "predict_probabilities", lambda run, x: fake_probabilities(y, 25))
    index, _, _ = run_pictures._most_confident_mistakes(load_run(run_dir), np.zeros((len(y), 8, 8)), y, [])
    assert list(index) == list(range(24, 6, -1))  # the model's answers, not the kept ones

