"""In-memory data for training: uint8 images (N, H, W, C), integer labels, seeded orders.

Nothing here touches torch. Every random choice is a function of the seed (and the epoch),
so a resumed run replays exactly the order an uninterrupted one would have used.
"""

from __future__ import annotations

import numpy as np

from cnnlab.errors import CnnlabError


class DataError(CnnlabError):
    """Arrays that cannot be trained on; the message says what was expected."""


def as_images(x: np.ndarray, what: str = "x") -> np.ndarray:
    """(N, H, W) or (N, H, W, C) uint8 -> (N, H, W, C) uint8, C-contiguous."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"{what} has shape {x.shape}; expected images (N, H, W) or (N, H, W, C)")
    if x.dtype != np.uint8:
        raise DataError(f"{what} has dtype {x.dtype}; expected uint8 pixels 0..255 as keras.datasets gives")
    return np.ascontiguousarray(x)


def as_labels(y: np.ndarray, count: int, what: str = "y") -> np.ndarray:
    """(N,) or (N, 1) integer labels -> (N,) int64."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != count:
        raise DataError(f"{what} has shape {y.shape}; expected ({count},) or ({count}, 1) labels")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{what} has dtype {y.dtype}; expected integer class labels")
    return y.astype(np.int64)


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_indices, validation_indices): `fraction` of each class held out, seeded.

    Each class gives round(fraction * its count) examples (at least one when it has two or
    more); both index arrays are sorted, so the kept training data stays in its order.
    """
    rng = np.random.default_rng([seed, 0x5EED])
    held: list[np.ndarray] = []
    for label in sorted(set(y.tolist())):  # np.unique would import numpy.ma, for nothing
        members = np.flatnonzero(y == label)
        take = int(round(fraction * len(members)))
        if fraction > 0 and take == 0 and len(members) > 1:
            take = 1
        held.append(rng.permutation(members)[:take])
    val = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    mask = np.ones(len(y), bool)
    mask[val] = False
    return np.flatnonzero(mask), val


def epoch_order(count: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled example order of one epoch (0-based), a pure function of (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def steps_per_epoch(count: int, batch_size: int) -> int:
    return -(-count // batch_size)  # Keras: the last batch may be smaller
