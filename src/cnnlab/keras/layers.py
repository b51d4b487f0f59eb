"""`keras.layers`: the layers cnnlab trains, called on symbolic tensors as in Keras.

Each class checks its arguments through `cnnlab.models.layers.make_layer` (the one
vocabulary of cnnlab) and takes Keras's automatic name when it is created, as Keras does.
Calling a layer on a `KerasTensor` gives the next tensor and its shape
(`cnnlab.models.shapes.analyze`); nothing is computed until a model trains.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnlab.keras import activations as _activations
from cnnlab.keras.backend import auto_name
from cnnlab.models.layers import LAYER_ARGS, ModelError, ModelSpec, make_layer, parse_shape
from cnnlab.models.shapes import analyze

SUPPORTED = (
    "Input, InputLayer, Conv2D, MaxPooling2D (MaxPool2D), AveragePooling2D (AvgPool2D), "
    "GlobalAveragePooling2D (GlobalAvgPool2D), GlobalMaxPooling2D (GlobalMaxPool2D), Flatten, "
    "Dense, Dropout, BatchNormalization, Activation, ReLU"
)

# Layer arguments readable as attributes, as Keras normalises them (tuples, activation functions).
_ARGUMENT_ATTRIBUTES = {"filters", "kernel_size", "strides", "padding", "use_bias", "units", "rate",
                        "pool_size", "activation"}

# Layers without weights: get_weights() is [] even before they belong to a model.
_WEIGHTLESS = {"MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
               "Flatten", "Dropout", "Activation", "ReLU"}


class Unsupported(ModelError, AttributeError):
    """A Keras name cnnlab.keras does not offer (an AttributeError, so hasattr still works)."""


# Keras arguments cnnlab has no use for, accepted only at their Keras default.
_AT_DEFAULT_ONLY: dict[str, Any] = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "kernel_constraint": None, "bias_constraint": None, "lora_rank": None, "lora_alpha": None,
    "quantization_config": None, "keepdims": False, "noise_shape": None, "max_value": None,
    "negative_slope": 0.0, "threshold": 0.0, "beta_initializer": "zeros",
    "gamma_initializer": "ones", "moving_mean_initializer": "zeros",
    "moving_variance_initializer": "ones", "beta_regularizer": None, "gamma_regularizer": None,
    "beta_constraint": None, "gamma_constraint": None, "renorm": False, "renorm_clipping": None,
    "renorm_momentum": 0.99, "synchronized": False, "autocast": True,
}


class KerasTensor:
    """A symbolic tensor: the shape (batch axis None) and the layer that made it."""

    def __init__(self, shape: tuple, layer, parent: KerasTensor | None):
        self.shape = tuple(shape)
        self.dtype = "float32"
        self.name = auto_name("KerasTensor")
        self._layer, self._parent = layer, parent

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        shape = "(" + ", ".join(str(d) for d in self.shape) + ("," if len(self.shape) == 1 else "") + ")"
        return f"<KerasTensor shape={shape}, dtype={self.dtype}, sparse=False, ragged=False, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise ModelError("a KerasTensor is symbolic and holds no values; use model.predict(x) for values")


class InputLayer:
    """The model input: `keras.Input(shape=(28, 28, 1))` returns its output tensor."""

    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, ragged=None,
                 batch_shape=None, input_tensor=None, optional=False, name=None, **kwargs):
        if "input_shape" in kwargs:  # Keras 2's spelling, which Keras 3 still takes
            shape = kwargs.pop("input_shape")
        if "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        if kwargs:
            raise ModelError(f"Input: unknown argument(s) {', '.join(map(repr, kwargs))}")
        if batch_shape is not None:
            if shape is not None:
                raise ModelError("Input: give shape= or batch_shape=, not both")
            batch_shape = tuple(batch_shape)
            batch_size, shape = batch_shape[0], batch_shape[1:]
        if shape is None:
            raise ModelError("Input needs a shape, e.g. keras.Input(shape=(28, 28, 1))")
        if not isinstance(shape, (tuple, list)):
            raise ModelError(f"Cannot convert {shape!r} to a shape: give a tuple, e.g. shape=({shape!r},)")
        if batch_size is not None and not (isinstance(batch_size, int) and batch_size > 0):
            raise ModelError(f"Input: batch_size={batch_size!r} should be a positive integer or None")
        if sparse or ragged or optional or input_tensor is not None:
            raise ModelError("Input: sparse, ragged, optional and tensor inputs are not supported")
        if dtype not in (None, "float32", "uint8"):
            raise ModelError(f"Input: dtype={dtype!r} is not supported; leave it out (float32)")
        if any(d is None for d in tuple(shape)):
            raise ModelError(
                f"Input(shape={tuple(shape)}): cnnlab needs every size known, e.g. (28, 28, 1)"
            )
        self.shape = parse_shape(tuple(shape), "Input shape")
        self.name = name or auto_name("InputLayer")
        self.batch_shape = (batch_size, *self.shape)  # a batch size shows in shapes only
        self.output = KerasTensor(self.batch_shape, self, None)

    def count_params(self) -> int:
        return 0

    def get_weights(self) -> list:
        return []

    def __repr__(self) -> str:
        return f"<InputLayer name={self.name}, built=True>"


def Input(shape=None, batch_size=None, dtype=None, sparse=None, ragged=None, batch_shape=None,
          name=None, tensor=None, optional=False) -> KerasTensor:
    """`keras.Input`: the symbolic input tensor of a functional model."""
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, ragged=ragged,
                       batch_shape=batch_shape, input_tensor=tensor, optional=optional, name=name)
    return layer.output


class Layer:
    """A Keras layer cnnlab supports; its subclasses below are the only ones that work."""

    _kind = ""
    _positional: tuple[str, ...] = ()
    _required: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        if type(self).__module__ != __name__ or not self._kind:
            raise ModelError(
                f"custom layers ({type(self).__name__}) are not supported by cnnlab.keras: it "
                f"trains the layers it knows, {SUPPORTED}"
            )
        if len(args) > len(self._positional):
            raise TypeError(f"{type(self).__name__} takes at most {len(self._positional)} positional arguments")
        values = dict(zip(self._positional, args))
        for key, value in kwargs.items():
            if key in values:
                raise TypeError(f"{type(self).__name__} got multiple values for argument {key!r}")
            values[key] = value
        missing = [key for key in self._required if key not in values]
        if missing:  # Keras 3's signature, which can differ from cnnlab's defaults
            raise TypeError(f"{type(self).__name__}.__init__() missing required argument {missing[0]!r}")
        self.name = values.pop("name", None) or auto_name(self._kind)
        if not isinstance(self.name, str):
            raise ModelError(f"{self._kind}: name={self.name!r} should be a string")
        self._input_shape_arg = _input_shape(values)
        self._spec = make_layer(self._kind, self._cnnlab_args(values))
        self._spec.name = self.name
        self.input = self.output = None
        self._report = None  # shapes and parameters once the layer knows its input
        self._model = None  # the model holding the layer; a layer belongs to one model

    def _cnnlab_args(self, values: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            if key in _AT_DEFAULT_ONLY and key not in LAYER_ARGS[self._kind]:
                if not _same(value, _AT_DEFAULT_ONLY[key]):
                    raise ModelError(
                        f"{self._kind}: {key}={value!r} is not supported by cnnlab.keras; "
                        f"remove it (Keras's default is {_AT_DEFAULT_ONLY[key]!r})"
                    )
                continue
            if key == "activation":
                value = _activations.name_of(value, self._kind)
            out[key] = value
        return out

    def __call__(self, inputs, *args, **kwargs) -> KerasTensor:
        if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
            inputs = inputs[0]
        if not isinstance(inputs, KerasTensor):
            raise ModelError(
                f"{self.name} ({self._kind}) was called on {type(inputs).__name__}: cnnlab.keras "
                "layers are called on keras.Input(...) tensors to build a model; for values, "
                "use model.predict(x)"
            )
        if args or set(kwargs) - {"training"}:
            raise ModelError(f"{self.name} ({self._kind}) takes one input tensor and nothing else")
        if self.output is not None:
            raise ModelError(
                f"layer {self.name!r} is already used once: a layer called twice shares its "
                "weights, which cnnlab.keras does not support; create a new layer instead"
            )
        self._set_input(inputs.shape[1:])
        self.input = inputs
        self.output = KerasTensor((inputs.shape[0], *self._report.output_shape), self, inputs)
        return self.output

    def _set_input(self, shape: tuple[int, ...]) -> None:
        """Work out this layer's output shape and parameters for an input of `shape`."""
        self._report = analyze(ModelSpec(self.name, [self._spec], tuple(shape), False)).layers[0]

    @property
    def built(self) -> bool:
        return self._report is not None

    def count_params(self) -> int:
        if self._report is None:
            raise ValueError(
                f"You tried to call `count_params` on layer '{self.name}', but the layer isn't "
                "built. You can build it manually via: `layer.build(input_shape)`."
            )
        return self._report.params

    def get_weights(self) -> list:
        """This layer's weights as numpy arrays in Keras's layout and order ([] when it has none)."""
        from cnnlab.keras.keras_format import keras_layout

        return [keras_layout(tensor) for _, tensor in self._tensors()]

    def set_weights(self, weights) -> None:
        """Replace this layer's weights with arrays in Keras's layout, each shape checked."""
        import torch

        from cnnlab.keras.keras_format import keras_layout, torch_layout

        targets, weights = self._tensors(), list(weights)
        if len(weights) != len(targets):
            raise ValueError(
                f"You called `set_weights(weights)` on layer '{self.name}' with a weight list of "
                f"length {len(weights)}, but the layer was expecting {len(targets)} weights."
            )
        values = [torch_layout(value) for value in weights]
        for (_, target), value, given in zip(targets, values, weights):
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(
                    f"Layer {self.name} weight shape {keras_layout(target).shape} is not "
                    f"compatible with provided weight shape {np.shape(given)}."
                )
        with torch.no_grad():
            for (_, target), value in zip(targets, values):
                target.copy_(value)

    def _tensors(self) -> list:
        """(name, tensor) of this layer's weights in its model's torch module."""
        if self._report is None or self._spec.kind in _WEIGHTLESS:
            return []  # Keras: a layer not yet built has no weights
        if self._model is None:
            raise ModelError(
                f"layer {self.name!r} holds no weights yet: cnnlab.keras makes them with the model; "
                "build a keras.Model (or Sequential) with this layer first"
            )
        net = self._model._ensure_net()
        prefix = f"blocks.{self._model._layers.index(self)}."
        return [(name, tensor) for name, tensor in net.state_dict(keep_vars=True).items()
                if name.startswith(prefix) and not name.endswith("num_batches_tracked")]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self._spec.args}

    def __getattr__(self, name: str):
        """Keras's attributes for the layer's arguments: conv.filters, dense.units, ..."""
        spec = self.__dict__.get("_spec")
        if spec is None or name not in _ARGUMENT_ATTRIBUTES or name not in spec.args:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = spec.args[name]
        return _activations.get(value) if name == "activation" else value

    @property
    def trainable(self) -> bool:
        return True  # cnnlab.keras trains every layer

    @trainable.setter
    def trainable(self, value) -> None:
        if value is not True:
            raise ModelError(f"{self.name}.trainable = {value!r}: freezing layers is not supported "
                             "by cnnlab.keras; every layer trains")

    def __repr__(self) -> str:
        return f"<{self._kind} name={self.name}, built={self.built}>"


def _input_shape(values: dict[str, Any]) -> tuple[int, ...] | None:
    """Keras 2's `input_shape=` / `input_dim=` on a layer: the input of a Sequential model."""
    shape = values.pop("input_shape", None)
    dim = values.pop("input_dim", None)
    if dim is not None:
        shape = (dim,)
    return parse_shape(tuple(shape) if isinstance(shape, list) else shape, "input_shape") if shape else None


def _same(value, default) -> bool:
    try:
        return bool(value == default) and type(value) is type(default) or value is default
    except Exception:  # an array compared with a default
        return False


def _layer(kind: str, positional: tuple[str, ...], required: tuple[str, ...] = ()) -> type[Layer]:
    attrs = {"_kind": kind, "_positional": positional, "_required": required, "__module__": __name__}
    cls = type(kind, (Layer,), attrs)
    cls.__doc__ = f"`keras.layers.{kind}`: positional arguments {', '.join(positional) or 'none'}."
    return cls


Conv2D = _layer("Conv2D", ("filters", "kernel_size", "strides", "padding", "data_format",
                           "dilation_rate", "groups", "activation", "use_bias", "kernel_initializer",
                           "bias_initializer"))
MaxPooling2D = _layer("MaxPooling2D", ("pool_size", "strides", "padding", "data_format"))
AveragePooling2D = _layer("AveragePooling2D", ("pool_size", "strides", "padding", "data_format"),
                          required=("pool_size",))
GlobalAveragePooling2D = _layer("GlobalAveragePooling2D", ("data_format", "keepdims"))
GlobalMaxPooling2D = _layer("GlobalMaxPooling2D", ("data_format", "keepdims"))
Flatten = _layer("Flatten", ("data_format",))
Dense = _layer("Dense", ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer"))
Dropout = _layer("Dropout", ("rate", "noise_shape", "seed"))
BatchNormalization = _layer("BatchNormalization", ("axis", "momentum", "epsilon", "center", "scale"))
Activation = _layer("Activation", ("activation",))
ReLU = _layer("ReLU", ("max_value", "negative_slope", "threshold"))

# Keras's aliases: the same classes under a second name
Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D


def __getattr__(name: str):
    if not name[:1].isupper():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise Unsupported(
        f"keras.layers.{name} is not supported by cnnlab.keras; it supports {SUPPORTED}"
    )
