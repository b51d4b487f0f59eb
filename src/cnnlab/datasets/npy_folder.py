"""Folders of NumPy .npy files as datasets: the Dollar Street 10 layout (train_images.npy,
train_labels.npy, test_images.npy, test_labels.npy) or Keras's names (x_train.npy, ...).

Every file is read with allow_pickle=False: a .npy of Python objects is a pickle, and
unpickling runs code. Shapes, dtypes and label ranges are checked; no checksum is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.registry import DatasetSpec

KEYS = ("x_train", "y_train", "x_test", "y_test")
LAYOUTS = (
    dict(zip(KEYS, ("train_images.npy", "train_labels.npy", "test_images.npy", "test_labels.npy"))),
    dict(zip(KEYS, ("x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy"))),
)
CLASS_NAMES_FILE = "class_names.txt"  # optional: one class name per line, label order
MAX_CLASSES = 256  # labels are kept as uint8

Arrays = dict[str, np.ndarray]


def find(folder: str | Path) -> dict[str, Path] | None:
    """The four files of the first layout the folder holds; None when it holds none of them;
    DatasetError when a layout is incomplete (the message names what is missing)."""
    folder = Path(folder)
    for layout in LAYOUTS:
        paths = {key: folder / name for key, name in layout.items()}
        present = [key for key, p in paths.items() if p.is_file()]
        if len(present) == len(KEYS):
            return paths
        if present:
            missing = ", ".join(layout[k] for k in KEYS if k not in present)
            raise DatasetError(f"{folder} holds {', '.join(layout[k] for k in present)} but not {missing}; "
                               f"a folder of .npy files needs all four: {', '.join(layout.values())}")
    return None


def read_array(path: Path, *, header_only: bool = False) -> np.ndarray:
    """One .npy array, never unpickled; header_only maps the file instead of reading it."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise DatasetError(f"{path} cannot be read ({e.strerror}); fetch or save it again") from None
    if magic.startswith(b"PK"):
        raise DatasetError(f"{path} is a .npz archive, not a .npy array; save each array with np.save")
    if magic != b"\x93NUMPY":
        raise DatasetError(f"{path} is not a .npy file (it lacks the .npy header); fetch it again or "
                           "save the array with np.save")
    try:
        array = np.load(path, mmap_mode="r" if header_only else None, allow_pickle=False)
    except ValueError as e:
        if "pickle" in str(e) or "object" in str(e):
            raise DatasetError(f"{path} holds Python objects, which load only by unpickling (and unpickling "
                               "runs code), so cnnlab refuses it; save plain numbers instead: "
                               "np.save(path, np.asarray(array, dtype=np.uint8))") from None
        raise DatasetError(f"{path} is not a readable .npy file ({e}); save it with np.save") from None
    except (OSError, EOFError) as e:
        raise DatasetError(f"{path} cannot be read as a .npy file ({e}); fetch or save it again") from None
    return array


def _images(x: np.ndarray, what: str) -> np.ndarray:
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)) or x.shape[0] == 0:
        raise DatasetError(f"{what} has shape {x.shape}; images must be (N, H, W) or (N, H, W, C) with "
                           "C = 1 or 3 and N > 0")
    if x.dtype != np.uint8:
        if x.dtype.kind not in "iuf":
            raise DatasetError(f"{what} is {x.dtype}; images must be numbers 0..255 (uint8)")
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 255 or (x.dtype.kind == "f" and not np.array_equal(x, np.round(x))):
            hint = " (they look scaled to 0..1: multiply by 255)" if high <= 1.0 else ""
            raise DatasetError(f"{what} is {x.dtype} with values {low:g}..{high:g}; images must be whole "
                               f"numbers 0..255{hint}, e.g. saved as uint8")
        x = x.astype(np.uint8)
    return x[..., 0] if x.ndim == 4 and x.shape[3] == 1 else np.ascontiguousarray(x)


def _labels(y: np.ndarray, n: int, what: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1 or y.shape[0] != n:
        raise DatasetError(f"{what} has shape {y.shape}; expected one label per image: ({n},) or ({n}, 1)")
    if y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y))):
        raise DatasetError(f"{what} is {y.dtype}; labels must be whole numbers 0, 1, 2, ...")
    if y.size and (y.min() < 0 or y.max() >= MAX_CLASSES):
        raise DatasetError(f"{what} holds labels {y.min():g}..{y.max():g}; labels must be 0..{MAX_CLASSES - 1}")
    return y.astype(np.uint8)


def check_arrays(raw: Arrays, origin: str | Path, *, num_classes: int | None = None) -> Arrays:
    """x uint8 (N, H, W[, 3]), y uint8 (N,); DatasetError naming the file and the fix otherwise."""
    out: Arrays = {}
    for split in ("train", "test"):
        x = _images(raw[f"x_{split}"], f"{origin}: {split} images")
        out[f"x_{split}"] = x
        out[f"y_{split}"] = _labels(raw[f"y_{split}"], x.shape[0], f"{origin}: {split} labels")
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise DatasetError(f"{origin}: training images are {out['x_train'].shape[1:]} but test images are "
                           f"{out['x_test'].shape[1:]}; both splits must hold images of one shape")
    if num_classes is not None:
        for split in ("train", "test"):
            y = out[f"y_{split}"]
            if y.size and int(y.max()) >= num_classes:
                raise DatasetError(f"{origin}: {split} labels go up to {int(y.max())}, but there are only "
                                   f"{num_classes} classes (labels 0..{num_classes - 1})")
    return out


def load_arrays(folder: str | Path, *, num_classes: int | None = None) -> Arrays:
    """The four checked arrays of a folder of .npy files."""
    paths = find(folder)
    if paths is None:
        raise DatasetError(f"{folder} holds no {', '.join(LAYOUTS[0].values())}")
    raw = {key: read_array(path) for key, path in paths.items()}
    return check_arrays(raw, folder, num_classes=num_classes)


@dataclass(frozen=True)
class FolderInfo:
    """What a folder of .npy files holds, read from the headers and the labels only."""

    input_shape: tuple[int, int, int]
    class_names: list[str]
    train_size: int
    test_size: int


def folder_info(folder: str | Path, spec: DatasetSpec | None = None) -> FolderInfo:
    """Shapes from the headers; class names from class_names.txt, else from `spec` when the
    folder holds that dataset's images, else 0, 1, 2, ..."""
    folder = Path(folder)
    paths = find(folder)
    if paths is None:
        raise DatasetError(f"{folder} holds no {', '.join(LAYOUTS[0].values())}")
    x_train, x_test = read_array(paths["x_train"], header_only=True), read_array(paths["x_test"], header_only=True)
    labels = {k: _labels(read_array(paths[k]), x.shape[0], f"{folder}: {k}")
              for k, x in (("y_train", x_train), ("y_test", x_test))}
    if x_train.ndim not in (3, 4):
        _images(x_train, f"{folder}: train images")  # raises with the shape rule
    h, w = x_train.shape[1:3]
    c = x_train.shape[3] if x_train.ndim == 4 else 1
    highest = max((int(y.max()) for y in labels.values() if y.size), default=0)
    names = _class_names(folder, highest + 1)
    if names is None and spec is not None and (h, w, c) == spec.input_shape and highest < spec.num_classes:
        names = list(spec.class_names)
    names = names or [str(i) for i in range(highest + 1)]
    return FolderInfo((h, w, c), names, x_train.shape[0], x_test.shape[0])


def _class_names(folder: Path, needed: int) -> list[str] | None:
    path = folder / CLASS_NAMES_FILE
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) < needed:
        raise DatasetError(f"{path} names {len(names)} classes but the labels go up to {needed - 1}; "
                           "give one name per line for every label")
    return names


# --- a registered dataset whose files are fetched by hand -----------------------------------
def search_dirs(spec: DatasetSpec) -> list[Path]:
    """Where a hand-fetched copy may be: the cache, $CNNLAB_DATA_DIR, then the lesson's folder."""
    from cnnlab.datasets import cache

    dirs = [cache.dataset_dir(spec.name)]
    if os.environ.get("CNNLAB_DATA_DIR"):
        user = Path(os.environ["CNNLAB_DATA_DIR"]).expanduser()
        dirs += [user / spec.name, user]
    dirs.append(Path(spec.manual.folder))
    return dirs


def local_copy(spec: DatasetSpec) -> Path | None:
    for folder in search_dirs(spec):
        if folder.is_dir() and find(folder) is not None:
            return folder
    return None


def how_to_fetch(spec: DatasetSpec) -> str:
    """The by-hand steps: the four files into the lesson's folder, then --dataset that folder."""
    manual = spec.manual
    urls = " ".join(manual.url + name for name in manual.files)
    return (f"fetch the {len(manual.files)} files by hand into {manual.folder}/ "
            f"(mkdir -p {manual.folder} && wget -nc -P {manual.folder} {urls}), "
            f"then pass --dataset {manual.folder}")


def load_registered(spec: DatasetSpec) -> Arrays:
    """A hand-fetched registered dataset, checked against its spec (shape, training size, classes)."""
    folder = local_copy(spec)
    if folder is None:
        looked = ", ".join(str(d) for d in search_dirs(spec))
        raise DatasetError(f"{spec.name} is not on this machine (looked in {looked}); cnnlab does not "
                           f"download it: {how_to_fetch(spec)}")
    arrays = load_arrays(folder, num_classes=spec.num_classes)
    h, w, c = spec.input_shape
    image = (h, w) if c == 1 else (h, w, c)
    shape = arrays["x_train"].shape
    if shape[1:] != image or shape[0] != spec.train_size:
        raise DatasetError(f"{folder}: training images are {shape}, but {spec.name} has {spec.train_size} images "
                           f"of {image}; {how_to_fetch(spec)}")
    return arrays
