"""A cnnlab.keras model rebuilt from a Keras 3 config (config.json), as plain JSON data.

Only cnnlab's own layers are built; anything else (a Lambda layer, custom objects, unknown
layers, branching graphs) is refused with one message naming it. Nothing named in a config
is imported, unpickled or run. The compile settings are applied for the optimizers and the
loss cnnlab.keras supports.
"""

from __future__ import annotations

from typing import Any

from cnnlab.keras import layers as keras_layers
from cnnlab.keras.backend import to_snake_case
from cnnlab.keras.keras_config import KerasFileError
from cnnlab.models.layers import ModelError


def rebuild_model(config: dict[str, Any]):
    """The model a config describes, built and ready for its weights."""
    try:
        model = model_from_config(config)
    except KerasFileError:
        raise
    except ModelError as e:  # a layer's arguments, checked as they are in code
        raise KerasFileError(f"config.json: {e}") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as e:
        raise KerasFileError(f"config.json does not describe a model Keras saves "
                             f"({type(e).__name__}: {e})") from None
    if not model.built:
        raise KerasFileError("the saved model has no input shape, so it holds no weights; "
                             "Keras saves such a model only before it is built")
    return model


def _check_keras_object(entry: Any, what: str) -> tuple[str, dict[str, Any]]:
    """(class name, config) of one serialized Keras object, refusing custom and foreign ones."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise KerasFileError(f"{what}: expected a serialized Keras object with a class_name")
    name, module = entry["class_name"], entry.get("module")
    registered = entry.get("registered_name")
    custom = (module is not None and not (module == "keras" or str(module).startswith("keras.")))
    if custom or (registered is not None and registered != name):
        raise KerasFileError(
            f"{what}: custom object {registered or name!r} (module {module!r}); cnnlab.keras loads "
            "only Keras's own classes and never imports code named in a file"
        )
    config = entry.get("config", {})
    if not isinstance(config, dict):
        raise KerasFileError(f"{what}: the config of {name} is not a JSON object")
    return name, config


def _layer_from_entry(entry: Any):
    kind, config = _check_keras_object(entry, "a layer")
    name = config.get("name") if isinstance(config.get("name"), str) else "?"
    if kind in ("Lambda", "TFOpLambda") or "function" in config:
        raise KerasFileError(
            f"layer {name!r} ({kind}) holds Python code, which cnnlab.keras never runs; it loads "
            f"models made of {keras_layers.SUPPORTED}"
        )
    cls = getattr(keras_layers, kind, None)  # None for what cnnlab.keras does not offer
    if not (isinstance(cls, type) and issubclass(cls, keras_layers.Layer) and cls._kind):
        raise KerasFileError(f"layer {name!r} ({kind}) is not supported by cnnlab.keras; it loads "
                             f"models made of {keras_layers.SUPPORTED}")
    args = dict(config)
    if args.pop("trainable", True) is not True:
        raise KerasFileError(f"layer {name!r} ({kind}): frozen layers (trainable=False) are not supported")
    dtype = args.pop("dtype", None)
    policy = dtype
    if isinstance(dtype, dict):
        policy = dtype.get("config") if isinstance(dtype.get("config"), dict) else {}
        policy = policy.get("name", "?")
    if policy not in (None, "float32"):
        raise KerasFileError(f"layer {name!r} ({kind}): dtype {policy!r} is not supported; cnnlab "
                             "computes in float32")
    for key, value in list(args.items()):
        if isinstance(value, dict) and key.endswith("_initializer"):
            init_name, _ = _check_keras_object(value, f"layer {name!r} {key}")
            args[key] = to_snake_case(init_name)
        elif isinstance(value, dict):
            raise KerasFileError(f"layer {name!r} ({kind}): {key}={value.get('class_name', value)!r} "
                                 "is not supported by cnnlab.keras")
    args.pop("batch_input_shape", None)
    return cls(**args)


def _history(node: Any, where: str) -> str:
    """The source layer's name in one inbound node (Keras 3's or the older nested-list form)."""
    if isinstance(node, dict):
        args, kwargs = node.get("args"), node.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise KerasFileError(f"{where}: the call's kwargs are not a JSON object")
        extra = {k: v for k, v in kwargs.items() if not (k == "mask" and v is None)
                 and not (k == "training" and v in (None, False))}
        if not isinstance(args, list) or len(args) != 1 or extra:
            raise KerasFileError(f"{where}: cnnlab.keras loads layers called on one tensor, nothing else")
        tensor = args[0]
        if isinstance(tensor, list):
            raise KerasFileError(f"{where} takes {len(tensor)} inputs; cnnlab.keras loads models "
                                 "that are one chain of layers, each taking the one before")
        history = tensor.get("config", {}).get("keras_history") if isinstance(tensor, dict) else None
    else:
        calls = node if isinstance(node, list) else []
        history = calls[0] if len(calls) == 1 else None
    if not isinstance(history, list) or not history or not isinstance(history[0], str):
        raise KerasFileError(f"{where}: cnnlab.keras loads models that are one chain of layers")
    return history[0]


def _endpoint(value: Any, what: str) -> str:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
        value = value[0]
    if not (isinstance(value, list) and value and isinstance(value[0], str)):
        raise KerasFileError(f"the model's {what} are not one layer; cnnlab.keras loads models with "
                             "one input and one output")
    return value[0]


def _batch_shape(value: Any) -> list:
    """A saved input shape: the batch size (or null), then at least one size."""
    if not isinstance(value, list) or len(value) < 2:
        raise KerasFileError(f"the input shape {value!r} should be a list like [null, 28, 28, 1]")
    return value


def model_from_config(data: Any):
    """A cnnlab.keras model from Keras's serialized model (no compile settings applied)."""
    from cnnlab.keras.model import Model, Sequential

    kind, config = _check_keras_object(data, "the model")
    entries = config.get("layers")
    if kind not in ("Sequential", "Functional", "Model") or not isinstance(entries, list):
        raise KerasFileError(f"the model is a {kind}; cnnlab.keras loads Sequential and functional models")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("class_name") in ("Sequential", "Functional", "Model"):
            raise KerasFileError("a model inside a model is not supported by cnnlab.keras")

    def make_input(entry) -> keras_layers.InputLayer:
        _, input_config = _check_keras_object(entry, "the input layer")
        shapes = {k: _batch_shape(v) for k, v in input_config.items()
                  if k in ("batch_shape", "batch_input_shape")}
        return keras_layers.InputLayer(**{**input_config, **shapes})

    name = config.get("name") if isinstance(config.get("name"), str) else None
    if kind == "Sequential":
        items = list(entries)
        first = None
        if items and isinstance(items[0], dict) and items[0].get("class_name") == "InputLayer":
            first = make_input(items.pop(0))
        elif isinstance(config.get("build_input_shape"), list):
            first = keras_layers.InputLayer(batch_shape=_batch_shape(config["build_input_shape"]))
        elif items and isinstance(items[0], dict) and isinstance(items[0].get("config"), dict) \
                and items[0]["config"].get("batch_input_shape"):
            first = keras_layers.InputLayer(batch_shape=_batch_shape(items[0]["config"]["batch_input_shape"]))
        built = [_layer_from_entry(entry) for entry in items]
        return Sequential(([first] if first is not None else []) + built, name=name)
    by_name = {}
    for entry in entries:
        entry_name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(entry_name, str) or entry_name in by_name:
            raise KerasFileError("the model's layers need unique names")
        by_name[entry_name] = entry
    start = _endpoint(config.get("input_layers"), "inputs")
    chain, current = [], _endpoint(config.get("output_layers"), "outputs")
    while current != start:
        entry = by_name.get(current)
        if entry is None or current in chain:
            raise KerasFileError(f"layer {current!r} is missing or on a loop: not one chain of layers")
        nodes = entry.get("inbound_nodes")
        if not isinstance(nodes, list) or len(nodes) != 1:
            raise KerasFileError(f"layer {current!r} is used {len(nodes or [])} times; cnnlab.keras loads "
                                 "models where each layer is called once, in one chain")
        chain.append(current)
        current = _history(nodes[0], f"layer {current!r}")
    if start not in by_name or len(chain) + 1 != len(entries):
        raise KerasFileError("the model is not one chain of layers from its input to its output; "
                             "cnnlab.keras loads such chains only")
    if by_name[start].get("class_name") != "InputLayer":
        raise KerasFileError(f"the model's input {start!r} is not an InputLayer")
    x = inputs = make_input(by_name[start]).output
    for layer_name in reversed(chain):
        x = _layer_from_entry(by_name[layer_name])(x)
    return Model(inputs=inputs, outputs=x, name=name)


def _named(value: Any, what: str) -> tuple[str, dict[str, Any]]:
    """A compile setting as (class or function name, config): a string or a serialized object."""
    if isinstance(value, str):
        return value, {}
    name, config = _check_keras_object(value, f"the saved {what}")
    if name == "function" and isinstance(value.get("config"), str):
        return value["config"], {}
    return name, config


def apply_compile_config(model, config: Any) -> None:
    """`model.compile(...)` with the settings Keras saved, for the ones cnnlab.keras supports."""
    from cnnlab.keras import losses, optimizers

    if not config:
        return
    if not isinstance(config, dict):
        raise KerasFileError("the saved compile settings are not a JSON object")
    opt_name, opt_config = _named(config.get("optimizer") or "rmsprop", "optimizer")
    cls = optimizers._BY_NAME.get(opt_name.lower())
    if cls is None:
        raise KerasFileError(f"the saved optimizer {opt_name!r} is not supported by cnnlab.keras "
                             "(Adam, SGD, RMSprop); pass compile=False to load the model without it")
    opt_args = {k: v for k, v in opt_config.items() if k != "name"}
    if isinstance(opt_args.get("learning_rate"), float):  # Keras stores the float32 value
        opt_args["learning_rate"] = float(str(_float32(opt_args["learning_rate"])))
    loss_name, loss_config = _named(config.get("loss"), "loss")
    if loss_name not in losses._BY_NAME:
        raise KerasFileError(f"the saved loss {loss_name!r} is not supported by cnnlab.keras, which "
                             f"trains with {losses.SUPPORTED}; pass compile=False to load the model "
                             "without it")
    metrics = config.get("metrics")
    if isinstance(metrics, list):
        metrics = [_named(m, "metric")[1].get("name") or _named(m, "metric")[0] for m in metrics]
    try:
        model.compile(optimizer=cls(**opt_args),
                      loss=losses.from_config(loss_name, loss_config),
                      metrics=metrics)
    except (ModelError, TypeError) as e:
        raise KerasFileError(f"the saved compile settings: {e}; pass compile=False to load the "
                             "model without them") from None


def _float32(value: float):
    import numpy as np

    return np.float32(value)
