"""`keras.Model` (functional) and `keras.Sequential`: a chain of layers as a cnnlab ModelSpec.

A model is one input, then layers each taking the previous one's output, then one output:
the models of small-CNN lessons. Building follows Keras's steps, so automatic names come
out as Keras gives them: a Sequential model with a known input builds an inner functional
model each time it changes (one `functional` name each), and a first layer's `input_shape=`
makes an `input_layer`. Training, evaluation and saving live in `training.py`.
"""

from __future__ import annotations

import io
from typing import Any

from cnnlab.keras.backend import auto_name
from cnnlab.keras.layers import InputLayer, KerasTensor, Layer
from cnnlab.keras.summary_text import unbuilt_summary, with_batch_size
from cnnlab.keras.training import TrainingMixin
from cnnlab.models.layers import Layer as LayerSpec
from cnnlab.models.layers import ModelError, ModelSpec
from cnnlab.models.shapes import ModelReport, analyze
from cnnlab.models.summary import format_summary


class Model(TrainingMixin):
    """`keras.Model(inputs=, outputs=, name=)`: a functional model over a chain of layers."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if type(self) not in (Model, Sequential):
            raise ModelError(
                f"subclassed models ({type(self).__name__}(keras.Model) with a call method) are not "
                "supported by cnnlab.keras; build the model with keras.Input and layers, or keras.Sequential"
            )
        if kwargs or trainable is not True:
            raise ModelError(f"keras.Model: unsupported argument(s) {', '.join(kwargs) or 'trainable'}")
        if inputs is None or outputs is None:
            raise ModelError("keras.Model needs inputs= and outputs=, e.g. keras.Model(inputs=inputs, outputs=x)")
        start, end = _one(inputs, "inputs"), _one(outputs, "outputs")
        self.name = name or auto_name("Functional")
        self._input_layer = _input_layer_of(start)
        self._layers = _chain(start, end)
        _check_unique_names([self._input_layer, *self._layers])
        for layer in self._layers:
            owner = layer._model
            if owner is not None and owner is not self and owner._has_weights():
                raise ModelError(
                    f"layer {layer.name!r} belongs to model {owner.name!r}, which has weights: a "
                    "layer in two models shares its weights, which cnnlab.keras does not support"
                )
            layer._model = self
        self._listed_input = True  # the summary and `layers` show the InputLayer
        self._init_training()

    # --- structure ----------------------------------------------------------------
    @property
    def layers(self) -> list:
        return ([self._input_layer] if self._listed_input else []) + list(self._layers)

    @property
    def built(self) -> bool:
        return self._input_layer is not None and all(layer.built for layer in self._layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        self._require_built("inputs")
        return [self._input_layer.output]

    @property
    def outputs(self) -> list[KerasTensor]:
        self._require_built("outputs")
        return [self._layers[-1].output if self._layers else self._input_layer.output]

    @property
    def input(self) -> KerasTensor:
        return self.inputs[0]

    @property
    def output(self) -> KerasTensor:
        return self.outputs[0]

    @property
    def input_shape(self) -> tuple:
        return self.input.shape

    @property
    def output_shape(self) -> tuple:
        return self.output.shape

    def get_layer(self, name: str | None = None, index: int | None = None):
        """A layer by name or by index (into `layers`), as Keras's `get_layer`."""
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index. Received: both.")
        if index is not None:
            if len(self.layers) <= index:
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        if name is not None:
            for layer in [self._input_layer, *self._layers]:
                if layer is not None and layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def spec(self) -> ModelSpec:
        """The model as cnnlab's ModelSpec (layer names as Keras gave them)."""
        self._require_built("spec")
        layers = [LayerSpec(layer._kind, dict(layer._spec.args), layer.name) for layer in self._layers]
        if not layers:
            raise ModelError(f"model {self.name!r} has no layers; add at least one, e.g. Dense(10)")
        return ModelSpec(self.name, layers, self._input_layer.shape, self._listed_input)

    def report(self) -> ModelReport:
        return analyze(self.spec())

    def count_params(self) -> int:
        self._require_built("count_params")
        return self.report().total

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Keras's summary text, printed to stdout (or handed to `print_fn` in one call)."""
        if positions is not None or expand_nested or show_trainable or layer_range is not None:
            raise ModelError(
                "summary(): positions, expand_nested, show_trainable and layer_range are not "
                "supported by cnnlab.keras; line_length and print_fn are"
            )
        if not self.built:
            text = unbuilt_summary(self.name, [(la.name, la._kind) for la in self._layers], line_length)
            (print_fn or _write_stdout)(text)
            return
        text = format_summary(
            self.report(), line_length=line_length, notes=False, input_name=self._input_layer.name,
            optimizer_params=self._optimizer_params(),
        )
        if self._input_layer.batch_shape[0] is not None:
            text = with_batch_size(text, self._input_layer.batch_shape[0])
        if print_fn is not None:
            print_fn(text)
        else:
            _write_stdout(text)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"model {self.name!r} has not been built yet, so {what} is unknown: give it an "
                "Input or call fit first"
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class Sequential(Model):
    """`keras.Sequential([...], name=)` and `model.add(layer)`."""

    def __init__(self, layers=None, trainable=True, name=None):
        if trainable is not True:
            raise ModelError("keras.Sequential: trainable=False is not supported")
        self.name = name or auto_name("Sequential")
        self._input_layer: InputLayer | None = None
        self._layers: list[Layer] = []
        self._listed_input = False
        self._init_training()
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._layers:
            self._maybe_rebuild()

    def add(self, layer, rebuild: bool = True) -> None:
        if self._has_weights():
            raise ModelError(
                f"model {self.name!r} already has trained or initialised weights; add every layer "
                "before the first fit, evaluate, predict or save"
            )
        if self._input_layer is None and not self._layers and getattr(layer, "_input_shape_arg", None):
            self.add(InputLayer(shape=layer._input_shape_arg), rebuild=False)
        if isinstance(layer, KerasTensor) and isinstance(layer._layer, InputLayer):
            layer = layer._layer
        if isinstance(layer, Model):
            raise ModelError("a model inside a model is not supported by cnnlab.keras; add its layers instead")
        if not isinstance(layer, (Layer, InputLayer)):
            raise ValueError(
                "Only instances of `keras.Layer` can be added to a Sequential model. "
                f"Received: {layer} (of type {type(layer)})"
            )
        if layer.name in {item.name for item in [self._input_layer, *self._layers] if item is not None}:
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f"'{layer.name}' is already the name of a layer in this model. Update the `name` "
                "argument to pass a unique name."
            )
        if isinstance(layer, InputLayer):
            if self._input_layer is not None:
                raise ValueError(
                    f"Sequential model '{self.name}' has already been configured to use input shape "
                    f"{self._input_layer.batch_shape}. You cannot add a different Input layer to it."
                )
            if self._layers:
                raise ModelError("an Input can only be the first layer of a Sequential model")
            self._input_layer = layer
        else:
            if layer._model is not None and layer._model is not self:
                raise ModelError(
                    f"layer {layer.name!r} already belongs to model {layer._model.name!r}; a layer in "
                    "two models shares its weights, which cnnlab.keras does not support"
                )
            layer._model = self
            self._layers.append(layer)
        if rebuild:
            self._maybe_rebuild()

    def pop(self, rebuild: bool = True):
        if self._has_weights():
            raise ModelError(f"model {self.name!r} already has weights; pop layers before training")
        layer = self._layers.pop()
        layer._model = None
        if rebuild and self._layers:
            self._maybe_rebuild()
        return layer

    def _maybe_rebuild(self) -> None:
        if self._input_layer is not None and self._layers:
            self.build(self._input_layer.batch_shape)

    def build(self, input_shape=None) -> None:
        """Give the layers their shapes for an input of `input_shape` (batch axis first)."""
        batch, shape = tuple(input_shape)[0], tuple(input_shape)[1:]
        if self._input_layer is None:
            self._input_layer = InputLayer(shape=shape, batch_size=batch)
        elif tuple(self._input_layer.shape) != shape:
            raise ValueError(
                f"Sequential model '{self.name}' has already been configured to use input shape "
                f"{self._input_layer.batch_shape}. You cannot build it with input_shape {tuple(input_shape)}"
            )
        tensor = self._input_layer.output
        for layer in self._layers:
            layer._set_input(tensor.shape[1:])
            layer.input = tensor
            layer.output = tensor = KerasTensor((tensor.shape[0], *layer._report.output_shape), layer, tensor)
        auto_name("Functional")  # Keras builds an inner functional model here, which takes a name


def _one(value, what: str) -> KerasTensor:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ModelError(
                f"keras.Model with {len(value)} {what} is not supported by cnnlab.keras: it trains "
                "models with one input and one output"
            )
        value = value[0]
    if not isinstance(value, KerasTensor):
        raise ModelError(f"keras.Model {what}= should be a tensor from keras.Input or a layer, not {type(value).__name__}")
    return value


def _input_layer_of(tensor: KerasTensor) -> InputLayer:
    if not isinstance(tensor._layer, InputLayer):
        raise ModelError(
            "keras.Model inputs= should be the tensor keras.Input(...) returned, not a layer's output"
        )
    return tensor._layer


def _chain(start: KerasTensor, end: KerasTensor) -> list[Layer]:
    """The layers from `start` to `end`, in order; refused when `end` does not come from `start`."""
    layers = []
    tensor = end
    while tensor is not start:
        if tensor._parent is None:
            raise ValueError(
                "The outputs of this model are not connected to its inputs: the output comes from "
                f"input {tensor._layer.name!r}, the model's input is {start._layer.name!r}"
            )
        layers.append(tensor._layer)
        tensor = tensor._parent
    return layers[::-1]


def _check_unique_names(layers: list[Any]) -> None:
    seen: set[str] = set()
    for layer in layers:
        if layer.name in seen:
            raise ValueError(
                f"The name \"{layer.name}\" is used 2 times in the model. All operation names should be unique."
            )
        seen.add(layer.name)


def _write_stdout(text: str) -> None:
    import sys

    stream = sys.stdout if sys.stdout is not None else io.StringIO()
    stream.write(text)
    stream.flush()
