"""`cnnlab evaluate` and `cnnlab predict` on a trained run."""

import pytest
from helpers.training import FAST
from PIL import Image, ImageDraw


@pytest.fixture
def trained(workdir, cli):
    code, _, err = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "3", "--name", "r", *FAST)
    assert code == 0, err
    return workdir / "runs" / "r"


def test_evaluate_prints_metrics_and_confusion_matrix(trained, cli):
    code, out, err = cli("evaluate", "runs/r", "--threads", "1")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "runs/r on the digits test set (359 images)"
    assert lines[1].startswith("test_loss: ") and " - test_accuracy: " in lines[1]
    assert "per-class accuracy:" in lines
    matrix_start = lines.index("confusion matrix (rows: true class, columns: predicted class):")
    rows = lines[matrix_start + 2 : matrix_start + 12]
    assert sum(int(v) for row in rows for v in row.split()[1:-1]) == 359


def digit_one(mode: str, size=(120, 90), dark_on_light=True) -> Image.Image:
    background, ink = ("white", "black") if dark_on_light else ("black", "white")
    image = Image.new("RGB", size, background)
    ImageDraw.Draw(image).line((size[0] // 2, 10, size[0] // 2, size[1] - 10), fill=ink, width=12)
    return image.convert(mode)


def test_predict_accepts_any_size_and_mode_and_shows_top_3(trained, cli):
    files = {"rgb.png": digit_one("RGB"), "gray.jpg": digit_one("L", (30, 60)),
             "rgba.png": digit_one("RGBA"), "light_on_dark.png": digit_one("L", dark_on_light=False)}
    for name, image in files.items():
        image.save(trained.parent.parent / name)
    code, out, err = cli("predict", "runs/r", *files, "--threads", "1")
    assert code == 0, err
    blocks = out.strip().split("\n")
    assert blocks[0] == "rgb.png (120x90 RGB -> 8x8x1)"
    assert blocks[1].startswith("  inverted: the image is dark on light")
    assert "gray.jpg (30x60 L -> 8x8x1)" in blocks
    assert "rgba.png (120x90 RGBA -> 8x8x1)" in blocks
    # the light-on-dark image is used as it is: its three class lines follow directly
    i = blocks.index("light_on_dark.png (120x90 L -> 8x8x1)")
    top = blocks[i + 1 : i + 4]
    assert all(not line.strip().startswith("inverted") for line in top)
    probabilities = [float(line.split()[1]) for line in top]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1.0001


def test_predict_invert_no_and_bad_file(trained, cli):
    digit_one("RGB").save(trained.parent.parent / "one.png")
    code, out, _ = cli("predict", "runs/r", "one.png", "--invert", "no", "--top", "1", "--threads", "1")
    assert code == 0 and "inverted" not in out and len(out.splitlines()) == 2
    (trained.parent.parent / "fake.png").write_text("not an image")
    code, out, err = cli("predict", "runs/r", "fake.png", "--threads", "1")
    assert code == 2
    assert err.startswith("cnnlab: error: fake.png: not an image Pillow can read")
    code, _, err = cli("predict", "runs/r", "missing.png", "--threads", "1")
    assert err == "cnnlab: error: missing.png: no such file\n"


def test_python_api_accepts_a_run_folder(trained):
    import cnnlab

    (_, _), (x_test, y_test) = cnnlab.load_dataset("digits")
    scores = cnnlab.evaluate("runs/r", x_test, y_test)
    assert scores["accuracy"] > 0.5
    assert cnnlab.predict("runs/r", x_test[:3]).shape == (3, 10)
