"""Folders of .npy files (the Dollar Street 10 lesson's layout) and the registered dollar_street:
written here in the real format, never fetched."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.npy_folders import write_npy_folder

from cnnlab.cli import main
from cnnlab.datasets import DatasetError, dataset_meta, load_dataset, registry

KERAS_NAMES = ("x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy")


def test_a_lesson_folder_loads_like_keras_datasets(tmp_path):
    folder = write_npy_folder(tmp_path / "ds", train=30, test=12)
    (x_train, y_train), (x_test, y_test) = load_dataset(folder)
    assert x_train.shape == (30, 64, 64, 3) and x_test.shape == (12, 64, 64, 3)
    assert y_train.shape == (30,) and y_test.shape == (12,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert np.array_equal(y_train, np.load(folder / "train_labels.npy"))
    assert np.array_equal(x_test, np.load(folder / "test_images.npy"))


def test_keras_names_and_a_path_given_as_text(tmp_path):
    folder = write_npy_folder(tmp_path / "k", shape=(8, 8), classes=3, names=KERAS_NAMES)
    (x_train, _), _ = load_dataset(str(folder))
    assert x_train.shape == (40, 8, 8)
    meta = dataset_meta(str(folder))
    assert (meta.input_shape, meta.class_names, meta.train_size, meta.test_size) == ((8, 8, 1), ["0", "1", "2"], 40, 20)


def test_a_folder_with_the_lesson_shapes_gets_the_lesson_class_names(tmp_path):
    meta = dataset_meta(write_npy_folder(tmp_path / "dataset_dollarstreet"))
    assert meta.class_names == list(registry.DOLLAR_STREET.class_names)
    assert meta.input_shape == (64, 64, 3) and meta.num_classes == 10


def test_class_names_file_names_the_labels(tmp_path):
    folder = write_npy_folder(tmp_path / "c", shape=(8, 8, 3), classes=2)
    (folder / "class_names.txt").write_text("cat\ndog\n")
    assert dataset_meta(folder).class_names == ["cat", "dog"]


def test_resize_applies_to_npy_folders(tmp_path):
    (x_train, _), (x_test, _) = load_dataset(write_npy_folder(tmp_path / "r"), resize=(32, 32))
    assert x_train.shape[1:] == (32, 32, 3) and x_test.shape[1:] == (32, 32, 3)


def test_an_object_array_is_refused_not_unpickled(tmp_path):
    folder = write_npy_folder(tmp_path / "p")
    np.save(folder / "train_labels.npy", np.array([{"x": 1}] * 40, dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="holds Python objects.*unpickling runs code"):
        load_dataset(folder)


def _write_npz(path):
    with open(path, "wb") as f:
        np.savez(f, x=np.zeros(2))


@pytest.mark.parametrize("change, message", [
    (lambda f: (f / "test_labels.npy").unlink(), "holds train_images.npy, train_labels.npy, test_images.npy but not test_labels.npy"),
    (lambda f: np.save(f / "train_labels.npy", np.zeros(7, np.int64)), r"train labels has shape \(7,\); expected one label per image: \(40,\)"),
    (lambda f: np.save(f / "train_labels.npy", -np.ones(40, np.int64)), "holds labels -1..-1"),
    (lambda f: np.save(f / "test_images.npy", np.zeros((20, 32, 32, 3), np.uint8)), "both splits must hold images of one shape"),
    (lambda f: np.save(f / "train_images.npy", np.zeros((40, 64, 64, 3), np.float32) + 0.5), r"values 0.5..0.5.*scaled to 0..1"),
    (lambda f: np.save(f / "train_images.npy", np.zeros((40, 64, 64, 2), np.uint8)), r"C = 1 or 3"),
    (lambda f: (f / "test_images.npy").write_bytes(b"not numpy"), "is not a .npy file"),
    (lambda f: _write_npz(f / "test_images.npy"), "is a .npz archive"),
])
def test_bad_files_are_one_clear_message(tmp_path, change, message):
    folder = write_npy_folder(tmp_path / "bad")
    change(folder)
    with pytest.raises(DatasetError, match=message):
        load_dataset(folder)


def test_labels_as_a_column_and_integer_images_are_accepted(tmp_path):
    folder = write_npy_folder(tmp_path / "col", shape=(8, 8, 3), classes=4)
    np.save(folder / "train_labels.npy", (np.arange(40) % 4).reshape(-1, 1).astype(np.int32))
    np.save(folder / "train_images.npy", np.full((40, 8, 8, 3), 200, np.int64))
    (x_train, y_train), _ = load_dataset(folder)
    assert y_train.shape == (40,) and x_train.dtype == np.uint8 and int(x_train.max()) == 200


# --- the registered dollar_street --------------------------------------------------------------
def test_dollar_street_absent_says_how_to_fetch_the_four_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError) as e:
        load_dataset("dollar_street")
    text = str(e.value)
    for name in ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"):
        assert f"https://zenodo.org/records/10970014/files/{name}" in text
    assert "into data/dataset_dollarstreet/" in text and "--dataset data/dataset_dollarstreet" in text


def test_dollar_street_is_found_in_the_lessons_folder_and_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_npy_folder(tmp_path / "data" / "dataset_dollarstreet", train=878, test=10)
    (x_train, y_train), (x_test, _) = load_dataset("dollar_street")
    assert x_train.shape == (878, 64, 64, 3) and y_train.shape == (878,) and x_test.shape == (10, 64, 64, 3)
    assert dataset_meta("dollar-street").test_size == 10
    write_npy_folder(tmp_path / "data" / "dataset_dollarstreet", train=50, test=10)
    with pytest.raises(DatasetError, match=r"training images are \(50, 64, 64, 3\), but dollar_street has 878"):
        load_dataset("dollar_street")


def test_dollar_street_labels_beyond_ten_classes_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_npy_folder(tmp_path / "data" / "dataset_dollarstreet", train=878, test=10, classes=11)
    with pytest.raises(DatasetError, match="labels go up to 10, but there are only 10 classes"):
        load_dataset("dollar_street")


def test_info_says_no_checksum_is_known_and_how_to_fetch(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["datasets", "info", "dollar_street"]) == 0
    out = capsys.readouterr().out
    assert "https://zenodo.org/records/10970014" in out
    assert "no checksum is known for these files" in out and "shapes, dtypes, training size and label range" in out
    assert "wget -nc -P data/dataset_dollarstreet" in out
    assert main(["datasets", "download", "dollar_street"]) == 0
    assert "not downloaded by cnnlab; fetch the 4 files by hand" in capsys.readouterr().out


def test_list_and_info_with_a_copy_here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_npy_folder(tmp_path / "data" / "dataset_dollarstreet", train=878, test=10)
    assert main(["datasets", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("dollar_street"))
    assert "878/10" in row and "data/dataset_dollarstreet" in row
    assert main(["datasets", "info", "dollar_street"]) == 0
    assert "test classes:  day bed:" in capsys.readouterr().out


def test_info_on_a_folder_of_npy_files(tmp_path, capsys):
    folder = write_npy_folder(tmp_path / "mine", shape=(8, 8, 3), classes=2, train=6, test=4)
    assert main(["datasets", "info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"mine: folder of .npy files {folder}\n")
    assert "train: 6   test: 4" in out and "train classes: 0: 3, 1: 3" in out
