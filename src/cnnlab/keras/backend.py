"""Session state as Keras keeps it: the per-name counters behind automatic names.

Keras names an object `prefix` the first time a session asks for that prefix, then
`prefix_1`, `prefix_2`, ... (keras/src/utils/naming.py `uniquify`); names given by the
user are not counted. `clear_session()` starts the counting again.
"""

from __future__ import annotations

import collections
import re

_uids: collections.defaultdict[str, int] = collections.defaultdict(int)


def to_snake_case(name: str) -> str:
    """Keras's class name -> prefix: MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def uniquify(prefix: str) -> str:
    n = _uids[prefix]
    _uids[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def auto_name(class_name: str) -> str:
    return uniquify(to_snake_case(class_name))


def clear_session(free_memory: bool = True) -> None:
    """Forget every automatic name given so far, as `keras.backend.clear_session()` does."""
    _uids.clear()


def backend() -> str:
    """The engine that runs the models."""
    return "cnnlab"


def image_data_format() -> str:
    return "channels_last"
