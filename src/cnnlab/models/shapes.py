"""Output shapes, parameter counts (with their formulas) and MACs, in pure Python.

Shapes are Keras's, without the batch axis: (H, W, C) for images, (units,) after
Flatten. Every number here is what `model.summary()` prints in Keras.
"""

from __future__ import annotations

import dataclasses
import math

from cnnlab.models.layers import Layer, ModelError, ModelSpec

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class LayerReport:
    layer: Layer
    input_shape: Shape
    output_shape: Shape
    trainable: int  # parameters updated by the optimizer
    non_trainable: int  # e.g. BatchNormalization's moving mean and variance
    formula: str  # how the parameter count comes about, e.g. "(3*3*3 + 1) * 32 = 896"
    macs: int  # multiply-accumulates for one example
    note: str = ""  # something the user should know about this layer

    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


@dataclasses.dataclass(frozen=True)
class ModelReport:
    spec: ModelSpec
    input_shape: Shape
    layers: list[LayerReport]

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def trainable(self) -> int:
        return sum(r.trainable for r in self.layers)

    @property
    def non_trainable(self) -> int:
        return sum(r.non_trainable for r in self.layers)

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    @property
    def macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def notes(self) -> list[str]:
        return [f"{r.layer.name} ({r.layer.kind}): {r.note}" for r in self.layers if r.note]


def fmt(n: int) -> str:
    return f"{n:,}"


def shape_text(shape: Shape) -> str:
    """Keras's way: (None, 30, 30, 32)."""
    return "(" + ", ".join(["None", *map(str, shape)]) + ")"


def window_output(size: int, window: int, stride: int, padding: str) -> int:
    """Output length of a conv/pool window along one axis (Keras's formula)."""
    if padding == "same":
        return math.ceil(size / stride)
    return (size - window) // stride + 1


def dense_params(inputs: int, units: int, use_bias: bool = True) -> tuple[int, str]:
    """Parameters of Dense(units) on `inputs` features, and the formula."""
    n = (inputs + use_bias) * units
    left = f"({inputs} + 1)" if use_bias else f"{inputs}"
    return n, f"{left} * {units} = {fmt(n)}"


def conv_params(
    kernel: tuple[int, int], channels: int, filters: int, use_bias: bool = True
) -> tuple[int, str]:
    """Parameters of Conv2D(filters, kernel) on `channels` input channels, and the formula."""
    kh, kw = kernel
    n = (kh * kw * channels + use_bias) * filters
    prod = f"{kh}*{kw}*{channels}"
    left = f"({prod} + 1)" if use_bias else prod
    return n, f"{left} * {filters} = {fmt(n)}"


def analyze(spec: ModelSpec, input_shape: Shape | None = None) -> ModelReport:
    """Walk the layers, computing each output shape, parameter count and MACs.

    Raises ModelError naming the layer when a shape does not work (Keras's
    "negative dimension" case and friends).
    """
    shape = tuple(input_shape or spec.input_shape or ())
    if not shape:
        hint = f" (the code says {spec.input_hint})" if spec.input_hint else ""
        error = ModelError(f"model {spec.name!r} has no known input shape{hint}; give the data's shape, "
                           "e.g. cnnlab.load_model(..., input_shape=(32, 32, 3))")
        error.cli_message = f"model {spec.name!r} has no known input shape{hint}; give --input-shape 32,32,3 or --dataset cifar10"
        raise error
    first = shape
    reports = []
    for layer in spec.layers:
        report = _analyze_layer(layer, shape)
        reports.append(report)
        shape = report.output_shape
    return ModelReport(spec=spec, input_shape=first, layers=reports)


def _analyze_layer(layer: Layer, shape: Shape) -> LayerReport:
    kind, a = layer.kind, layer.args

    def report(out: Shape, trainable=0, non_trainable=0, formula="0", macs=0, note=""):
        return LayerReport(layer, shape, tuple(out), trainable, non_trainable, formula, macs, note)

    if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
                "GlobalMaxPooling2D"):
        if len(shape) != 3:
            raise ModelError(
                f"{layer.where()} needs an image input (height, width, channels), "
                f"got {shape_text(shape)}; it must come before Flatten/Dense"
            )
    if kind == "Conv2D":
        h, w, c = shape
        window, stride = a["kernel_size"], a["strides"]
        out = _windowed(layer, (h, w), window, stride, a["padding"], "kernel") + (a["filters"],)
        n, formula = conv_params(window, c, a["filters"], a["use_bias"])
        macs = out[0] * out[1] * a["filters"] * window[0] * window[1] * c
        return report(out, n, 0, formula, macs)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        h, w, c = shape
        hw = _windowed(layer, (h, w), a["pool_size"], a["strides"], a["padding"], "pool")
        return report(hw + (c,))
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return report((shape[-1],))
    if kind == "Flatten":
        return report((math.prod(shape),))
    if kind == "Dense":
        units, inputs = a["units"], shape[-1]
        n, formula = dense_params(inputs, units, a["use_bias"])
        out = shape[:-1] + (units,)
        note = ""
        if len(shape) > 1:
            note = (
                f"gets a {len(shape) + 1}-D input {shape_text(shape)}; like Keras it acts on the "
                f"last axis only ({inputs} features per position). Put Flatten() before it "
                "to connect every value"
            )
        return report(out, n, 0, formula, math.prod(shape[:-1]) * inputs * units, note)
    if kind == "BatchNormalization":
        c = shape[-1]
        formula = f"4 * {c} = {fmt(4 * c)} ({fmt(2 * c)} non-trainable)"
        return report(shape, 2 * c, 2 * c, formula)
    # Dropout, Activation, ReLU: shape unchanged, no parameters
    return report(shape)


def _windowed(layer, hw, window, stride, padding, what) -> tuple[int, int]:
    out = []
    for size, k, s in zip(hw, window, stride):
        n = window_output(size, k, s, padding)
        if n < 1:
            raise ModelError(
                f"{layer.where()}: the {window[0]}x{window[1]} {what} is larger than its "
                f"{hw[0]}x{hw[1]} input (Keras: negative dimension size); use padding='same', "
                f"a smaller {what}, or fewer downsampling layers before it"
            )
        out.append(n)
    return tuple(out)
