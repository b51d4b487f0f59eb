"""A cnnlab.keras model as Keras 3 serializes it: the config.json of a `.keras` file.

`model_config` writes what `keras.saving.serialize_keras_object(model)` writes for the layers
cnnlab supports (each layer's get_config() keys, in Keras's order, with Keras's defaults), so
real Keras rebuilds the same model; keras_rebuild.py reads such a config back.
"""

from __future__ import annotations

from typing import Any

from cnnlab.keras.backend import to_snake_case
from cnnlab.models.layers import ModelError

_DTYPE = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
          "registered_name": None}
_INITIALIZER_CONFIG = {"GlorotUniform": {"seed": None, "input_axes": None, "output_axes": None},
                       "Zeros": {}, "Ones": {}}
_NO_REGULARIZERS = {"kernel_regularizer": None, "bias_regularizer": None}
_NO_CONSTRAINTS = {"kernel_constraint": None, "bias_constraint": None}


class KerasFileError(ModelError):
    """A `.keras` file cnnlab refuses to read: unsafe, damaged, or beyond its layers."""


def _initializer(class_name: str) -> dict[str, Any]:
    return {"module": "keras.initializers", "class_name": class_name,
            "config": dict(_INITIALIZER_CONFIG[class_name]), "registered_name": None}


def _activation(name: str | None) -> str:
    return "linear" if name is None else name


def _layer_args(kind: str, a: dict[str, Any]) -> dict[str, Any]:
    """Keras 3's get_config() keys, in its order, for one of cnnlab's layers."""
    if kind == "Conv2D":
        return {"filters": a["filters"], "kernel_size": list(a["kernel_size"]),
                "strides": list(a["strides"]), "padding": a["padding"],
                "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
                "activation": _activation(a["activation"]), "use_bias": a["use_bias"],
                "kernel_initializer": _initializer("GlorotUniform"),
                "bias_initializer": _initializer("Zeros"), **_NO_REGULARIZERS,
                "activity_regularizer": None, **_NO_CONSTRAINTS}
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return {"pool_size": list(a["pool_size"]), "padding": a["padding"],
                "strides": list(a["strides"]), "data_format": "channels_last"}
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return {"data_format": "channels_last", "keepdims": False}
    if kind == "Flatten":
        return {"data_format": "channels_last"}
    if kind == "Dense":
        return {"units": a["units"], "activation": _activation(a["activation"]),
                "use_bias": a["use_bias"], "kernel_initializer": _initializer("GlorotUniform"),
                "bias_initializer": _initializer("Zeros"), **_NO_REGULARIZERS,
                **_NO_CONSTRAINTS, "quantization_config": None}
    if kind == "Dropout":
        return {"rate": a["rate"], "seed": None, "noise_shape": None}
    if kind == "BatchNormalization":
        return {"axis": -1, "momentum": a["momentum"], "epsilon": a["epsilon"], "center": True,
                "scale": True, "beta_initializer": _initializer("Zeros"),
                "gamma_initializer": _initializer("Ones"),
                "moving_mean_initializer": _initializer("Zeros"),
                "moving_variance_initializer": _initializer("Ones"), "beta_regularizer": None,
                "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None,
                "synchronized": False, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": 0.99}
    if kind == "Activation":
        return {"activation": _activation(a["activation"])}
    if kind == "ReLU":
        return {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}
    raise AssertionError(f"no Keras config for {kind}")


def _tensor(shape: tuple, source: str) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(shape), "dtype": "float32", "keras_history": [source, 0, 0]}}


def model_config(model) -> dict[str, Any]:
    """`serialize_keras_object(model)` for a built cnnlab.keras model, compile settings included."""
    spec = model.spec()  # also refuses an unbuilt or empty model
    first = model._input_layer
    input_entry = {"module": "keras.layers", "class_name": "InputLayer",
                   "config": {"batch_shape": list(first.batch_shape), "dtype": "float32",
                              "sparse": False, "ragged": False, "name": first.name,
                              "optional": False},
                   "registered_name": None}
    sequential = not model._listed_input  # a Sequential model does not list its InputLayer
    entries = [input_entry if sequential else {**input_entry, "name": first.name, "inbound_nodes": []}]
    previous = first
    for layer, layer_spec in zip(model._layers, spec.layers):
        in_shape = previous.output.shape
        entry = {"module": "keras.layers", "class_name": layer._kind,
                 "config": {"name": layer.name, "trainable": True, "dtype": dict(_DTYPE),
                            **_layer_args(layer._kind, layer_spec.args)},
                 "registered_name": None, "build_config": {"input_shape": list(in_shape)}}
        if not sequential:
            entry["name"] = layer.name
            entry["inbound_nodes"] = [{"args": [_tensor(in_shape, previous.name)], "kwargs": {}}]
        entries.append(entry)
        previous = layer
    if sequential:
        return {"module": "keras", "class_name": "Sequential",
                "config": {"name": model.name, "trainable": True, "dtype": dict(_DTYPE),
                           "layers": entries, "build_input_shape": list(first.batch_shape)},
                "registered_name": None, "build_config": {"input_shape": list(first.batch_shape)},
                "compile_config": compile_config(model)}
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": model.name, "trainable": True, "layers": entries,
                       "input_layers": [first.name, 0, 0], "output_layers": [previous.name, 0, 0]},
            "registered_name": "Functional", "build_config": {"input_shape": None},
            "compile_config": compile_config(model)}


def compile_config(model) -> dict[str, Any] | None:
    """Keras's compile_config: the optimizer and loss serialized, metrics by name."""
    if not model.compiled:
        return None
    optimizer = model.optimizer
    name = type(optimizer).__name__
    fixed = {key: value for key, value in type(optimizer)._fixed.items()}
    return {
        "optimizer": {"module": "keras.optimizers", "class_name": name,
                      "config": {"name": optimizer.name, "learning_rate": optimizer.learning_rate,
                                 "weight_decay": None, "clipnorm": None, "global_clipnorm": None,
                                 "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                                 "ema_overwrite_frequency": None, "loss_scale_factor": None,
                                 "gradient_accumulation_steps": None, **fixed},
                      "registered_name": None},
        "loss": {"module": "keras.losses", "class_name": type(model.loss).__name__,
                 "config": model.loss.get_config(), "registered_name": None},
        "loss_weights": None, "metrics": list(model._metrics) or None, "weighted_metrics": None,
        "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
    }


def weights_group_names(model) -> list[tuple[Any, str]]:
    """(layer, h5 group) in Keras's order: `layers/<snake_case class>[_n]`, as Keras names them
    by position (a functional model lists its InputLayer too, a Sequential one does not)."""
    used: dict[str, int] = {}
    out = []
    for layer in model.layers:
        base = to_snake_case(getattr(layer, "_kind", "") or "InputLayer")
        used[base] = used.get(base, -1) + 1
        out.append((layer, f"layers/{base}" + (f"_{used[base]}" if used[base] else "")))
    return out
