"""Image folders as datasets: root/train/<class>/*.png|jpg and root/test/<class>/..., or only
root/<class>/... (then split per class with a seed). Decoded with Pillow."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.image_files import ImageFileError, image_size, open_image, to_8bit

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
TEST_FRACTION = 0.2  # of each class, when the folder has no train/test split of its own
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")

Labeled = list[tuple[Path, int]]


@dataclass
class Layout:
    root: Path
    classes: list[str]
    train: Labeled
    test: Labeled
    split_by_seed: bool


def _class_dirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images(folder: Path, classes: list[str]) -> Labeled:
    items = []
    for label, name in enumerate(classes):
        d = folder / name
        if not d.is_dir():
            continue
        files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        items += [(p, label) for p in files]
    return items


def scan(root: str | Path, *, seed: int = 0) -> Layout:
    """Find classes and image files (nothing decoded yet)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder; give a dataset name or a folder of class subfolders")
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes = _class_dirs(root / "train")
        extra = sorted(set(_class_dirs(root / "test")) - set(classes))
        if extra:
            raise DatasetError(f"{root}/test has class folders missing from {root}/train: {', '.join(extra)}")
        train, test, by_seed = _images(root / "train", classes), _images(root / "test", classes), False
    else:
        classes = _class_dirs(root)
        train, test = _split(_images(root, classes), seed)
        by_seed = True
    if not classes:
        raise DatasetError(f"{root} has no class folders; expected {root}/<class>/*.png (or train/ and test/ "
                           "folders holding class folders)")
    if len(classes) > 256:
        raise DatasetError(f"{root} has {len(classes)} class folders; at most 256 fit uint8 labels")
    counts = np.bincount([label for _, label in train + test], minlength=len(classes))
    empty = [c for c, n in zip(classes, counts) if n == 0]
    if empty:
        raise DatasetError(f"class folder {root / empty[0]} has no {'/'.join(IMAGE_SUFFIXES)} images")
    return Layout(root, classes, train, test, by_seed)


def _split(items: Labeled, seed: int) -> tuple[Labeled, Labeled]:
    """Per class: shuffle with the seed, put TEST_FRACTION (at least one, if 2+) in test."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    labels = sorted({label for _, label in items})
    for label in labels:
        group = [it for it in items if it[1] == label]
        order = rng.permutation(len(group))
        n_test = max(1, round(TEST_FRACTION * len(group))) if len(group) >= 2 else 0
        test += [group[i] for i in sorted(order[:n_test])]
        train += [group[i] for i in sorted(order[n_test:])]
    return train, test


def _header(path: Path) -> tuple[str, tuple[int, int]]:
    try:
        return image_size(path)
    except ImageFileError as e:
        raise DatasetError(str(e)) from None


def image_format(layout: Layout, resize: tuple[int, int] | None) -> tuple[str, tuple[int, int]]:
    """('L' or 'RGB', (H, W)) for the whole dataset; sizes must agree unless resizing."""
    items = layout.train + layout.test
    first_mode, first_size = _header(items[0][0])
    gray = first_mode in GRAY_MODES
    for path, _ in items[1:]:
        mode, size = _header(path)
        gray = gray and mode in GRAY_MODES
        if resize is None and size != first_size:
            raise DatasetError(
                f"{path} is {size[0]}x{size[1]} but {items[0][0]} is {first_size[0]}x{first_size[1]}; "
                "images must agree in size: resize them to one size, or in Python pass "
                "load_dataset(folder, resize=(H, W))")
    hw = resize if resize is not None else (first_size[1], first_size[0])
    return ("L" if gray else "RGB"), hw


def _read(path: Path, mode: str, hw: tuple[int, int]) -> np.ndarray:
    try:
        im = to_8bit(open_image(path)).convert(mode)
    except ImageFileError as e:
        raise DatasetError(str(e)) from None
    if im.size != (hw[1], hw[0]):
        im = im.resize((hw[1], hw[0]), Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def load_folder(root, *, resize: tuple[int, int] | None = None, seed: int = 0):
    """((x_train, y_train), (x_test, y_test)), x uint8 (N, H, W) for grayscale or (N, H, W, 3)."""
    layout = scan(root, seed=seed)
    mode, hw = image_format(layout, resize)
    image_shape = hw if mode == "L" else (*hw, 3)

    def stack(items: Labeled):
        x = np.empty((len(items), *image_shape), dtype=np.uint8)
        for i, (path, _) in enumerate(items):
            x[i] = _read(path, mode, hw)
        y = np.array([label for _, label in items], dtype=np.uint8)
        return x, y

    return stack(layout.train), stack(layout.test)
