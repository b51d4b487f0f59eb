"""`keras.utils`: seeding and the small helpers lessons use."""

from __future__ import annotations

import random

import numpy as np


def set_random_seed(seed: int) -> None:
    """Seed Python, numpy and torch: weights, data order and dropout repeat from here on."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def to_categorical(x, num_classes=None) -> np.ndarray:
    """One-hot rows of integer labels, as `keras.utils.to_categorical`."""
    x = np.asarray(x, dtype="int64")
    shape = x.shape[:-1] if x.ndim > 1 and x.shape[-1] == 1 else x.shape
    x = x.reshape(-1)
    num_classes = int(num_classes if num_classes is not None else x.max() + 1)
    out = np.zeros((len(x), num_classes))  # float64, as Keras returns it
    out[np.arange(len(x)), x] = 1
    return out.reshape(*shape, num_classes)


def __getattr__(name: str):
    """A Keras name this module does not offer is refused by name (an AttributeError for hasattr)."""
    from cnnlab.keras.layers import Unsupported

    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise Unsupported(f"keras.utils.{name} is not supported by cnnlab.keras; it offers set_random_seed, to_categorical")
