"""The `cnnlab datasets` CLI: list, download, info, show; one-line errors with exit code 2."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.datasets import gz, idx_dataset, idx_spec, serve
from PIL import Image

from cnnlab.cli import main
from cnnlab.datasets import registry


@pytest.fixture
def tiny_mnist(mirrored, install):
    arrays, raw = idx_dataset(seed=11)
    files = {name: gz(data) for name, data in raw.items()}
    serve(mirrored, "mnist", files)
    install(idx_spec(registry.MNIST, raw, by="file", files=files))
    return arrays


def test_list_shows_every_dataset_and_where_it_is(capsys, tmp_path):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["name", "shape", "classes", "train/test", "on", "disk", "where"]
    assert lines[1].split()[:6] == ["mnist", "28x28x1", "10", "60000/10000", "-", "not"]
    assert any(line.startswith("cifar10 ") and "32x32x3" in line for line in lines)
    assert "digits" in out and "embedded in scikit-learn" in out
    assert f"cache: {tmp_path / 'home'}" in out


def test_download_then_list_and_info(tiny_mnist, capsys, tmp_path):
    assert main(["datasets", "download", "mnist"]) == 0
    captured = capsys.readouterr()
    assert f"mnist: ready in {tmp_path / 'home' / 'mnist'} (x_train (30, 28, 28), y_train (30,)" in captured.out
    assert "downloading train-images-idx3-ubyte.gz" in captured.err  # progress goes to stderr
    main(["datasets", "list"])
    mnist_row = capsys.readouterr().out.splitlines()[1]
    assert mnist_row.split()[-1] == str(tmp_path / "home" / "mnist")
    assert main(["datasets", "info", "mnist"]) == 0
    out = capsys.readouterr().out
    assert "input shape (H, W, C): (28, 28, 1)   classes: 10" in out
    assert "train-images-idx3-ubyte.gz" in out and "sha256 of file:" in out and "[test fixture]" in out
    assert "train classes: 0: 3, 1: 3, 2: 3" in out


def test_info_before_download_says_how(capsys):
    assert main(["datasets", "info", "cifar10"]) == 0
    out = capsys.readouterr().out
    assert "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd" in out
    assert "run `cnnlab datasets download cifar10`" in out


def test_download_digits_needs_nothing(capsys):
    assert main(["datasets", "download", "digits"]) == 0
    assert "digits: embedded in scikit-learn, nothing to download" in capsys.readouterr().out


def test_show_writes_a_labelled_grid(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["datasets", "show", "digits", "--out", str(out), "--count", "9"]) == 0
    assert f"wrote {out} (9 train images of digits)" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size[0] > 100 and im.size[1] > 100
        assert np.asarray(im.convert("L")).std() > 10  # not a blank canvas


def test_show_that_fails_while_writing_leaves_the_earlier_picture_whole(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    out = tmp_path / "grid.png"
    out.write_bytes(b"an earlier picture")

    def disk_full(self, target, **kwargs):
        (open(target, "wb") if isinstance(target, (str, Path)) else target).write(b"half a pic")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", disk_full)
    assert main(["datasets", "show", "digits", "--out", str(out), "--count", "4"]) == 2
    assert out.read_bytes() == b"an earlier picture"


@pytest.mark.parametrize("argv, message", [
    (["datasets", "download", "mnist", "imagenet"], "unknown dataset 'imagenet'"),
    (["datasets", "info", "nowhere/at/all"], "unknown dataset 'nowhere/at/all'"),
    (["datasets", "show", "mnist", "--offline"], "mnist is not on this machine"),
])
def test_errors_are_one_message_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cnnlab: error: {message}") and err.count("cnnlab: error:") == 1


def test_the_datasets_cli_does_not_import_torch(tmp_path):
    code = ("import sys; from cnnlab.cli import main; main(['datasets', 'list']); "
            "main(['datasets', 'info', 'digits']); assert 'torch' not in sys.modules, 'torch imported'")
    env = {**os.environ, "CNNLAB_HOME": str(tmp_path / "h")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_info_on_a_folder_with_a_corrupt_image_is_an_error(tmp_path, capsys):
    for split in ("train", "test"):
        (tmp_path / "f" / split / "cat").mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "f" / split / "cat" / "a.png")
    (tmp_path / "f" / "train" / "cat" / "b.png").write_bytes(b"not a png")
    assert main(["datasets", "info", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "b.png" in err and "download" not in err


def test_show_refuses_an_output_that_is_not_a_picture(tmp_path, capsys):
    assert main(["datasets", "show", "digits", "--out", str(tmp_path / "grid.txt")]) == 2
    assert "give a picture file name ending in .png" in capsys.readouterr().err
    assert not (tmp_path / "grid.txt").exists()
