"""`keras.models.load_model`: a `.keras` file (Keras 3's format, written by cnnlab or by Keras;
keras_format.py) or a `name.cnnlab` folder (saving.py), rebuilt from its layers and weights.
No code from the file runs."""

from __future__ import annotations

import json

from cnnlab.keras.saving import FORMAT, KERAS_SUFFIX, check_path
from cnnlab.models.layers import ModelError, ModelSpec


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by `model.save('name.keras')` (by cnnlab or Keras) or
    `model.save('name.cnnlab')`, with its weights and, with `compile=True`, its compile settings."""
    path = check_path(filepath)
    if custom_objects:
        raise ModelError("load_model(custom_objects=...) is not supported by cnnlab.keras: it loads "
                         "Keras's own layers only and never runs code from a file")
    if not path.exists():
        raise ModelError(f"{path}: no such file or folder")
    if path.suffix == KERAS_SUFFIX:
        return _load_keras(path, compile)
    return _load_folder(path, compile)


def _load_keras(path, compile):
    from cnnlab.keras import keras_format, keras_rebuild

    if not path.is_file():
        raise ModelError(f"{path}: a .keras model is a file (a zip archive), not a folder")
    try:
        with keras_format.open_archive(path) as archive:
            config = keras_format.read_config(archive)
            model = keras_rebuild.rebuild_model(config)
            weights = keras_format.read_weights_member(archive, model)
        keras_format.set_weights_from_h5(model, weights)
        if compile and config.get("compile_config"):
            keras_rebuild.apply_compile_config(model, config["compile_config"])
            keras_format.restore_optimizer(model, weights)
    except keras_format.KerasFileError as e:
        raise type(e)(f"{path}: {e}") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read it ({e.strerror or e})") from None
    return model


def _load_folder(path, compile):
    from safetensors.torch import load_file

    from cnnlab.keras import layers as keras_layers
    from cnnlab.keras import losses, optimizers
    from cnnlab.keras.model import Model, Sequential

    try:
        info = json.loads((path / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: not a saved cnnlab.keras model ({e})") from None
    if info.get("format") != FORMAT:
        raise ModelError(f"{path}: unknown format {info.get('format')!r}; expected {FORMAT}")
    spec = ModelSpec.from_dict(info["spec"])
    inputs = keras_layers.Input(shape=spec.input_shape, name=info["input_name"])
    built = [getattr(keras_layers, layer.kind)(name=layer.name, **layer.args) for layer in spec.layers]
    if info["kind"] == "Sequential":
        model = Sequential([inputs, *built], name=spec.name)
    else:
        x = inputs
        for layer in built:
            x = layer(x)
        model = Model(inputs=inputs, outputs=x, name=spec.name)
    config = info.get("compile")
    if compile and config:
        optimizer = optimizers.get(config["optimizer"])
        optimizer.learning_rate = config["learning_rate"]
        model.compile(optimizer=optimizer,
                      loss=losses.from_config(config.get("loss", "SparseCategoricalCrossentropy"),
                                              {"from_logits": config["from_logits"]}),
                      metrics=config["metrics"])
    state = load_file(str(path / "model.safetensors"))
    model._ensure_net().load_state_dict(state)
    return model
