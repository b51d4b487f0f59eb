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
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # found directly from now on
        return value
    from cnnlab.lazy import submodule  # cnnlab.keras, cnnlab.models.layers, ... when first named

    return submodule(__name__, name)


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
