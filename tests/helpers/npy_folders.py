"""Small synthetic folders of .npy files in the Dollar Street 10 lesson's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

LESSON_NAMES = ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy")


def write_npy_folder(folder: Path, *, train: int = 40, test: int = 20, shape=(64, 64, 3), classes: int = 10,
                     names=LESSON_NAMES, seed: int = 0, label_dtype=np.int64) -> Path:
    """Random uint8 images and labels 0..classes-1 (every class present in the training split)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    y_train = (np.arange(train) % classes).astype(label_dtype)
    y_test = rng.integers(0, classes, test).astype(label_dtype)
    arrays = (rng.integers(0, 256, (train, *shape), dtype=np.uint8), y_train,
              rng.integers(0, 256, (test, *shape), dtype=np.uint8), y_test)
    for name, array in zip(names, arrays):
        np.save(folder / name, array)
    return folder
