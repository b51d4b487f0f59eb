"""Submodules imported when first named: `import cnnlab` stays light (no numpy, no torch), yet
`cnnlab.models.layers.ModelSpec` works after it, as the docs write it."""

from __future__ import annotations

import importlib
from types import ModuleType


def submodule(package: str, name: str) -> ModuleType:
    """`package.name`, imported now; the AttributeError attribute access expects if there is none."""
    if name.isidentifier() and not name.startswith("__"):
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{package}.{name}":
                raise  # a dependency the submodule needs is missing: say that one
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
