"""`keras.models.load_model`: a model saved by `model.save('name.cnnlab')`, rebuilt from its
layer specs and weights (no code from the file runs; saving.py writes the format)."""

from __future__ import annotations

import json

from cnnlab.keras.saving import FORMAT, check_path
from cnnlab.models.layers import ModelError, ModelSpec


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by `model.save('name.cnnlab')`, with its weights (and compile settings)."""
    from safetensors.torch import load_file

    from cnnlab.keras import layers as keras_layers
    from cnnlab.keras import losses, optimizers
    from cnnlab.keras.model import Model, Sequential

    path = check_path(filepath)
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
                      loss=losses.SparseCategoricalCrossentropy(from_logits=config["from_logits"]),
                      metrics=config["metrics"])
    state = load_file(str(path / "model.safetensors"))
    model._ensure_net().load_state_dict(state)
    return model
