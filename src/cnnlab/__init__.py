"""cnnlab: small convolutional networks on image data, the Keras way.

Public API (explicit re-exports; torch is imported only when a function needs it).
"""

from cnnlab.datasets import DatasetError, DatasetMeta, dataset_meta, load_dataset
from cnnlab.errors import CnnlabError
from cnnlab.models.layers import Layer, ModelError, ModelSpec
from cnnlab.models.shapes import analyze, conv_params, dense_params
from cnnlab.models.source import load_model
from cnnlab.models.summary import format_summary

__version__ = "0.1.0"

# Imported on first use, so that `import cnnlab` stays light (no torch).
_LAZY = {
    "build": "cnnlab.models.build",
    "fit": "cnnlab.train.loop",
    "evaluate": "cnnlab.train.loop",
    "predict": "cnnlab.train.loop",
}


def __getattr__(name: str):
    if name in ("keras", "keras_tuner", "lesson"):  # subpackages, imported when first used
        import importlib

        return importlib.import_module(f"cnnlab.{name}")
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")


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
