"""The public entry points: load_dataset and dataset_meta, for registry names and folders."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.datasets import builtin, npy_folder, registry
from cnnlab.datasets.cache import array_digest
from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.registry import DatasetSpec

Split = tuple[np.ndarray, np.ndarray]
LABEL_MODES = ("fine", "coarse")


@dataclass(frozen=True)
class DatasetMeta:
    """What a dataset is (shapes, classes, sizes), known without any data file."""

    name: str
    input_shape: tuple[int, int, int]  # (H, W, C), channels_last, as a model's input
    num_classes: int
    class_names: list[str]
    train_size: int
    test_size: int


def known_names() -> list[str]:
    """The names `load_dataset` accepts besides an image folder."""
    return list(registry.DATASETS)


def resolve(name_or_path: str | os.PathLike) -> DatasetSpec | Path:
    """A registry spec for a known name, else an existing folder; DatasetError otherwise."""
    text = os.fspath(name_or_path)
    spec = registry.lookup(text) if isinstance(name_or_path, str) else None
    if spec is not None:
        return spec
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    raise DatasetError(f"unknown dataset {text!r}: use one of {', '.join(known_names())}, "
                       "or a folder holding one subfolder of images per class, or a folder of .npy files "
                       "(train_images.npy, train_labels.npy, test_images.npy, test_labels.npy)")


def parse_size(resize) -> tuple[int, int] | None:
    """None, 32, (32, 32) or '32x32' -> (H, W)."""
    if resize is None:
        return None
    try:
        if isinstance(resize, str):
            parts = [int(p) for p in resize.lower().replace(",", "x").split("x")]
        elif isinstance(resize, int):
            parts = [resize, resize]
        else:
            parts = [int(p) for p in resize]
    except (TypeError, ValueError):
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise DatasetError(f"resize={resize!r} is not a size; use (H, W) like (32, 32), or '32x32'")
    return parts[0], parts[1]


def _check_label_mode(target: DatasetSpec | Path, label_mode: str) -> None:
    if label_mode not in LABEL_MODES:
        raise DatasetError(f"label_mode={label_mode!r}: use 'fine' or 'coarse'")
    if label_mode == "coarse" and not (isinstance(target, DatasetSpec) and target.coarse_class_names):
        raise DatasetError(f"label_mode='coarse' exists only for cifar100, not {target.name}")


def dataset_source(name_or_path) -> str:
    """What names this data for good: a registry name, or the folder's absolute path."""
    target = resolve(name_or_path)
    return str(target.resolve()) if isinstance(target, Path) else target.name


def fingerprint(*arrays: np.ndarray, digests: list[str] | None = None) -> str:
    """sha256 over the arrays' shapes, dtypes and the sha256 of their values: the same data
    gives the same text. `digests`: those value hashes (cache.array_digest) where known."""
    digests = digests or [array_digest(array) for array in arrays]
    assert len(digests) == len(arrays), f"{len(digests)} digests for {len(arrays)} arrays"
    text = "".join(f"{array.shape}{array.dtype.str}:{value};" for array, value in zip(arrays, digests))
    return hashlib.sha256(text.encode()).hexdigest()


def same_data(recorded: str, arrays: tuple[np.ndarray, ...], current: str) -> bool:
    """Whether `arrays` (fingerprint `current`) are the data a run recorded as `recorded`,
    which may be the older fingerprint: sha256 over the values themselves."""
    return recorded == current or recorded == _values_fingerprint(*arrays)


def _values_fingerprint(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.shape}{array.dtype.str};".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def dataset_meta(name_or_path, *, label_mode: str = "fine") -> DatasetMeta:
    """Shapes, classes and sizes; needs no data files for the registry datasets."""
    target = resolve(name_or_path)
    _check_label_mode(target, label_mode)
    if isinstance(target, Path) and npy_folder.find(target) is not None:
        info = npy_folder.folder_info(target, registry.DOLLAR_STREET)
        return DatasetMeta(target.name, info.input_shape, len(info.class_names), info.class_names,
                           info.train_size, info.test_size)
    if isinstance(target, Path):
        from cnnlab.datasets import folders  # Pillow: only for image folders

        layout = folders.scan(target)
        mode, (h, w) = folders.image_format(layout, None)
        return DatasetMeta(target.name, (h, w, 1 if mode == "L" else 3), len(layout.classes),
                           list(layout.classes), len(layout.train), len(layout.test))
    names = target.coarse_class_names if label_mode == "coarse" else target.class_names
    test_size = target.test_size
    if target.manual and not test_size and (copy := npy_folder.local_copy(target)) is not None:
        test_size = npy_folder.folder_info(copy).test_size
    return DatasetMeta(target.name, target.input_shape, len(names), list(names),
                       target.train_size, test_size)


def load_dataset(name_or_path, *, offline: bool | None = None, resize=None, seed: int = 0,
                 label_mode: str = "fine", progress: bool = True) -> tuple[Split, Split]:
    """((x_train, y_train), (x_test, y_test)) as numpy uint8, shaped like keras.datasets.

    name_or_path: mnist, fashion_mnist, cifar10, cifar100, digits, dollar_street, a folder of
    class folders, or a folder of .npy files (train_images.npy, ... or x_train.npy, ...).
    offline: never use the network (default: $CNNLAB_OFFLINE). resize: (H, W) to resize every
    image to. seed: the split of digits and of folders without train/test.
    label_mode: 'fine' or 'coarse' (cifar100).
    """
    train, test, _ = _load(name_or_path, offline, resize, seed, label_mode, progress)
    return train, test


def load_fingerprinted(name_or_path, *, offline: bool | None = None, resize=None, seed: int = 0,
                       label_mode: str = "fine", progress: bool = True) -> tuple[Split, Split, str]:
    """load_dataset, and the fingerprint of the four arrays it returns; data from the decoded
    cache is hashed once, by the cache's own check."""
    train, test, digests = _load(name_or_path, offline, resize, seed, label_mode, progress)
    return train, test, fingerprint(*train, *test, digests=digests)


def _load(name_or_path, offline, resize, seed, label_mode, progress) -> tuple[Split, Split, list[str] | None]:
    """(train, test, the array_digest of x_train, y_train, x_test, y_test where known)."""
    size = parse_size(resize)
    target = resolve(name_or_path)
    _check_label_mode(target, label_mode)
    digests: dict[str, str] = {}
    if isinstance(target, Path) and npy_folder.find(target) is not None:
        arrays = npy_folder.load_arrays(target)
    elif isinstance(target, Path):
        from cnnlab.datasets import folders

        return (*folders.load_folder(target, resize=size, seed=seed), None)
    elif target.manual is not None:
        arrays = npy_folder.load_registered(target)
    elif target.name == "digits":
        arrays = load_digits_arrays(seed)
    else:
        arrays = builtin.load_arrays(target, offline=offline, progress=progress, digests=digests)
    suffix = "_coarse" if label_mode == "coarse" else ""
    keys = ("x_train", f"y_train{suffix}", "x_test", f"y_test{suffix}")
    train, test = (arrays[keys[0]], arrays[keys[1]]), (arrays[keys[2]], arrays[keys[3]])
    if size is not None:
        train, test = (resize_images(train[0], size), train[1]), (resize_images(test[0], size), test[1])
        digests = {}  # of the images before resizing
    known = [digests[key] for key in keys if key in digests]
    return train, test, known if len(known) == len(keys) else None


def load_digits_arrays(seed: int) -> dict[str, np.ndarray]:
    """scikit-learn's embedded 8x8 digits, 0..16 scaled to 0..255, split by the seed."""
    images, target = _digits()
    x = np.round(images * (255.0 / 16.0)).astype(np.uint8)  # (1797, 8, 8)
    y = target.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(x))
    test, train = order[: registry.DIGITS_TEST_SIZE], order[registry.DIGITS_TEST_SIZE:]
    return {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]}


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) of 0..16, labels) from scikit-learn's data file, read as its
    load_digits reads it; importing scikit-learn itself takes longer than an epoch of digits."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    locations = spec.submodule_search_locations if spec else None
    path = Path(locations[0]) / "datasets" / "data" / "digits.csv.gz" if locations else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits

        digits = load_digits()
        return digits.images, digits.target
    with gzip.open(path, "rt") as f:
        data = np.loadtxt(f, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


def resize_images(x: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) uint8 resized to hw with bilinear filtering (Pillow)."""
    from PIL import Image

    if x.shape[1:3] == hw:
        return x
    out = np.empty((x.shape[0], *hw, *x.shape[3:]), dtype=np.uint8)
    for i, image in enumerate(x):
        out[i] = np.asarray(Image.fromarray(image).resize((hw[1], hw[0]), Image.Resampling.BILINEAR))
    return out
