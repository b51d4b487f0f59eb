"""`keras.models`: Keras's namespace for models and loading them (model.py, loading.py)."""

from cnnlab.keras.loading import load_model
from cnnlab.keras.model import Model, Sequential

__all__ = ["Model", "Sequential", "load_model"]
