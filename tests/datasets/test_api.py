"""dataset_meta, digits, image folders, names and options."""

import numpy as np
import pytest
from PIL import Image

from cnnlab.datasets import DatasetError, DatasetMeta, dataset_meta, load_dataset
from cnnlab.datasets.api import parse_size


@pytest.mark.parametrize("name, shape, classes, train, test, first", [
    ("mnist", (28, 28, 1), 10, 60000, 10000, "0"),
    ("fashion_mnist", (28, 28, 1), 10, 60000, 10000, "T-shirt/top"),
    ("cifar10", (32, 32, 3), 10, 50000, 10000, "airplane"),
    ("cifar100", (32, 32, 3), 100, 50000, 10000, "apple"),
    ("digits", (8, 8, 1), 10, 1438, 359, "0"),
])
def test_meta_needs_no_files(name, shape, classes, train, test, first, monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    meta = dataset_meta(name)
    assert isinstance(meta, DatasetMeta)
    assert (meta.name, meta.input_shape, meta.num_classes) == (name, shape, classes)
    assert (meta.train_size, meta.test_size) == (train, test)
    assert len(meta.class_names) == classes and meta.class_names[0] == first


def test_cifar100_coarse_meta():
    meta = dataset_meta("cifar100", label_mode="coarse")
    assert meta.num_classes == 20 and meta.class_names[-1] == "vehicles_2"
    assert len(set(dataset_meta("cifar100").class_names)) == 100


def test_names_are_forgiving_and_unknown_names_explained():
    assert dataset_meta("Fashion-MNIST").name == "fashion_mnist"
    assert dataset_meta("CIFAR-10").name == "cifar10"
    with pytest.raises(DatasetError, match="unknown dataset 'imagenet': use one of mnist, fashion_mnist"):
        load_dataset("imagenet")


def test_digits_needs_nothing_and_splits_by_seed():
    (x_train, y_train), (x_test, y_test) = load_dataset("digits")
    assert x_train.shape == (1438, 8, 8) and x_test.shape == (359, 8, 8)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and y_train.shape == (1438,)
    assert x_train.max() == 255 and x_train.min() == 0
    again = load_dataset("digits")
    np.testing.assert_array_equal(again[0][0], x_train)
    other = load_dataset("digits", seed=1)
    assert not np.array_equal(other[1][1], y_test)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == sorted(
        np.concatenate([other[0][1], other[1][1]]).tolist())


def test_resize_applies_to_builtin_datasets():
    (x_train, _), (x_test, _) = load_dataset("digits", resize=(16, 12))
    assert x_train.shape == (1438, 16, 12) and x_test.shape == (359, 16, 12)


@pytest.mark.parametrize("value, expected", [(None, None), (32, (32, 32)), ((28, 30), (28, 30)),
                                             ("32x24", (32, 24)), ("16", (16, 16))])
def test_parse_size(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["big", (0, 3), (1, 2, 3), "3x"])
def test_parse_size_rejects_nonsense(value):
    with pytest.raises(DatasetError, match="is not a size"):
        parse_size(value)


# --- image folders ---------------------------------------------------------------------------


def _image(path, size=(6, 4), mode="RGB", value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 7)
    Image.new(mode, size, color).save(path)


def _folder(root, split_dirs=True, n=3, mode="RGB", ext=".png"):
    for split in (["train", "test"] if split_dirs else [""]):
        for ci, cls in enumerate(["cat", "dog"]):
            for i in range(n):
                _image(root / split / cls / f"{i}{ext}", mode=mode, value=10 * ci + i)
    return root


def test_folder_with_train_and_test(tmp_path):
    root = _folder(tmp_path / "pets")
    (x_train, y_train), (x_test, y_test) = load_dataset(str(root))
    assert x_train.shape == (6, 4, 6, 3) and x_test.shape == (6, 4, 6, 3)  # (N, H, W, C)
    assert y_train.tolist() == [0, 0, 0, 1, 1, 1]
    assert x_train[4, 0, 0].tolist() == [11, 244, 7]  # dog/1.png
    meta = dataset_meta(root)
    assert (meta.name, meta.input_shape, meta.class_names) == ("pets", (4, 6, 3), ["cat", "dog"])
    assert (meta.train_size, meta.test_size) == (6, 6)


def test_grayscale_folder_loads_like_mnist(tmp_path):
    root = _folder(tmp_path / "g", mode="L", ext=".jpg")
    (x_train, _), _ = load_dataset(root)
    assert x_train.shape == (6, 4, 6)
    assert dataset_meta(root).input_shape == (4, 6, 1)


def test_class_folders_only_are_split_by_seed(tmp_path):
    root = _folder(tmp_path / "flat", split_dirs=False, n=5)
    (x_train, y_train), (x_test, y_test) = load_dataset(root, seed=3)
    assert len(x_train) == 8 and len(x_test) == 2  # 20% of each class
    assert sorted(y_test.tolist()) == [0, 1]
    again = load_dataset(root, seed=3)
    np.testing.assert_array_equal(again[1][0], x_test)


def test_coarse_labels_are_refused_for_folders(tmp_path):
    root = _folder(tmp_path / "pets")
    with pytest.raises(DatasetError, match="label_mode='coarse' exists only for cifar100, not pets"):
        load_dataset(root, label_mode="coarse")


def test_odd_image_size_names_the_file(tmp_path):
    root = _folder(tmp_path / "odd")
    _image(root / "test" / "dog" / "9.png", size=(5, 5))
    with pytest.raises(DatasetError, match=r"odd/test/dog/9.png is 5x5 but .*cat/0.png is 6x4; .*resize"):
        load_dataset(root)
    (x_train, _), (x_test, _) = load_dataset(root, resize=(8, 8))
    assert x_test.shape == (7, 8, 8, 3)


def test_unreadable_image_names_the_file(tmp_path):
    root = _folder(tmp_path / "bad")
    (root / "train" / "cat" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match=r"bad/train/cat/broken.png: not a readable image"):
        load_dataset(root)


def test_test_classes_must_exist_in_train(tmp_path):
    root = _folder(tmp_path / "pets")
    _image(root / "test" / "bird" / "0.png")
    with pytest.raises(DatasetError, match="pets/test has class folders missing from .*pets/train: bird"):
        dataset_meta(root)


def test_empty_and_missing_folders_are_explained(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="has no class folders"):
        load_dataset(tmp_path / "empty")
    (tmp_path / "hollow" / "cat").mkdir(parents=True)
    with pytest.raises(DatasetError, match="hollow/cat has no .png/.jpg/.jpeg images"):
        load_dataset(tmp_path / "hollow")


def test_top_level_reexports():
    import cnnlab

    assert cnnlab.load_dataset is load_dataset and cnnlab.dataset_meta is dataset_meta
    assert issubclass(cnnlab.DatasetError, cnnlab.CnnlabError)
