"""Build the same model in Keras (torch backend) to compare shapes, params, summaries."""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")


def keras_layer(layer):
    kind, a = layer.kind, dict(layer.args)
    cls = getattr(keras.layers, kind)
    return cls(**a, name=layer.name)


def keras_model(spec, input_shape=None):
    """A Keras model equal to `spec` (functional or Sequential, as the spec says)."""
    keras.backend.clear_session()
    shape = tuple(input_shape or spec.input_shape)
    if spec.functional:
        inputs = keras.Input(shape=shape)
        x = inputs
        for layer in spec.layers:
            x = keras_layer(layer)(x)
        return keras.Model(inputs=inputs, outputs=x, name=spec.name)
    model = keras.Sequential([keras.Input(shape=shape)], name=spec.name)
    for layer in spec.layers:
        model.add(keras_layer(layer))
    return model


def keras_summary(model, line_length=76) -> str:
    lines = []
    model.summary(line_length=line_length, print_fn=lambda text, line_break=None: lines.append(text))
    return "".join(lines)
