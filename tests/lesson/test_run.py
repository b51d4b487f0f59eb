"""`cnnlab lesson`: a quick run on small real-format data, its numbers, its page in a browser."""

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.browser import BROWSER, assert_rendered, screenshot
from helpers.pages import decode_images, read_page, self_contained
from PIL import Image

from cnnlab.cli import main
from cnnlab.files import MARKER, mark_owned
from cnnlab.lesson import run_lesson

MODELS = {"cifar_model_small": "without", "cifar_model": "with the extra Conv2D", "dense_only": "dense"}


@pytest.fixture(autouse=True)
def _offline_home(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")


def write_image_folder(root: Path, per_class=(40, 12), size=28, seed=0) -> Path:
    """PNG files in train/<class>/ and test/<class>/: three learnable patterns with noise."""
    rng = np.random.default_rng(seed)
    patterns = {
        "stripes": np.tile((np.arange(size) // 4 % 2) * 200, (size, 1)),
        "bars": np.tile((np.arange(size) // 4 % 2) * 200, (size, 1)).T,
        "blob": np.fromfunction(lambda i, j: ((i - size / 2) ** 2 + (j - size / 2) ** 2 < 60) * 220, (size, size)),
    }
    for split, count in zip(("train", "test"), per_class):
        for name, pattern in patterns.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for k in range(count):
                noisy = np.clip(pattern + rng.normal(0, 40, pattern.shape), 0, 255).astype(np.uint8)
                Image.fromarray(noisy, mode="L").save(folder / f"{k}.png")
    return root


def test_quick_lesson_on_an_image_folder(tmp_path):
    data = write_image_folder(tmp_path / "shapes")
    lines = []
    result = run_lesson([str(data)], epochs=2, quick=True, out=tmp_path / "lesson", quiet=True,
                        models=MODELS, say=lines.append)
    assert (result.q1.value, result.q2.value) == (307_300, 2_700)
    assert (result.q3.without.total, result.q3.with_extra.total) == (47_370, 36_138)
    [d] = result.datasets
    assert d.error == ""
    assert [r.model for r in d.rows] == list(MODELS)
    assert all(r.epochs == 2 and r.test_accuracy is not None for r in d.rows)
    # question 3 on this data's 28x28x1 images and 3 classes: 5x5 maps become 3x3
    convs = (3 * 3 * 1 + 1) * 32 + (3 * 3 * 32 + 1) * 32
    head = (32 + 1) * 3
    assert d.comparison.without.total == convs + (5 * 5 * 32 + 1) * 32 + head
    assert d.comparison.with_extra.total == convs + (3 * 3 * 32 + 1) * 32 + (3 * 3 * 32 + 1) * 32 + head
    text = "\n".join(result.observations)
    assert "(36,138 vs 47,370 on 32x32x3 images)" in text
    assert f"Test accuracy on {data}, best first:" in text
    best = max(d.rows, key=lambda r: r.test_accuracy)
    assert f"`{best.model}` {best.test_accuracy:.1%}" in text
    assert any("Question 3." in line for line in lines)
    page = result.report
    assert page == tmp_path / "lesson" / "index.html"
    reader = read_page(page.read_text())
    assert self_contained(reader) and len(decode_images(reader)) == 1
    assert "Observations" in "".join(reader.text)
    if BROWSER:
        assert_rendered(screenshot(page, tmp_path))


def test_an_unavailable_dataset_is_reported_and_digits_stand_in(tmp_path):
    result = run_lesson(["mnist"], epochs=1, quick=True, out=tmp_path / "lesson", quiet=True,
                        models={"cifar_model_small": "", "dense_only": ""}, say=lambda text: None)
    missing, fallback = result.datasets
    assert missing.name == "mnist" and "mnist is not on this machine" in missing.error
    assert fallback.name == "digits" and "upscaled to 28x28" in fallback.note
    assert [r.model for r in fallback.rows] == ["cifar_model_small", "dense_only"]
    assert any(s.startswith("mnist could not be used:") for s in result.observations)


def test_cli_refuses_to_overwrite_a_lesson(tmp_path, capsys):
    out = tmp_path / "lesson"
    mark_owned(out, "lesson")
    (out / "index.html").write_text("earlier")
    assert main(["lesson", "--quick", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"cnnlab: error: {out} already holds a lesson; give --out another folder or --overwrite\n"
    )
    assert (out / "index.html").read_text() == "earlier"


@pytest.mark.parametrize("extra", [["--epochs", "0"], ["--overwrite"]])
def test_overwrite_never_deletes_a_folder_cnnlab_did_not_write(tmp_path, capsys, extra):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert main(["lesson", "--quick", "--out", str(out), "--overwrite", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cnnlab: error: ")
    assert (out / "thesis.tex").read_text() == "years of work"
    assert sorted(p.name for p in out.iterdir()) == ["thesis.tex"]


def test_overwrite_checks_every_argument_before_touching_a_lesson(tmp_path, capsys):
    out = tmp_path / "lesson"
    mark_owned(out, "lesson")
    (out / "index.html").write_text("earlier")
    assert main(["lesson", "--quick", "--out", str(out), "--overwrite", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert (out / "index.html").read_text() == "earlier"


def test_overwrite_never_replaces_the_current_folder(tmp_path, capsys, monkeypatch):
    mark_owned(tmp_path, "lesson")
    monkeypatch.chdir(tmp_path)
    assert main(["lesson", "--quick", "--out", ".", "--overwrite"]) == 2
    assert "holds the current folder" in capsys.readouterr().err
    assert (tmp_path / MARKER).exists()


def test_overwrite_replaces_a_lesson_only_once_the_new_page_is_written(tmp_path, monkeypatch):
    import cnnlab.lesson.run as lesson

    out = tmp_path / "lesson"
    mark_owned(out, "lesson")
    (out / "index.html").write_text("earlier")

    def failing(*args, out, **kwargs):
        (out / "index.html").write_text("half")
        raise KeyboardInterrupt

    monkeypatch.setattr(lesson, "run_lesson", failing)
    assert main(["lesson", "--quick", "--out", str(out), "--overwrite"]) == 130
    assert (out / "index.html").read_text() == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["lesson"]  # nothing left aside

    def succeeding(*args, out, **kwargs):
        (out / "index.html").write_text("new")

    monkeypatch.setattr(lesson, "run_lesson", succeeding)
    assert main(["lesson", "--quick", "--out", str(out), "--overwrite"]) == 0
    assert (out / "index.html").read_text() == "new"
    assert sorted(p.name for p in out.iterdir()) == sorted([MARKER, "index.html"])
    assert [p.name for p in tmp_path.iterdir()] == ["lesson"]


def test_lesson_threads_reach_every_run(tmp_path, capsys):
    data = write_image_folder(tmp_path / "shapes", per_class=(12, 4))
    out = tmp_path / "lesson"
    assert main(["lesson", "--dataset", str(data), "--quick", "--epochs", "1", "--threads", "1", "--quiet",
                 "--out", str(out)]) == 0
    configs = sorted(out.glob("**/config.json"))
    assert configs and all(json.loads(c.read_text())["threads"] == 1 for c in configs)
    capsys.readouterr()
    assert main(["lesson", "--quick", "--threads", "0", "--out", str(tmp_path / "other")]) == 2
    assert capsys.readouterr().err == "cnnlab: error: --threads 0 must be a positive integer\n"
    assert not (tmp_path / "other").exists()
    assert not list(data.glob("**/config.json"))  # the runs went to the lesson folder, not the data's
