"""Layer and model specs in the Keras vocabulary: plain data, no torch.

A `Layer` is a Keras layer class name plus its arguments, normalised to Keras's
canonical forms (kernel_size=(3, 3), strides=(1, 1), padding="valid", ...), with
every default filled in. `make_layer` is the one door into that world: it checks
names, types and values and raises `ModelError` naming the layer (and the source
line, when there is one) on anything Keras would reject.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from cnnlab.errors import CnnlabError


class ModelError(CnnlabError, ValueError):
    """A model description that cannot be used; the message says what and where."""


ACTIVATIONS = ("relu", "sigmoid", "tanh", "softmax", "linear")
PADDINGS = ("valid", "same")
REQUIRED = object()  # marks an argument without a default

# Keras class name -> {argument: default}. Order is Keras's positional order.
LAYER_ARGS: dict[str, dict[str, Any]] = {
    "Conv2D": {
        "filters": REQUIRED,
        "kernel_size": REQUIRED,
        "strides": (1, 1),
        "padding": "valid",
        "activation": None,
        "use_bias": True,
    },
    "MaxPooling2D": {"pool_size": (2, 2), "strides": None, "padding": "valid"},
    "AveragePooling2D": {"pool_size": (2, 2), "strides": None, "padding": "valid"},
    "GlobalAveragePooling2D": {},
    "GlobalMaxPooling2D": {},
    "Flatten": {},
    "Dense": {"units": REQUIRED, "activation": None, "use_bias": True},
    "Dropout": {"rate": REQUIRED},
    "BatchNormalization": {"momentum": 0.99, "epsilon": 0.001},
    "Activation": {"activation": REQUIRED},
    "ReLU": {},
}
# Accepted on every layer (as Keras does); `input_shape` on the first layer of a
# Sequential model declares the model input, the old Keras 2 way.
COMMON_ARGS = ("name", "input_shape")
# Arguments pasted code often spells out at their Keras default: accepted when they hold
# that default (cnnlab does exactly that), refused with a clear message otherwise.
DEFAULT_ONLY_ARGS: dict[str, tuple] = {
    "data_format": ("channels_last", None),
    "kernel_initializer": ("glorot_uniform",),
    "bias_initializer": ("zeros",),
    "dilation_rate": (1, (1, 1), [1, 1]),
    "groups": (1,),
    "axis": (-1, 3),
    "trainable": (True,),
    "dtype": (None, "float32"),
    "center": (True,),
    "scale": (True,),
}

def default_base_name(kind: str) -> str:
    """Keras's snake_case of the class name: MaxPooling2D -> max_pooling2d, ReLU -> re_lu."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", kind)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


@dataclasses.dataclass
class Layer:
    """One Keras layer call: class name, canonical arguments, Keras default name."""

    kind: str  # Keras class name, e.g. "Conv2D"
    args: dict[str, Any]  # canonical Keras arguments, defaults filled in
    name: str = ""  # Keras default name (conv2d, conv2d_1, ...) unless given
    line: int | None = None  # source line, for messages

    def where(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        return f"{at}{self.name or default_base_name(self.kind)} ({self.kind})"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, **_jsonable(self.args)}


@dataclasses.dataclass
class ModelSpec:
    """A model as Keras would build it: its name, layers and (H, W, C) input shape."""

    name: str
    layers: list[Layer]
    input_shape: tuple[int, ...] | None = None  # (H, W, C), channels_last; None: from data
    functional: bool = True  # keras.Model(...) style: the summary lists the InputLayer
    # Source text of an input shape the parser could not evaluate (`x_train.shape[1:]`):
    # the caller fills the shape from --input-shape / --dataset or reports this text.
    input_hint: str | None = None
    input_name: str = "input_layer"  # the InputLayer's name (a functional summary's first row)

    def with_input_shape(self, shape: tuple[int, ...]) -> ModelSpec:
        return dataclasses.replace(self, input_shape=tuple(shape))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "functional": self.functional,
            "layers": [layer.to_dict() for layer in self.layers],
            **({"input_name": self.input_name} if self.input_name != "input_layer" else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Inverse of `to_dict`; also the TOML/JSON model format."""
        if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
            raise ModelError("a model file needs a 'layers' list, e.g. [[layers]] kind = 'Dense'")
        layers = []
        for i, item in enumerate(data["layers"], start=1):
            if not isinstance(item, dict) or "kind" not in item:
                raise ModelError(f"layer {i}: needs a 'kind', e.g. kind = 'Conv2D'")
            args = {k: v for k, v in item.items() if k != "kind"}
            layers.append(make_layer(str(item["kind"]), args))
        shape = data.get("input_shape")
        return new_spec(
            name=str(data.get("name") or "sequential"),
            layers=layers,
            input_shape=parse_shape(shape, "input_shape") if shape else None,
            functional=bool(data.get("functional", True)),
            input_name=str(data.get("input_name") or "input_layer"),
        )


def _jsonable(args: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}


def parse_shape(value: Any, what: str = "shape") -> tuple[int, ...]:
    """`32,32,3`, `32x32x3`, `(32, 32, 3)` or `[28, 28]` -> a tuple of positive ints."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[,x×\s()\[\]]+", value.strip()) if p]
        try:
            value = [int(p) for p in parts]
        except ValueError:
            raise ModelError(f"{what} {value!r} is not a shape; write it like 32,32,3") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or not value:
        raise ModelError(f"{what} {value!r} is not a shape; write it like 32,32,3")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise ModelError(f"{what} {tuple(value)!r} must hold positive integers, like (32, 32, 3)")
    return tuple(value)


def make_layer(kind: str, args: dict[str, Any], line: int | None = None) -> Layer:
    """Check and normalise one Keras layer call (`Conv2D(32, (3, 3), ...)` as kind + args)."""
    at = f"line {line}: " if line else ""
    if kind == "Input" or kind == "InputLayer":
        raise ModelError(f"{at}Input is the model input, not a layer; give its shape instead")
    if kind not in LAYER_ARGS:
        known = ", ".join(LAYER_ARGS)
        raise ModelError(f"{at}unknown layer {kind!r}; cnnlab knows {known}")
    where = f"{at}{kind}"
    allowed = LAYER_ARGS[kind]
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key in DEFAULT_ONLY_ARGS and key not in allowed:
            if value not in DEFAULT_ONLY_ARGS[key]:
                raise ModelError(
                    f"{where}: {key}={value!r} is not supported; cnnlab supports only "
                    f"{key}={DEFAULT_ONLY_ARGS[key][0]!r} (Keras's default), so remove the argument"
                )
            continue
        if key == "seed" and kind == "Dropout":
            continue  # cnnlab seeds every run; a per-layer dropout seed is not needed
        if key not in allowed and key not in COMMON_ARGS:
            names = ", ".join([*allowed, *COMMON_ARGS])
            raise ModelError(f"{where}: unknown argument {key!r}; {kind} takes {names}")
        out[key] = _check_arg(where, key, value)
    for key, default in allowed.items():
        if key not in out:
            if default is REQUIRED:
                raise ModelError(f"{where}: missing required argument {key!r}")
            out[key] = default
    if kind in ("MaxPooling2D", "AveragePooling2D") and out["strides"] is None:
        out["strides"] = out["pool_size"]
    name = out.pop("name", None) or ""
    return Layer(kind=kind, args=out, name=name, line=line)


def _check_arg(where: str, key: str, value: Any) -> Any:
    def fail(expected: str) -> ModelError:
        return ModelError(f"{where}: {key}={value!r} should be {expected}")

    if key in ("filters", "units"):
        if not _is_int(value) or value < 1:
            raise fail("a positive integer")
        return value
    if key in ("kernel_size", "pool_size", "strides"):
        if value is None and key == "strides":
            return None
        pair = (value, value) if _is_int(value) else value
        if isinstance(pair, list):
            pair = tuple(pair)
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(_is_int(v) and v > 0 for v in pair)):
            raise fail("a positive integer or a pair like (3, 3)")
        return pair
    if key == "padding":
        if not isinstance(value, str) or value.lower() not in PADDINGS:
            raise fail("'valid' or 'same'")
        return value.lower()
    if key == "activation":
        if value is None or value == "linear":
            return None  # Keras's linear activation: nothing applied
        if not isinstance(value, str) or value.lower() not in ACTIVATIONS:
            raise fail("one of " + ", ".join(repr(a) for a in ACTIVATIONS) + " or None")
        return value.lower()
    if key == "use_bias":
        if not isinstance(value, bool):
            raise fail("True or False")
        return value
    if key == "rate":
        if not _is_number(value) or not 0 <= value < 1:
            raise fail("a number in [0, 1)")
        return float(value)
    if key == "momentum":
        if not _is_number(value) or not 0 <= value <= 1:  # also refuses nan
            raise fail("a number in [0, 1]")
        return float(value)
    if key == "epsilon":
        if not _is_number(value) or not 0 <= value < float("inf"):  # also refuses nan
            raise fail("a finite non-negative number")
        return float(value)
    if key == "name":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-/]*", value):
            raise fail("a name like 'conv_a'")
        return value
    if key == "input_shape":
        return parse_shape(value, f"{where}: input_shape")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def new_spec(
    name: str,
    layers: list[Layer],
    input_shape: tuple[int, ...] | None = None,
    functional: bool = True,
    input_hint: str | None = None,
    input_name: str = "input_layer",
) -> ModelSpec:
    """Assemble a model: take a first layer's `input_shape=` as the model input, name layers."""
    if not layers:
        raise ModelError("the model has no layers; add at least one, e.g. Dense(10)")
    for i, layer in enumerate(layers):
        declared = layer.args.pop("input_shape", None)
        if declared is None:
            continue
        if i > 0:
            raise ModelError(f"{layer.where()}: input_shape is only allowed on the first layer")
        if input_shape is not None and tuple(declared) != tuple(input_shape):
            raise ModelError(
                f"{layer.where()}: input_shape={declared} disagrees with the model input {input_shape}"
            )
        input_shape = tuple(declared)
    spec = ModelSpec(
        name=name,
        layers=layers,
        input_shape=input_shape,
        functional=functional,
        input_hint=None if input_shape else input_hint,
        input_name=input_name,
    )
    return assign_names(spec)


def assign_names(spec: ModelSpec) -> ModelSpec:
    """Give unnamed layers Keras's default names: conv2d, conv2d_1, max_pooling2d, ...

    Keras counts per base name within a fresh session; names given by the user are
    kept and reserved. A duplicate user-given name is an error, as in Keras.
    """
    taken = {layer.name for layer in spec.layers if layer.name}
    seen: set[str] = set()
    for layer in spec.layers:
        if layer.name:
            if layer.name in seen:
                raise ModelError(f"{layer.where()}: the name {layer.name!r} is used twice")
            seen.add(layer.name)
    counters: dict[str, int] = {}
    for layer in spec.layers:
        if layer.name:
            continue
        base = default_base_name(layer.kind)
        while True:
            n = counters.get(base, 0)
            counters[base] = n + 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in taken:
                break
        layer.name = candidate
        taken.add(candidate)
    return spec
