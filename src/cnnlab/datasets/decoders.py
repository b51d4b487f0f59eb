"""Turning a verified source (one packaging of a dataset) into arrays shaped like
keras.datasets: x uint8 (N, H, W) or (N, H, W, C); y uint8 (N,) or (N, 1).

Each decoder takes {file name: path} and {file name: already-gunzipped bytes or None}, plus a
scratch folder for archives, and returns x_train, y_train, x_test, y_test (CIFAR-100 adds
y_train_coarse and y_test_coarse)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cnnlab.datasets.formats import (
    FormatError,
    extract_tar,
    parse_cifar_binary,
    parse_cifar_python_batch,
    parse_idx,
    read_content,
)

ArraysByName = dict[str, np.ndarray]  # x_train, y_train, x_test, y_test (and the coarse labels)


def _content(name: str, paths: dict[str, Path], contents: dict[str, bytes | None]) -> bytes:
    data = contents.get(name)
    return data if data is not None else read_content(paths[name])


def decode_idx(paths, contents, scratch: Path) -> ArraysByName:
    def read(name: str, ndim: int) -> np.ndarray:
        what = str(paths[name])
        array = parse_idx(_content(name, paths, contents), what=what)
        if array.dtype != np.uint8 or array.ndim != ndim:
            raise FormatError(f"{what}: IDX array is {array.dtype} with {array.ndim} dimensions, expected uint8 with {ndim}")
        return array

    arrays = {
        "x_train": read("train-images-idx3-ubyte.gz", 3),
        "y_train": read("train-labels-idx1-ubyte.gz", 1),
        "x_test": read("t10k-images-idx3-ubyte.gz", 3),
        "y_test": read("t10k-labels-idx1-ubyte.gz", 1),
    }
    return arrays


def decode_keras_npz(paths, contents, scratch: Path) -> ArraysByName:
    (path,) = paths.values()
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError) as e:
        raise FormatError(f"{path}: not a Keras dataset .npz with x_train/y_train/x_test/y_test ({e})") from e


def _extracted(paths, scratch: Path) -> Path:
    (archive,) = paths.values()
    extract_tar(archive, scratch)
    return scratch


def _member(root: Path, relative: str) -> Path:
    path = root / relative
    if not path.is_file():
        raise FormatError(f"archive lacks {relative}; it is not the expected CIFAR archive")
    return path


def _cifar_binary(folder: str, train: list[str], test: str, label_bytes: int) -> Callable:
    def decode(paths, contents, scratch: Path) -> ArraysByName:
        root = _extracted(paths, scratch)

        def read(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
            parts = [parse_cifar_binary(_member(root, f"{folder}/{n}").read_bytes(),
                                        label_bytes=label_bytes, what=f"{folder}/{n}") for n in names]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

        (x_train, l_train), (x_test, l_test) = read(train), read([test])
        return _cifar_arrays(x_train, l_train, x_test, l_test)

    return decode


def _cifar_python(folder: str, train: list[str], test: str, label_keys: tuple[str, ...], *,
                  archive: bool = True) -> Callable:
    """From the python-version archive, or (archive=False) from its already extracted files."""

    def decode(paths, contents, scratch: Path) -> ArraysByName:
        if archive:
            root = _extracted(paths, scratch)
            files = {f"{folder}/{n}": _member(root, f"{folder}/{n}") for n in [*train, test]}
        else:
            files = paths

        def read(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
            parts = [parse_cifar_python_batch(files[f"{folder}/{n}"].read_bytes(), label_keys=label_keys,
                                              what=str(files[f"{folder}/{n}"])) for n in names]
            return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

        (x_train, l_train), (x_test, l_test) = read(train), read([test])
        return _cifar_arrays(x_train, l_train, x_test, l_test)

    return decode


def _cifar_arrays(x_train, l_train, x_test, l_test) -> ArraysByName:
    """Label columns are (label,) for CIFAR-10 and (coarse, fine) for CIFAR-100."""
    arrays = {"x_train": x_train, "y_train": l_train[:, -1:].copy(),
              "x_test": x_test, "y_test": l_test[:, -1:].copy()}
    if l_train.shape[1] == 2:
        arrays["y_train_coarse"] = l_train[:, :1].copy()
        arrays["y_test_coarse"] = l_test[:, :1].copy()
    return arrays


_C10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]

DECODERS: dict[str, Callable] = {
    "idx": decode_idx,
    "keras-npz": decode_keras_npz,
    "cifar10-binary": _cifar_binary("cifar-10-batches-bin", [f"{n}.bin" for n in _C10_TRAIN], "test_batch.bin", 1),
    "cifar100-binary": _cifar_binary("cifar-100-binary", ["train.bin"], "test.bin", 2),
    "cifar10-python": _cifar_python("cifar-10-batches-py", _C10_TRAIN, "test_batch", ("labels",)),
    "cifar100-python": _cifar_python("cifar-100-python", ["train"], "test", ("coarse_labels", "fine_labels")),
    "cifar10-python-files": _cifar_python("cifar-10-batches-py", _C10_TRAIN, "test_batch", ("labels",),
                                          archive=False),
    "cifar100-python-files": _cifar_python("cifar-100-python", ["train"], "test",
                                           ("coarse_labels", "fine_labels"), archive=False),
}


def decode(fmt: str, paths: dict[str, Path], contents: dict[str, bytes | None], scratch: Path) -> ArraysByName:
    """Decode with the format's decoder; the scratch folder is removed afterwards."""
    try:
        return DECODERS[fmt](paths, contents, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
