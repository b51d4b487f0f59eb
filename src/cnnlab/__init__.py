"""cnnlab: small convolutional networks on image data, the Keras way.

Public API (explicit re-exports; torch is imported only when a function needs it).
"""

from cnnlab.errors import CnnlabError
from cnnlab.models.layers import Layer, ModelError, ModelSpec

__version__ = "0.1.0"

__all__ = [
    "CnnlabError",
    "Layer",
    "ModelError",
    "ModelSpec",
    "__version__",
]
