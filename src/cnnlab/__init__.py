"""cnnlab: small convolutional networks on image data, the Keras way.

Public API (explicit re-exports; torch is imported only when a function needs it).
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

# Every public name is imported on first use: `import cnnlab` (and so every `cnnlab` command,
# and the painter process) loads neither numpy nor torch until a name needs them.
_LAZY = {
    "DatasetError": "cnnlab.datasets",
    "DatasetMeta": "cnnlab.datasets",
    "dataset_meta": "cnnlab.datasets",
    "load_dataset": "cnnlab.datasets",
    "CnnlabError": "cnnlab.errors",
    "Layer": "cnnlab.models.layers",
    "ModelError": "cnnlab.models.layers",
    "ModelSpec": "cnnlab.models.layers",
    "analyze": "cnnlab.models.shapes",
    "conv_params": "cnnlab.models.shapes",
    "dense_params": "cnnlab.models.shapes",
    "load_model": "cnnlab.models.source",
    "format_summary": "cnnlab.models.summary",
    "build": "cnnlab.models.build",
    "fit": "cnnlab.train.loop",
    "evaluate": "cnnlab.train.loop",
    "predict": "cnnlab.train.loop",
}

# The names it documents, for type checkers and the API docs, which read the source (build, fit,
# evaluate and predict are left out: cnnlab.report must not reach cnnlab.train through here).
if TYPE_CHECKING:
    from cnnlab.datasets import DatasetError, DatasetMeta, dataset_meta, load_dataset
    from cnnlab.errors import CnnlabError
    from cnnlab.models.layers import Layer, ModelError, ModelSpec
    from cnnlab.models.shapes import analyze, conv_params, dense_params
    from cnnlab.models.source import load_model
    from cnnlab.models.summary import format_summary


def __getattr__(name: str):
    import importlib

    if name in ("keras", "keras_tuner", "lesson"):  # subpackages, imported when first used
        return importlib.import_module(f"cnnlab.{name}")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    if name.isidentifier() and not name.startswith("__"):
        # a submodule, as `import cnnlab` made cnnlab.models.layers reachable when it was eager
        try:
            return importlib.import_module(f"cnnlab.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"cnnlab.{name}":
                raise  # a dependency the submodule needs is missing: say that one
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, "keras", "keras_tuner", "lesson"})


__all__ = [
    "CnnlabError",
    "DatasetError",
    "DatasetMeta",
    "analyze",
    "build",
    "conv_params",
    "dense_params",
    "evaluate",
    "fit",
    "predict",
    "format_summary",
    "load_model",
    "Layer",
    "ModelError",
    "ModelSpec",
    "__version__",
    "dataset_meta",
    "load_dataset",
]
