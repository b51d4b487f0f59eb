"""The lesson's models, written as Keras layer calls (the same text a learner types).

Each preset is Keras code in the layer-file format that `parse.py` reads. Input
shapes follow the dataset (`--dataset` / `--input-shape`); `default_input` is the
shape the lesson uses. The output layer's units follow `--classes` (default 10).
"""

from __future__ import annotations

import dataclasses

from cnnlab.models.layers import Layer, ModelError, ModelSpec, make_layer, new_spec


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    about: str
    layers: tuple[tuple[str, dict], ...]  # (Keras class name, arguments)
    default_input: tuple[int, int, int] = (32, 32, 3)

    def spec(self, input_shape=None, classes: int | None = None) -> ModelSpec:
        layers: list[Layer] = [make_layer(kind, dict(args)) for kind, args in self.layers]
        if classes is not None:
            _set_classes(layers, classes, self.name)
        return new_spec(self.name, layers, tuple(input_shape or self.default_input), functional=True)


def _set_classes(layers: list[Layer], classes: int, name: str) -> None:
    last = layers[-1]
    if last.kind != "Dense":
        raise ModelError(f"preset {name!r} does not end with a Dense layer; cannot set classes")
    if not isinstance(classes, int) or classes < 1:
        raise ModelError(f"--classes {classes!r} must be a positive integer")
    last.args["units"] = classes


_CONV32 = ("Conv2D", {"filters": 32, "kernel_size": (3, 3), "activation": "relu"})
_POOL = ("MaxPooling2D", {"pool_size": (2, 2)})
_FLAT = ("Flatten", {})
_OUT = ("Dense", {"units": 10})

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset(
            "dense100",
            "Q1: Flatten + Dense(100) on 32x32x3 images",
            (_FLAT, ("Dense", {"units": 100})),
        ),
        Preset(
            "conv100",
            "Q2: Conv2D with 100 kernels of 3x3, no bias",
            (("Conv2D", {"filters": 100, "kernel_size": (3, 3), "use_bias": False}),),
        ),
        Preset(
            "dense_only",
            "the lesson's dense-only comparison model",
            (
                _FLAT,
                ("Dense", {"units": 50, "activation": "relu"}),
                ("Dense", {"units": 50, "activation": "relu"}),
                _OUT,
            ),
        ),
        Preset(
            "cifar_model_small",
            "the lesson's CIFAR-10 model: two Conv2D + MaxPooling2D blocks",
            (_CONV32, _POOL, _CONV32, _POOL, _FLAT, ("Dense", {"units": 32, "activation": "relu"}), _OUT),
        ),
        Preset(
            "cifar_model",
            "Q3: the CIFAR-10 model with an extra Conv2D(32) after the last MaxPooling2D",
            (
                _CONV32, _POOL, _CONV32, _POOL, _CONV32, _FLAT,
                ("Dense", {"units": 32, "activation": "relu"}), _OUT,
            ),
        ),
        Preset(
            "cifar_model_dropout",
            "cifar_model with Dropout(0.2) before Flatten",
            (
                _CONV32, _POOL, _CONV32, _POOL, _CONV32, ("Dropout", {"rate": 0.2}), _FLAT,
                ("Dense", {"units": 32, "activation": "relu"}), _OUT,
            ),
        ),
        Preset(
            "mnist_convnet",
            "keras-io's simple MNIST convnet (~99% test accuracy)",
            (
                _CONV32, _POOL,
                ("Conv2D", {"filters": 64, "kernel_size": (3, 3), "activation": "relu"}), _POOL,
                _FLAT, ("Dropout", {"rate": 0.5}), ("Dense", {"units": 10, "activation": "softmax"}),
            ),
            default_input=(28, 28, 1),
        ),
    ]
}


# --- the Dollar Street 10 edition of the lesson (64x64x3 photos, 10 classes) ------------------
DOLLAR_STREET_INPUT = (64, 64, 3)
_CONV50 = ("Conv2D", {"filters": 50, "kernel_size": (3, 3), "activation": "relu"})
_DENSE50 = ("Dense", {"units": 50, "activation": "relu"})
_DROP80 = ("Dropout", {"rate": 0.8})

PRESETS.update({
    p.name: p
    for p in [
        Preset("dollar_street_model_small", "Dollar Street 10: two Conv2D(50) and one Dense: the most parameters",
               (_CONV50, _CONV50, _FLAT, _OUT), DOLLAR_STREET_INPUT),
        Preset("dollar_street_model", "Dollar Street 10's create_nn: two Conv2D(50) + MaxPooling2D blocks",
               (_CONV50, _POOL, _CONV50, _POOL, _FLAT, _DENSE50, _OUT), DOLLAR_STREET_INPUT),
        Preset("dollar_street_dense", "Dollar Street 10's dense-only comparison model",
               (_FLAT, _DENSE50, _DENSE50, _OUT), DOLLAR_STREET_INPUT),
        Preset("dollar_street_model_extra", "create_nn_extra_layer: a third Conv2D(50) + MaxPooling2D block",
               (_CONV50, _POOL, _CONV50, _POOL, _CONV50, _POOL, _FLAT, _DENSE50, _OUT), DOLLAR_STREET_INPUT),
        Preset("dollar_street_model_dropout", "the extra-layer model with Dropout(0.8) after each pooling",
               (_CONV50, _POOL, _DROP80, _CONV50, _POOL, _DROP80, _CONV50, _POOL, _DROP80, _FLAT, _DENSE50, _OUT),
               DOLLAR_STREET_INPUT),
    ]
})


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelError(
            f"unknown model {name!r}: not a preset ({', '.join(PRESETS)}) nor a file"
        ) from None
