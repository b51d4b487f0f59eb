"""The lesson's model-building code blocks (both editions), and Keras running them as the oracle.

cnnlab reads these texts without running them; `keras_models` runs them with Keras (torch
backend) on stand-in data, so a test compares cnnlab's totals and summaries with Keras's own.
"""

from __future__ import annotations

import numpy as np

# Lines that would leave files behind if anything ran the code (tests check none appear).
RUN_GUARD = """\
import os
open("executed.txt", "w").write("the code ran")
os.system("touch executed_too.txt")

"""

# Episode 3 (both editions): the weather prediction network on 89 features.
CREATE_NN = """\
def create_nn(nodes1=100, nodes2=50):
    # Input layer
    inputs = keras.Input(shape=(X_data.shape[1],), name='input')
    # Dense layers
    layers_dense = keras.layers.Dense(nodes1, 'relu')(inputs)
    layers_dense = keras.layers.Dense(nodes2, 'relu')(layers_dense)
    # Output layer
    outputs = keras.layers.Dense(1)(layers_dense)
    return keras.Model(inputs=inputs, outputs=outputs, name="model_small")
"""

# The hyperparameter section of episode 4 (2021-22 CIFAR-10 edition).
CREATE_NN_WITH_HP = """\
def create_nn_with_hp(dropout_rate, n_layers):
    inputs = keras.Input(shape=train_images.shape[1:])
    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(inputs)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    for layer in range(n_layers):
        x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(50, activation='relu')(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="cifar_model")
    compile_model(model)
    return model
"""

# The same function sized for digits' 8x8 images (a sweep trains it in well under a second).
SMALL_CREATE_NN_WITH_HP = """\
def create_nn_with_hp(dropout_rate, n_layers):
    inputs = keras.Input(shape=train_images.shape[1:])
    x = inputs
    for layer in range(n_layers):
        x = keras.layers.Conv2D(4, (3, 3), activation='relu')(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="small_model")
    return model
"""


def build_model(max_rate: float = 0.8, tuner: str = "GridSearch(build_model, objective='val_loss')") -> str:
    """The lesson's Keras Tuner block: build_model(hp) over create_nn_with_hp, then the tuner."""
    return f"""
def build_model(hp):
    n_layers = hp.Int("n_layers", min_value=1, max_value=2, step=1)
    dropout_rate = hp.Float("dropout_rate", min_value=0.2, max_value={max_rate}, step=0.3)
    return create_nn_with_hp(dropout_rate, n_layers)

tuner = keras_tuner.{tuner}
tuner.search(train_images, train_labels, epochs=20)
"""


BUILD_MODEL = CREATE_NN_WITH_HP + build_model()

_CIFAR = (32, 32, 3)
_DOLLAR_STREET = (64, 64, 3)
_DOLLAR_STREET_BODY = """\
    inputs = keras.Input(shape=train_images.shape[1:])
    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(inputs)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)
    x = keras.layers.MaxPooling2D((2, 2))(x)
"""

# name -> (code, input shape, the totals the lesson's pages print, or None where they print none)
CIFAR_EDITION = {
    "cifar: first cnn": (
        "inputs = keras.Input(shape=train_images.shape[1:])\n"
        "x = keras.layers.Conv2D(50, (3, 3), activation='relu')(inputs)\n"
        "x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)\n"
        "x = keras.layers.Flatten()(x)\n"
        "outputs = keras.layers.Dense(10)(x)\n"
        'model = keras.Model(inputs=inputs, outputs=outputs, name="cifar_model_small")\n'
        "model.summary()\n",
        _CIFAR, None,
    ),
    "cifar: create_nn with pooling": (
        "def create_nn():\n"
        "    inputs = keras.Input(shape=train_images.shape[1:])\n"
        "    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(inputs)\n"
        "    x = keras.layers.MaxPooling2D((2, 2))(x)\n"
        "    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)\n"
        "    x = keras.layers.MaxPooling2D((2, 2))(x)\n"
        "    x = keras.layers.Flatten()(x)\n"
        "    x = keras.layers.Dense(50, activation='relu')(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        '    model = keras.Model(inputs=inputs, outputs=outputs, name="cifar_model")\n'
        "    return model\n"
        "model = create_nn()\nmodel.summary()\n",
        _CIFAR, None,
    ),
    "cifar: dense-only model": (
        "inputs = keras.Input(shape=train_images.shape[1:])\n"
        "x = keras.layers.Flatten()(inputs)\n"
        "x = keras.layers.Dense(50, activation='relu')(x)\n"
        "x = keras.layers.Dense(50, activation='relu')(x)\n"
        "outputs = keras.layers.Dense(10)(x)\n"
        'model = keras.Model(inputs=inputs, outputs=outputs, name="dense_model")\n',
        _CIFAR, None,
    ),
    "cifar: create_nn_with_dropout over dropout rates": (
        "def create_nn_with_dropout(dropout_rate):\n"
        "    inputs = keras.Input(shape=train_images.shape[1:])\n"
        "    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(inputs)\n"
        "    x = keras.layers.MaxPooling2D((2, 2))(x)\n"
        "    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)\n"
        "    x = keras.layers.MaxPooling2D((2, 2))(x)\n"
        "    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)\n"
        "    x = keras.layers.Dropout(dropout_rate)(x)\n"
        "    x = keras.layers.Flatten()(x)\n"
        "    x = keras.layers.Dense(50, activation='relu')(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        '    model = keras.Model(inputs=inputs, outputs=outputs, name="dropout_model")\n'
        "    return model\n"
        "early_stopper = keras.callbacks.EarlyStopping(monitor='val_loss', patience=5)\n"
        "dropout_rates = [0.15, 0.3, 0.45, 0.6, 0.75]\n"
        "val_losses = []\n"
        "for dropout_rate in dropout_rates:\n"
        "    model_dropout = create_nn_with_dropout(dropout_rate)\n"
        "    compile_model(model_dropout)\n"
        "    val_losses.append(dropout_rate)\n",
        _CIFAR, None,
    ),
    "cifar: create_nn_with_hp over n_layers": (
        CREATE_NN_WITH_HP + "for n_layers in (1, 2):\n    model = create_nn_with_hp(0.2, n_layers)\n", _CIFAR, None,
    ),
    "weather: create_nn with arguments": (CREATE_NN + "model = create_nn(10, 5)\nmodel.summary()\n", (89,), [961]),
    "weather: create_nn with its defaults": (CREATE_NN + "model = create_nn()\n", (89,), [14_101]),
    "weather: create_nn from the data's width": (
        "def create_nn(n_features, n_predictions):\n"
        "    inputs = keras.Input(shape=(n_features,), name='input')\n"
        "    layers_dense = keras.layers.Dense(100, 'relu')(inputs)\n"
        "    layers_dense = keras.layers.Dropout(rate=0.2)(layers_dense)\n"
        "    layers_dense = keras.layers.Dense(50, 'relu')(layers_dense)\n"
        "    layers_dense = keras.layers.BatchNormalization()(layers_dense)\n"
        "    outputs = keras.layers.Dense(n_predictions)(layers_dense)\n"
        '    return keras.Model(inputs=inputs, outputs=outputs, name="model_with_dropout")\n'
        "model = create_nn(X_data.shape[1], 1)\n",
        (89,), None,
    ),
}

DOLLAR_STREET_EDITION = {
    "dollar street: create_nn": (
        "def create_nn():\n" + _DOLLAR_STREET_BODY
        + "    x = keras.layers.Flatten()(x)\n"
        "    x = keras.layers.Dense(50, activation='relu')(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        '    model = keras.Model(inputs=inputs, outputs=outputs, name="dollar_street_model")\n'
        "    return model\n"
        "model = create_nn()\nmodel.summary()\n",
        _DOLLAR_STREET, [514_510],
    ),
    "dollar street: dense model": (
        "def create_nn_dense():\n"
        "    inputs = keras.Input(shape=train_images.shape[1:])\n"
        "    x = keras.layers.Flatten()(inputs)\n"
        "    x = keras.layers.Dense(50, activation='relu')(x)\n"
        "    x = keras.layers.Dense(50, activation='relu')(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        '    return keras.Model(inputs=inputs, outputs=outputs, name="dense_model")\n'
        "dense_model = create_nn_dense()\ndense_model.summary()\n",
        _DOLLAR_STREET, [617_510],
    ),
    "dollar street: extra layer": (
        "def create_nn_extra_layer():\n" + _DOLLAR_STREET_BODY
        + "    x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)\n"
        "    x = keras.layers.MaxPooling2D((2, 2))(x)\n"
        "    x = keras.layers.Flatten()(x)\n"
        "    x = keras.layers.Dense(50, activation='relu')(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        '    return keras.Model(inputs=inputs, outputs=outputs, name="dollar_street_model")\n'
        "model = create_nn_extra_layer()\n",
        _DOLLAR_STREET, [137_060],
    ),
    "dollar street: dropout after each pooling": (
        "def create_nn_with_dropout():\n"
        "    inputs = keras.Input(shape=train_images.shape[1:])\n"
        "    x = inputs\n"
        "    for block in range(3):\n"
        "        x = keras.layers.Conv2D(50, (3, 3), activation='relu')(x)\n"
        "        x = keras.layers.MaxPooling2D((2, 2))(x)\n"
        "        x = keras.layers.Dropout(0.8)(x) # This is new!\n"
        "    x = keras.layers.Flatten()(x)\n"
        "    x = keras.layers.Dense(50, activation='relu')(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        '    return keras.Model(inputs=inputs, outputs=outputs, name="dropout_model")\n'
        "model_dropout = create_nn_with_dropout()\nmodel_dropout.summary()\n",
        _DOLLAR_STREET, [137_060],
    ),
    "dollar street: a block of several models": (
        "def create_nn():\n" + _DOLLAR_STREET_BODY
        + "    x = keras.layers.Flatten()(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        "    return keras.Model(inputs=inputs, outputs=outputs)\n"
        "model = create_nn()\nsecond = create_nn()\n"
        "seq = keras.Sequential([keras.Input(shape=train_images.shape[1:]), keras.layers.Flatten(),"
        " keras.layers.Dense(10)])\n"
        "third = create_nn()\n",
        _DOLLAR_STREET, None,
    ),
}

LESSON_BLOCKS = {**CIFAR_EDITION, **DOLLAR_STREET_EDITION}


class _Recording:
    """`keras` for the oracle's run: every Model and Sequential made is kept, in order."""

    def __init__(self, keras) -> None:
        self.keras = keras
        self.models: list = []

    def __getattr__(self, name: str):
        real = getattr(self.keras, name)
        if name not in ("Model", "Sequential"):
            return real

        def make(*args, **kwargs):
            model = real(*args, **kwargs)
            self.models.append(model)
            return model

        return make


class FixedHP:
    """The oracle's `hp`: the values of one grid combination."""

    def __init__(self, values):
        self.values = values

    def Int(self, name, *args, **kwargs):
        return self.values[name]

    Float = Int


def keras_run(code: str, shape: tuple[int, ...]) -> tuple[list, dict]:
    """Run `code` with Keras in a fresh session on stand-in data of `shape`: (each model it made,
    built, in order; the names the code defined)."""
    from helpers.keras_oracle import keras

    keras.backend.clear_session()
    recording = _Recording(keras)
    data = np.zeros((2, *shape), dtype="float32")
    scope = {"keras": recording, "X_data": data, "train_images": data, "compile_model": lambda model: None}
    exec(compile(code, "<lesson>", "exec"), scope)  # the oracle runs the code; cnnlab never does
    return recording.models, scope


def keras_models(code: str, shape: tuple[int, ...]) -> list:
    models = keras_run(code, shape)[0]
    for model in models:
        if not model.built:
            model.build((None, *shape))
    return models


def keras_totals(code: str, shape: tuple[int, ...]) -> list[int]:
    """Run `code` with Keras on stand-in data of `shape`; the parameter total of each model."""
    return [model.count_params() for model in keras_models(code, shape)]
