"""One Keras layer call -> a checked `Layer`: Keras's positional order, aliases, Input shapes.

`LayerCalls` reads the arguments of `Conv2D(32, (3, 3), activation='relu')` and the
like through a `Names` (or any object with its `value` and `source_of`), so that a
value given through a variable is followed to its assignment. An argument that
cannot be worked out without running the code is refused with the line and an
example; `input_shape` / `keras.Input(shape=...)` that depend on the data leave a
hint for the caller (`--input-shape` or `--dataset` then gives the shape).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from cnnlab.models.keras_code.values import (
    Names,
    NotConstant,
    call_kind,
    dotted,
    has_none,
    node_line,
    node_pos,
    node_text,
)
from cnnlab.models.layers import (
    ACTIVATIONS,
    COMMON_ARGS,
    DEFAULT_ONLY_ARGS,
    LAYER_ARGS,
    Layer,
    ModelError,
    make_layer,
    parse_shape,
)

__all__ = ["ALIASES", "INPUTS", "POSITIONAL", "LayerCalls", "example"]

# Keras's other names for the same classes (the summary names them by class).
ALIASES = {
    "Convolution2D": "Conv2D",
    "MaxPool2D": "MaxPooling2D",
    "AvgPool2D": "AveragePooling2D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
}
# Keras's positional parameter order (keras 3 signatures); names cnnlab does not
# know are listed so that make_layer reports them as unknown arguments.
POSITIONAL = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format",
               "dilation_rate", "groups", "activation", "use_bias"),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "AveragePooling2D": ("pool_size", "strides", "padding", "data_format"),
    "GlobalAveragePooling2D": ("data_format", "keepdims"),
    "GlobalMaxPooling2D": ("data_format", "keepdims"),
    "Flatten": ("data_format",),
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer"),
    "Dropout": ("rate", "noise_shape", "seed"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Activation": ("activation",),
    "ReLU": ("max_value", "negative_slope", "threshold"),
}  # fmt: skip
INPUTS = ("Input", "InputLayer")
# Arguments Keras 3 requires where cnnlab's layer table has a default (MaxPooling2D's pool_size has one).
KERAS_REQUIRED = {"AveragePooling2D": ("pool_size",)}


class LayerCalls:
    """Layer calls read through `names`; `hint` holds the text of an input shape left to the data."""

    def __init__(self, names: Names):
        self.names = names
        self.hint: str | None = None

    def layer(self, call: ast.expr, first: bool) -> Layer:
        """One layer call -> a checked `Layer`; the first may declare `input_shape=`."""
        line = node_line(call)
        at = f"line {line}: " if line else ""
        if not isinstance(call, ast.Call):
            raise ModelError(f"{at}expected a layer call like Conv2D(32, (3, 3)), not {node_text(call)!r}")
        kind = call_kind(call) or node_text(call.func)
        kind = ALIASES.get(kind, kind)
        if kind not in LAYER_ARGS:
            make_layer(kind, {}, line)  # raises: unknown layer (or Input in the wrong place)
        names = POSITIONAL.get(kind, ())
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            raise ModelError(f"{at}{kind}: cannot read *args or **kwargs; write the arguments out")
        if len(call.args) > len(names):
            raise ModelError(
                f"{at}{kind}: too many positional arguments ({len(call.args)}); "
                f"{kind} takes {', '.join(names) or 'none'} in that order, others by name"
            )
        given: list[tuple[str, ast.expr]] = list(zip(names, call.args))
        given += [(k.arg, k.value) for k in call.keywords if k.arg]
        for key in KERAS_REQUIRED.get(kind, ()):
            if key not in dict(given):
                raise ModelError(f"{at}{kind}: missing required argument {key!r} (Keras 3 has no default for it); "
                                 f"write it, e.g. {kind}({example(key).split('=')[1]})")
        args: dict[str, Any] = {}
        for key, node in given:
            if key == "batch_input_shape":  # Keras 2: input_shape with the batch size first
                key = "input_shape"
                node = ast.copy_location(ast.Subscript(node, ast.Slice(ast.Constant(1)), ast.Load()), node)
            if key in args:
                raise ModelError(f"{at}{kind}: {key} is given twice")
            passed_on = key in COMMON_ARGS or key in DEFAULT_ONLY_ARGS or (kind, key) == ("Dropout", "seed")
            if key not in LAYER_ARGS[kind] and not passed_on:
                make_layer(kind, {key: None}, line)  # raises: unknown argument, naming the known ones
            try:
                args[key] = self.argument(key, node, node_pos(node))
            except NotConstant:
                if key == "input_shape" and first:
                    self.hint = self.names.source_of(node, node_pos(node))
                    continue
                if key == "activation" and not isinstance(node, ast.Name):
                    make_layer(kind, {key: node_text(node)}, line)  # raises: should be one of ...
                shown = node_text(node)
                origin = self.names.source_of(node, node_pos(node))
                if isinstance(node, ast.Name) and origin != shown:
                    shown += f" (from {shown} = {origin})"
                raise ModelError(
                    f"{at}{kind}: {key}={shown} is not a value cnnlab can work out without "
                    "running the code; write the value itself, e.g. " + example(key)
                ) from None
            if key == "input_shape":
                bare_number(args[key], f"{at}{kind}: input_shape")
            if key == "input_shape" and first and has_none(args[key]):
                self.hint = node_text(node)
                del args[key]
        return make_layer(kind, args, line)

    def argument(self, key: str, node: ast.expr, at: tuple[int, int]) -> Any:
        try:
            return self.names.value(node, at)
        except NotConstant:
            last = (dotted(node) or "").split(".")[-1]
            if key == "activation" and last.lower() in (*ACTIVATIONS, "linear"):
                return last.lower()  # activation=tf.nn.relu, keras.activations.softmax
            raise

    def input_shape(self, call: ast.Call) -> tuple[int, ...] | None:
        """keras.Input(shape=...) / InputLayer(input_shape=...) -> shape, or note a hint."""
        line = node_line(call)
        keys = {k.arg: k.value for k in call.keywords if k.arg}
        node = call.args[0] if call.args else None
        batch, given = False, "shape"
        for key in ("shape", "input_shape", "batch_shape", "batch_input_shape"):
            if node is None and key in keys:
                node, batch, given = keys[key], key.startswith("batch"), key
        if node is None:
            raise ModelError(f"line {line}: {call_kind(call)} needs a shape, e.g. keras.Input(shape=(32, 32, 3))")
        try:
            value = self.names.value(node, node_pos(node))
        except NotConstant:
            self.hint = self.names.source_of(node, node_pos(node)) + ("[1:]" if batch else "")
            if not batch and re.fullmatch(r".*\.shape\[\s*-?\d+\s*\]", self.hint):  # one size of the data
                written = node_text(node)
                bare_number(4, f"line {line}: {call_kind(call)}: {given}", written if written == self.hint
                            else f"{written} (= {self.hint})")
            return None
        bare_number(value, f"line {line}: {call_kind(call)}: {given}")
        if batch and isinstance(value, (tuple, list)):
            value = value[1:]
        if has_none(value):
            self.hint = node_text(node)
            return None
        return parse_shape(value, f"line {line}: {call_kind(call)} shape")

    # -- layer files


def bare_number(value: Any, where: str, text: str | None = None) -> None:
    """Keras 3 refuses `shape=89` ("Cannot convert '89' to a shape."): a shape is a tuple. `text`:
    the code of one size only the data gives (`X_train.shape[1]`), refused the same way."""
    if not isinstance(value, int) or isinstance(value, bool):
        return
    name = where.rsplit(": ", 1)[-1]
    shown = text or str(value)
    written = shown.split(" (= ")[0]
    fix = f"(None, {written})" if name.startswith("batch") else f"({written},)"
    keras_says = f"\"Cannot convert '{value}' to a shape.\"" + (" for a size of 4" if text else "")
    raise ModelError(f"{where}={shown} is a number, not a shape, and Keras refuses it ({keras_says}); write {name}={fix}")


def example(key: str) -> str:
    return {
        "filters": "filters=32", "units": "units=10", "kernel_size": "kernel_size=(3, 3)",
        "pool_size": "pool_size=(2, 2)", "strides": "strides=(1, 1)", "padding": "padding='same'",
        "activation": "activation='relu'", "use_bias": "use_bias=False", "rate": "rate=0.5",
        "input_shape": "input_shape=(32, 32, 3)", "name": "name='conv_a'",
    }.get(key, f"{key}=...")  # fmt: skip

