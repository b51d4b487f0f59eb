"""`from cnnlab import keras`: the part of Keras 3 that small-CNN lessons use, on cnnlab's engine.

Change `from tensorflow import keras` to `from cnnlab import keras` (and
`from tensorflow.keras.datasets import mnist` to `from cnnlab.keras.datasets import mnist`):
the models, summaries, parameter counts and training calls keep Keras's names, defaults and
results, and train on cnnlab's engine. Anything outside that subset is refused with a message
naming it (docs/keras.md lists both).
"""

from cnnlab.keras import (
    activations,
    backend,
    callbacks,
    datasets,
    layers,
    losses,
    models,
    optimizers,
    utils,
)
from cnnlab.keras.layers import Input, KerasTensor
from cnnlab.keras.model import Model, Sequential

__version__ = "3.0.0-cnnlab"


def __getattr__(name: str):
    from cnnlab.keras.layers import Unsupported

    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise Unsupported(
        f"keras.{name} is not supported by cnnlab.keras; it offers Input, Model, Sequential, "
        f"{', '.join(m for m in __all__ if m[0].islower())} (docs/keras.md lists what each holds)"
    )

__all__ = [
    "Input", "KerasTensor", "Model", "Sequential", "activations", "backend", "callbacks",
    "datasets", "layers", "losses", "models", "optimizers", "utils",
]
