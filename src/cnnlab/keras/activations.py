"""`keras.activations`: the activation functions cnnlab's layers apply, usable as
`activation=keras.activations.relu`; they name an activation, they compute nothing."""

from __future__ import annotations

from cnnlab.models.layers import ACTIVATIONS, ModelError


def _named(name: str):
    def activation(x):
        raise ModelError(f"keras.activations.{name} is applied inside a layer: activation='{name}'")

    activation.__name__ = activation.__qualname__ = name
    activation._cnnlab_activation = name
    return activation


relu, sigmoid, tanh, softmax, linear = (_named(n) for n in ("relu", "sigmoid", "tanh", "softmax", "linear"))


def get(identifier):
    """An activation by name, as `keras.activations.get('relu')`."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if identifier in ACTIVATIONS:
        return globals()[identifier]
    raise ModelError(f"unknown activation {identifier!r}; cnnlab supports {', '.join(ACTIVATIONS)}")


def name_of(value, kind: str):
    """The activation name a layer argument stands for: a string, None, or one of these functions."""
    if callable(value):
        name = getattr(value, "_cnnlab_activation", None)
        if name is None:
            raise ModelError(
                f"{kind}: activation={getattr(value, '__name__', value)!r} is not supported; "
                f"give one of {', '.join(map(repr, ACTIVATIONS))}"
            )
        return name
    return value
