"""The arrays a learner passes to fit / evaluate / predict, made ready for the engine.

Keras trains on the numbers it is given: uint8 pixels as 0..255, the lesson's
`x / 255.0` as 0..1. The engine's fast path takes uint8 pixels and scales them by 1/255
as it lays out each batch, so float images that are exactly uint8/255 (what `x / 255.0`
and `x.astype('float32') / 255` give) go to it as their uint8 values (a quarter of the
memory); any other images go as float32, unchanged, into the same step.
"""

from __future__ import annotations

import numpy as np

from cnnlab.models.layers import ModelError

_CHUNK = 1 << 20  # values checked at a time, so the check needs no full-size temporaries


def check_array_data(x, what: str) -> None:
    """Refuse what cnnlab.keras does not train on (datasets, generators, dicts) at once."""
    if x is None:
        raise ModelError(f"{what} is missing; give the images as a numpy array")
    if isinstance(x, (np.ndarray, list)) or type(x).__module__.startswith("torch"):
        return
    raise ModelError(
        f"{what} is a {type(x).__name__}: cnnlab.keras trains on numpy arrays (x, y) only, not on "
        "tf.data datasets, generators or dicts"
    )


def adjust_rank(x: np.ndarray, ref: tuple[int, ...], input_name: str) -> np.ndarray:
    """Keras's rule: one axis of size 1 too many or too few at the end is added or removed."""
    want = len(ref) + 1
    if x.ndim == want + 1 and x.shape[-1] == 1:
        x = x[..., 0]
    elif x.ndim == want - 1 and ref[-1] == 1:
        x = x[..., None]
    if x.ndim != want or tuple(x.shape[1:]) != tuple(ref):
        raise ValueError(
            f"Invalid input shape for input with name '{input_name}'. Expected shape "
            f"{(None, *ref)}, but input has incompatible shape {x.shape}"
        )
    return x


def as_pixels(x: np.ndarray) -> np.ndarray:
    """uint8 meaning value/255 (the engine's fast path), or float32 values as given."""
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x, dtype=np.float32)  # Keras trains on 0..255 as they are
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ModelError(f"images have dtype {x.dtype}; give numbers (uint8 or float)")
    if np.issubdtype(x.dtype, np.floating):
        pixels = _exact_pixels(x)
        if pixels is not None:
            return pixels
    return np.ascontiguousarray(x, dtype=np.float32)


def _exact_pixels(x: np.ndarray) -> np.ndarray | None:
    """uint8 k where every value of x is k / 255 in x's own dtype; else None."""
    flat = x.reshape(-1)
    out = np.empty(flat.shape, np.uint8)
    scale = x.dtype.type(255)
    for lo in range(0, len(flat), _CHUNK):
        part = flat[lo : lo + _CHUNK]
        k = np.rint(part * scale)
        if not (np.all((k >= 0) & (k <= 255)) and np.array_equal(k.astype(x.dtype) / scale, part)):
            return None
        out[lo : lo + _CHUNK] = k
    return out.reshape(x.shape)


def as_labels(y, count: int, what: str, one_hot: int | None = None) -> np.ndarray:
    """(N,) or (N, 1) integer class labels -> (N,) int64, as sparse categorical cross-entropy takes;
    with `one_hot` (the model's class count), one-hot rows (N, one_hot) -> their class numbers."""
    if y is None:
        raise ModelError(f"{what} is missing; give the class labels as a numpy array")
    y = np.asarray(y)
    if one_hot is not None:
        return _one_hot_classes(y, count, what, one_hot)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and y.shape[1] > 1:
        raise ModelError(
            f"{what} has shape {y.shape}: one-hot labels need loss='categorical_crossentropy'; "
            "with sparse_categorical_crossentropy give class numbers (N,)"
        )
    if y.ndim != 1 or len(y) != count:
        raise ValueError(f"{what} has shape {y.shape}; expected ({count},) or ({count}, 1) labels")
    if np.issubdtype(y.dtype, np.floating) and np.array_equal(y, np.rint(y)):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer):
        raise ModelError(f"{what} has dtype {y.dtype}; expected integer class labels")
    return y.astype(np.int64)


def _one_hot_classes(y: np.ndarray, count: int, what: str, classes: int) -> np.ndarray:
    """The class number of each one-hot row; anything else is refused as Keras's loss would."""
    if y.ndim != 2 or y.shape[1] != classes:
        raise ModelError(
            f"{what} has shape {y.shape} but categorical_crossentropy needs one-hot labels of shape "
            f"({count}, {classes}), e.g. keras.utils.to_categorical(y, {classes}); for class numbers "
            "use loss='sparse_categorical_crossentropy'"
        )
    if len(y) != count:
        raise ValueError(f"{what} has shape {y.shape}; expected ({count}, {classes}) labels")
    if not np.issubdtype(y.dtype, np.number) and y.dtype != np.bool_:
        raise ModelError(f"{what} has dtype {y.dtype}; expected one-hot numbers")
    if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
        raise ModelError(
            f"{what} holds rows that are not one-hot (one 1, the rest 0): soft labels and label "
            "smoothing are not supported by cnnlab.keras"
        )
    return np.argmax(y, axis=1).astype(np.int64)
