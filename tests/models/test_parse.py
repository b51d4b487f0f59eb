"""parse_model: layer files, Keras code (read, never run), TOML and JSON, as users paste them."""

from __future__ import annotations

import textwrap

import pytest

from cnnlab.models.keras_code import parse_model
from cnnlab.models.layers import ModelError, ModelSpec, make_layer, new_spec


def kinds(spec: ModelSpec) -> list[str]:
    return [layer.kind for layer in spec.layers]


def summary(spec: ModelSpec) -> list[tuple]:
    return [(layer.kind, layer.name, layer.line) for layer in spec.layers]


def error(text: str, **kw) -> str:
    with pytest.raises(ModelError) as info:
        parse_model(textwrap.dedent(text), **kw)
    return str(info.value)


CIFAR_FUNCTIONAL = """\
from tensorflow import keras

(train_images, train_labels), (test_images, test_labels) = keras.datasets.cifar10.load_data()
train_images = train_images / 255.0

# define the inputs, layers, and outputs of a cnn model
inputs = keras.Input(shape=train_images.shape[1:])
x = keras.layers.Conv2D(32, (3, 3), activation='relu')(inputs)
x = keras.layers.MaxPooling2D((2, 2))(x)
x = keras.layers.Conv2D(32, (3, 3), activation='relu')(x)
x = keras.layers.MaxPooling2D((2, 2))(x)
x = keras.layers.Conv2D(32, (3, 3), activation='relu')(x)
x = keras.layers.Flatten()(x)
x = keras.layers.Dense(32, activation='relu')(x)
outputs = keras.layers.Dense(10)(x)

# create the model
model = keras.Model(inputs=inputs, outputs=outputs, name="cifar_model")
model.summary()
"""
CIFAR_KINDS = ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"]

MNIST_CONVNET = '''\
"""
Title: Simple MNIST convnet
"""
import numpy as np
import keras
from keras import layers

# Model / data parameters
num_classes = 10
input_shape = (28, 28, 1)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
x_train = x_train.astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
print("x_train shape:", x_train.shape)
y_train = keras.utils.to_categorical(y_train, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)

model.summary()
batch_size = 128
epochs = 15
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)
score = model.evaluate(x_test, y_test, verbose=0)
'''


# ---------------------------------------------------------------- the lesson's own code


def test_carpentries_cifar_functional_leaves_the_input_shape_to_the_caller():
    spec = parse_model(CIFAR_FUNCTIONAL)
    assert spec.name == "cifar_model"
    assert spec.functional is True
    assert spec.input_shape is None
    assert spec.input_hint == "train_images.shape[1:]"
    assert kinds(spec) == CIFAR_KINDS
    assert [layer.name for layer in spec.layers] == [
        "conv2d", "max_pooling2d", "conv2d_1", "max_pooling2d_1", "conv2d_2",
        "flatten", "dense", "dense_1",
    ]  # fmt: skip
    assert [layer.line for layer in spec.layers] == list(range(8, 16))
    assert spec.layers[0].args == {
        "filters": 32, "kernel_size": (3, 3), "strides": (1, 1), "padding": "valid",
        "activation": "relu", "use_bias": True,
    }  # fmt: skip
    assert spec.layers[-1].args["activation"] is None
    # the caller fills the shape from --dataset / --input-shape
    assert spec.with_input_shape((32, 32, 3)).input_shape == (32, 32, 3)


def test_carpentries_model_inside_a_function():
    text = """\
    def create_nn(n_filters=32):
        # Input layer of 32x32 images with three channels (RGB)
        inputs = keras.Input(shape=(32, 32, 3))
        x = keras.layers.Conv2D(n_filters, (3, 3), activation='relu')(inputs)
        x = keras.layers.MaxPooling2D((2, 2))(x)
        x = keras.layers.Flatten()(x)
        outputs = keras.layers.Dense(10)(x)
        model = keras.Model(inputs=inputs, outputs=outputs, name="cifar_model_small")
        return model

    model = create_nn()
    model.summary()
    """
    spec = parse_model(textwrap.dedent(text))
    assert (spec.name, spec.input_shape, spec.functional) == ("cifar_model_small", (32, 32, 3), True)
    assert spec.layers[0].args["filters"] == 32
    assert kinds(spec) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]


def test_keras_io_mnist_convnet_with_its_constants():
    spec = parse_model(MNIST_CONVNET, source="mnist_convnet.py")
    assert (spec.name, spec.input_shape, spec.functional) == ("sequential", (28, 28, 1), False)
    assert kinds(spec) == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense",
    ]  # fmt: skip
    assert spec.layers[-1].args == {"units": 10, "activation": "softmax", "use_bias": True}
    assert spec.layers[1].args["strides"] == (2, 2)
    assert spec.layers[5].args == {"rate": 0.5}
    assert spec.layers[0].line == 21


def test_sequential_with_add_and_input_shape_on_the_first_layer():
    text = """\
    from tensorflow.keras import layers, models
    model = models.Sequential(name="small")
    model.add(layers.Conv2D(32, (3, 3), activation='relu', input_shape=(32, 32, 3)))
    model.add(layers.MaxPooling2D((2, 2)))
    model.add(layers.Flatten())
    model.add(layers.Dense(64, activation='relu'))
    model.add(layers.Dense(10))
    """
    spec = parse_model(textwrap.dedent(text))
    assert (spec.name, spec.input_shape, spec.functional) == ("small", (32, 32, 3), False)
    assert "input_shape" not in spec.layers[0].args
    assert [layer.line for layer in spec.layers] == [3, 4, 5, 6, 7]


def test_sequential_list_then_add():
    text = """\
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28))])
    model.add(keras.layers.Dense(128, activation=tf.nn.relu))
    model.add(keras.layers.Dense(10, activation=tf.nn.softmax))
    """
    spec = parse_model(textwrap.dedent(text))
    assert spec.input_shape == (28, 28)
    assert [layer.args.get("activation") for layer in spec.layers] == [None, "relu", "softmax"]


def test_sequential_input_shape_from_the_data_is_a_hint():
    text = """\
    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), activation='relu', input_shape=np.shape(train_input[0])))
    model.add(MaxPool2D())
    model.add(Flatten())
    model.add(Dense(10, activation='softmax'))
    print(model.summary())
    """
    spec = parse_model(textwrap.dedent(text))
    assert spec.input_shape is None
    assert spec.input_hint == "np.shape(train_input[0])"
    assert kinds(spec) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]  # MaxPool2D is an alias
    assert spec.layers[1].name == "max_pooling2d"


def test_input_shape_through_a_variable_gives_its_expression_as_hint():
    text = """\
    shape = x_train.shape[1:]
    inputs = keras.Input(shape)
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(inputs))
    """
    spec = parse_model(textwrap.dedent(text))
    assert spec.input_hint == "x_train.shape[1:]"
    assert kinds(spec) == ["Flatten", "Dense"]
    assert spec.name == "functional"


def test_model_name_argument_is_the_fallback():
    assert parse_model("Dense(3)", name="mine").name == "mine"
    assert parse_model("Dense(3)").name == "sequential"
    seq = "model = keras.Sequential([keras.layers.Dense(3)], name='named')"
    assert parse_model(seq, name="mine").name == "named"
    assert parse_model("model = keras.Sequential([keras.layers.Dense(3)])", name="mine").name == "mine"
    fn = "i = keras.Input((4,))\no = keras.layers.Dense(2)(i)\nm = keras.Model(i, o)"
    assert parse_model(fn).name == "functional"
    assert parse_model(fn, name="mine").name == "mine"


# ---------------------------------------------------------------- layer files


def test_layer_file_with_comments_input_and_prefixes():
    text = """\
    # the lesson's small model
    keras.Input(shape=(32, 32, 3))

    Conv2D(32, (3, 3), activation='relu')   # 896 parameters
    layers.MaxPooling2D((2, 2))
    tf.keras.layers.Conv2D(32, 3, activation="relu")
    keras.layers.MaxPooling2D()
    Flatten()
    Dense(32, activation='relu')
    Dense(10)
    """
    spec = parse_model(textwrap.dedent(text), source="small.txt")
    assert (spec.name, spec.input_shape, spec.functional) == ("sequential", (32, 32, 3), False)
    assert kinds(spec) == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert [layer.line for layer in spec.layers] == [4, 5, 6, 7, 8, 9, 10]
    assert spec.layers[2].args["kernel_size"] == (3, 3)


def test_layer_file_without_input_has_no_shape():
    spec = parse_model("Flatten()\nDense(10)\n")
    assert spec.input_shape is None and spec.input_hint is None


def test_layer_file_pasted_from_a_list_with_trailing_commas():
    text = """\
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
    """
    assert kinds(parse_model(text)) == ["Conv2D", "MaxPooling2D", "Flatten"]


def test_layer_file_of_model_add_lines():
    text = "model.add(Conv2D(8, 3, input_shape=(28, 28, 1)))\nmodel.add(Flatten())\nmodel.add(Dense(10))"
    spec = parse_model(text)
    assert spec.input_shape == (28, 28, 1)
    assert kinds(spec) == ["Conv2D", "Flatten", "Dense"]


def test_layer_file_arithmetic_and_constants():
    text = "n = 16\nkeras.Input((28 * 28,))\nDense(n * 2, activation=None)\nDropout(1 / 4)\nDense(n - 6)"
    spec = parse_model(text)
    assert spec.input_shape == (784,)
    assert [layer.args.get("units") for layer in spec.layers] == [32, None, 10]
    assert spec.layers[1].args["rate"] == 0.25


def test_every_layer_kind_and_positional_order():
    text = """\
    Input((32, 32, 3))
    Conv2D(8, 3, 2, 'same', use_bias=False, name='first')
    BatchNormalization()
    Activation('relu')
    ReLU()
    AveragePooling2D(2, 1, 'same')
    MaxPooling2D((3, 3), strides=(1, 1))
    GlobalAveragePooling2D()
    Dense(10, 'softmax', False)
    """
    spec = parse_model(textwrap.dedent(text))
    conv = spec.layers[0]
    assert conv.name == "first"
    assert conv.args == {
        "filters": 8, "kernel_size": (3, 3), "strides": (2, 2), "padding": "same",
        "activation": None, "use_bias": False,
    }  # fmt: skip
    assert spec.layers[4].args == {"pool_size": (2, 2), "strides": (1, 1), "padding": "same"}
    assert spec.layers[-1].args == {"units": 10, "activation": "softmax", "use_bias": False}
    text2 = "Input((8, 8, 1))\nGlobalMaxPool2D()\nDense(2)"
    assert kinds(parse_model(text2))[0] == "GlobalMaxPooling2D"


# ---------------------------------------------------------------- pasted from web pages and PDFs


def test_typographic_quotes_and_odd_spaces():
    text = (
        "inputs\u00a0=\u00a0keras.Input(shape=(32,\u202f32, 3))\n"
        "x = keras.layers.Conv2D(32, (3, 3), activation=\u2019relu\u2019)(inputs)\n"
        "x = keras.layers.Flatten()(x)\n"
        "outputs = keras.layers.Dense(10, activation=\u201csoftmax\u201d)(x)\n"
        "model = keras.Model(inputs=inputs, outputs=outputs, name=\u201ccifar_model\u201d)\n"
    )
    spec = parse_model(text)
    assert spec.name == "cifar_model"
    assert spec.layers[0].args["activation"] == "relu"
    assert spec.layers[-1].args["activation"] == "softmax"


def test_low_quotes_primes_ligatures_zero_width_and_minus_signs():
    text = "Dense(10, activation=\u201esoftmax\u201c)\u200b\nConv2D(\ufb01lters=4, kernel_size=3, padding=\u2032same\u2032)\n"
    spec = parse_model(text)
    assert spec.layers[0].args["activation"] == "softmax"
    assert spec.layers[1].args["filters"] == 4 and spec.layers[1].args["padding"] == "same"
    assert parse_model("Input((\u221228 + 56, 28))\nFlatten()").input_shape == (28, 28)


def test_tabs_crlf_and_markdown_fences():
    text = "```python\r\nmodel = keras.Sequential([\r\n\tlayers.Flatten(input_shape=(28, 28)),\r\n\tlayers.Dense(10)])\r\n```\r\n"
    spec = parse_model(text)
    assert kinds(spec) == ["Flatten", "Dense"]
    assert spec.layers[0].line == 3


def test_python_console_prompts_and_output():
    text = """\
    >>> from keras import layers
    >>> model = keras.Sequential([
    ...     layers.Dense(10, input_shape=(4,)),
    ...     layers.Dense(2),
    ... ])
    >>> model.summary()
    Model: "sequential"
    \u250f\u2501\u2501\u2501\u2501\u2501\u2513
    """
    spec = parse_model(textwrap.dedent(text))
    assert spec.input_shape == (4,)
    assert summary(spec) == [("Dense", "dense", 3), ("Dense", "dense_1", 4)]


def test_jupyter_prompts_and_magics():
    text = """\
    In [1]: %matplotlib inline
    In [2]: !pip install keras
    In [3]: inputs = keras.Input(shape=(28, 28, 1))
    In [4]: x = layers.Flatten()(inputs)
    In [5]: outputs = layers.Dense(10)(x)
    In [6]: model = keras.Model(inputs, outputs)
    Out[6]: <Functional name=functional, built=True>
    """
    spec = parse_model(textwrap.dedent(text))
    assert summary(spec) == [("Flatten", "flatten", 4), ("Dense", "dense", 5)]


def test_functional_code_with_all_line_breaks_lost():
    text = (
        "from tensorflow import keras from tensorflow.keras import layers "
        "inputs = keras.Input(shape=(32, 32, 3)) "
        "x = layers.Conv2D(32, (3, 3), activation=\u2019relu\u2019)(inputs) "
        "x = layers.MaxPooling2D((2, 2))(x) x = layers.Flatten()(x) "
        "outputs = layers.Dense(10)(x) "
        "model = keras.Model(inputs=inputs, outputs=outputs, name=\u201cone_line\u201d) model.summary()"
    )
    spec = parse_model(text)
    assert spec.name == "one_line"
    assert kinds(spec) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert {layer.line for layer in spec.layers} == {1}


def test_some_line_breaks_lost():
    text = """\
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(8, 3)(inputs) x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x) outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    """
    spec = parse_model(textwrap.dedent(text))
    assert summary(spec) == [
        ("Conv2D", "conv2d", 2), ("MaxPooling2D", "max_pooling2d", 2),
        ("Flatten", "flatten", 3), ("Dense", "dense", 3),
    ]  # fmt: skip


def test_layer_file_run_together_and_semicolons():
    spec = parse_model("Conv2D(8, 3) MaxPooling2D() Flatten(); Dense(10)\nDense(2)")
    assert kinds(spec) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    assert [layer.line for layer in spec.layers] == [1, 1, 1, 1, 2]


def test_sequential_run_together():
    text = (
        "model = models.Sequential() model.add(layers.Conv2D(32, (3, 3), activation=\u2018relu\u2019, "
        "input_shape=(32, 32, 3))) model.add(layers.MaxPooling2D((2, 2))) model.add(layers.Flatten())"
    )
    spec = parse_model(text)
    assert spec.input_shape == (32, 32, 3)
    assert kinds(spec) == ["Conv2D", "MaxPooling2D", "Flatten"]


def test_broken_indentation_from_a_pdf():
    text = """\
    def build():
      inputs = keras.Input(shape=(32, 32, 3))
         x = layers.Conv2D(32, 3, activation=tf.nn.relu)(inputs)
     x = layers.Flatten()(x)
      outputs = layers.Dense(10)(x)
      return keras.Model(inputs, outputs, name='pdf')
    """
    spec = parse_model(textwrap.dedent(text))
    assert spec.name == "pdf"
    assert summary(spec) == [("Conv2D", "conv2d", 3), ("Flatten", "flatten", 4), ("Dense", "dense", 5)]


def test_shuffled_lines_with_unique_names_follow_the_data():
    text = """\
    x2 = layers.MaxPooling2D((2, 2))(x1)
    model = keras.Model(inputs=inputs, outputs=outputs, name='shuffled')
    x1 = layers.Conv2D(32, (3, 3), activation='relu')(inputs)
    outputs = layers.Dense(10)(x3)
    inputs = keras.Input(shape=(28, 28, 1))
    x3 = layers.Flatten()(x2)
    """
    spec = parse_model(textwrap.dedent(text))
    assert spec.input_shape == (28, 28, 1)
    assert summary(spec) == [
        ("Conv2D", "conv2d", 3), ("MaxPooling2D", "max_pooling2d", 1),
        ("Flatten", "flatten", 6), ("Dense", "dense", 4),
    ]  # fmt: skip


def test_shuffled_without_model_call_ends_at_the_unused_result():
    text = "y = layers.Dense(10)(x)\nx = layers.Flatten()(i)\ni = keras.Input((4, 4))"
    assert kinds(parse_model(text)) == ["Flatten", "Dense"]


def test_nested_calls_and_layer_variables():
    text = """\
    inputs = keras.Input((8, 8, 1))
    conv = layers.Conv2D(4, 3)
    x = layers.Flatten()(conv(inputs))
    model = keras.Model(inputs, layers.Dense(2)(x))
    """
    spec = parse_model(textwrap.dedent(text))
    assert summary(spec) == [("Conv2D", "conv2d", 3), ("Flatten", "flatten", 3), ("Dense", "dense", 4)]


def test_unrelated_code_is_ignored():
    text = """\
    import matplotlib.pyplot as plt
    x = np.zeros((3, 3))
    inputs = keras.Input((28, 28))
    x = layers.Flatten()(inputs)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer='adam', loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x_train, y_train, epochs=10, validation_data=(x_test, y_test))
    plt.plot(history.history['accuracy'])
    if __name__ == "__main__":
        main()
    """
    assert kinds(parse_model(textwrap.dedent(text))) == ["Flatten", "Dense"]


# ---------------------------------------------------------------- TOML and JSON


TOML_MODEL = """\
name = "cifar_model_small"
input_shape = [32, 32, 3]

[[layers]]
kind = "Conv2D"
filters = 32
kernel_size = [3, 3]
activation = "relu"

[[layers]]
kind = "MaxPool2D"

[[layers]]
kind = "Flatten"

[[layers]]
kind = "Dense"
units = 10
"""


def test_toml_model():
    spec = parse_model(TOML_MODEL, source="m.toml")
    assert (spec.name, spec.input_shape) == ("cifar_model_small", (32, 32, 3))
    assert kinds(spec) == ["Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert spec.layers[0].args["kernel_size"] == (3, 3)


def test_toml_inline_tables_and_name_fallback():
    text = 'input_shape = "28x28x1"\nlayers = [{kind = "Flatten"}, {kind = "Dense", units = 10}]\n'
    spec = parse_model(text, name="fallback")
    assert (spec.name, spec.input_shape, kinds(spec)) == ("fallback", (28, 28, 1), ["Flatten", "Dense"])


def test_json_model_roundtrips_to_dict():
    spec = parse_model(MNIST_CONVNET)
    import json

    again = parse_model(json.dumps(spec.to_dict()))
    assert again.to_dict() == spec.to_dict()


def test_json_with_typographic_quotes():
    text = "{\u201clayers\u201d: [{\u201ckind\u201d: \u201cFlatten\u201d}], \u201cinput_shape\u201d: [2, 2]}"
    assert kinds(parse_model(text)) == ["Flatten"]


# ---------------------------------------------------------------- errors, exactly


def test_error_unknown_layer_names_line_and_known_layers():
    msg = error("Conv2D(8, 3)\nConv3D(8, 3)\n", source="m.txt")
    assert msg == (
        "m.txt: line 2: unknown layer 'Conv3D'; cnnlab knows Conv2D, MaxPooling2D, AveragePooling2D, "
        "GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense, Dropout, BatchNormalization, "
        "Activation, ReLU"
    )


def test_error_unknown_argument():
    msg = error("model = keras.Sequential([\n  layers.Dense(10, kernel_initializer='he_normal'),\n])")
    assert msg == (
        "<stdin>: line 2: Dense: kernel_initializer='he_normal' is not supported; cnnlab supports "
        "only kernel_initializer='glorot_uniform' (Keras's default), so remove the argument"
    )
    msg = error("Dense(10, kernel_size=3)")
    assert msg == (
        "<stdin>: line 1: Dense: unknown argument 'kernel_size'; "
        "Dense takes units, activation, use_bias, name, input_shape"
    )


def test_error_wrong_type():
    msg = error("inputs = keras.Input((28, 28, 1))\nx = layers.Conv2D('32', 3)(inputs)")
    assert msg == "<stdin>: line 2: Conv2D: filters='32' should be a positive integer"
    msg = error("Dense(10, activation='gelu')")
    assert msg == (
        "<stdin>: line 1: Dense: activation='gelu' should be one of 'relu', 'sigmoid', 'tanh', "
        "'softmax', 'linear' or None"
    )


def test_error_missing_argument_and_too_many_positionals():
    assert error("Dense()") == "<stdin>: line 1: Dense: missing required argument 'units'"
    assert error("Dropout(0.5, None, 3, 4)") == (
        "<stdin>: line 1: Dropout: too many positional arguments (4); "
        "Dropout takes rate, noise_shape, seed in that order, others by name"
    )
    assert error("Dropout(0.5, None)") == (
        "<stdin>: line 1: Dropout: unknown argument 'noise_shape'; Dropout takes rate, name, input_shape"
    )


def test_error_value_that_needs_running_code():
    assert error("Dense(len(classes))") == (
        "<stdin>: line 1: Dense: units=len(classes) is not a value cnnlab can work out without "
        "running the code; write the value itself, e.g. units=10"
    )


def test_error_unparseable_text_names_the_line():
    assert error("Conv2D(32, (3, 3), activation='relu')\nMaxPooling2D((2, 2)\nFlatten()\n") == (
        "<stdin>: line 2: cannot read 'MaxPooling2D((2, 2)' as a layer or Keras code "
        "('(' was never closed); check its brackets and quotes"
    )
    assert error("Here is my model:\nDense(10)") == (
        "<stdin>: line 1: cannot read 'Here is my model:' as a layer or Keras code "
        "(invalid syntax); check its brackets and quotes"
    )


def test_error_branches():
    residual = """\
    inputs = keras.Input(shape=(32, 32, 3))
    a = layers.Conv2D(8, 3, padding='same')(inputs)
    b = layers.Conv2D(8, 1)(inputs)
    x = layers.add([a, b])
    outputs = layers.Dense(10)(layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    """
    assert error(residual) == (
        "<stdin>: line 4: the model has branches (add of a, b), which cnnlab does not support yet; "
        "give it one chain of layers from the Input to the output"
    )
    concat = residual.replace("layers.add([a, b])", "layers.Concatenate()([a, b])")
    assert "the model has branches (Concatenate of a, b)" in error(concat)
    fork = """\
    inputs = keras.Input(shape=(8,))
    a = layers.Dense(8)(inputs)
    b = layers.Dense(4)(a)
    c = layers.Dense(4)(a)
    model = keras.Model(inputs, b)
    """
    assert error(fork) == (
        "<stdin>: line 4: the model has branches (a feeds the layers on lines 3 and 4), which cnnlab "
        "does not support yet; give it one chain of layers from the Input to the output"
    )
    two_in = "a = keras.Input((4,))\nb = keras.Input((4,))\nm = keras.Model(inputs=[a, b], outputs=a)"
    assert "the model has branches (2 inputs: a, b)" in error(two_in)
    two_out = "a = keras.Input((4,))\nb = layers.Dense(2)(a)\nm = keras.Model(a, [b, a])"
    assert "the model has branches (2 outputs: b, a)" in error(two_out)
    shared = "i = keras.Input((4,))\nd = layers.Dense(4)\nx = d(i)\ny = d(x)\nm = keras.Model(i, y)"
    assert "applied a second time (shared weights" in error(shared)


def test_error_shuffled_lines_with_reused_names():
    text = """\
    x = layers.MaxPooling2D((2, 2))(x)
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3)(inputs)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10)(x)
    """
    assert error(text) == (
        "<stdin>: line 1: x is used before it is assigned, and it is assigned 3 times "
        "(lines 1, 3, 4), so the order of the lines matters and cnnlab cannot tell it. In a "
        "notebook this line would take the x left over from an earlier cell, and line 3 "
        "overwrites its result. Put the lines in the lesson's order (move line 1 below line 3), "
        "or give each result its own name (x1, x2, ...)"
    )
    dangling = """\
    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3)(inputs)
    outputs = layers.Dense(10)(x)
    x = layers.Flatten()(x)
    model = keras.Model(inputs, outputs)
    """
    assert error(dangling) == (
        "<stdin>: line 4: the model has branches (x feeds the layers on lines 3 and 4), which "
        "cnnlab does not support yet; give it one chain of layers from the Input to the output (or, "
        "if lines are out of order, put them back: x is assigned several times, so the order of "
        "the lines matters)"
    )
    unused = dangling.replace("layers.Flatten()(x)", "layers.Flatten()(other)") + "other = keras.Input((2,))"
    assert error(unused) == (
        "<stdin>: line 4: the result of this line (x) is never used by the model; x is assigned "
        "several times, so the order of the lines matters: put the lines back in order, or give "
        "each result its own name (x1, x2, ...)"
    )


def test_error_undefined_names_and_models():
    assert error("x = layers.Dense(3)(inp)\nm = keras.Model(inp, x)") == (
        "<stdin>: line 1: the layer on line 1 uses inp, which no Input or layer call assigns; "
        "start the model with inputs = keras.Input(shape=(H, W, C))"
    )
    two = "a = keras.Sequential([layers.Dense(2)])\nb = keras.Sequential([layers.Dense(3)])"
    assert error(two) == (
        "<stdin>: the code builds 2 models (1: sequential; 2: sequential_1); keep only the one you want in "
        "the file (cnnlab summary FILE prints each; summary --model N picks one)"
    )
    sub = "class Net(keras.Model):\n    def call(self, x):\n        return x"
    assert error(sub).startswith("<stdin>: line 1: class Net subclasses keras.Model; cnnlab reads")
    assert error("i = keras.Input((4,))\nm = keras.Model(i, i)") == (
        "<stdin>: the model has no layers; add at least one, e.g. Dense(10)"
    )


def test_error_empty_and_binary_and_layerless_text():
    assert error("  \n# nothing\n") == "<stdin>: the model has no layers; add at least one, e.g. Dense(10)"
    assert error("") == "<stdin>: the model text is empty; give one layer per line, Keras code, TOML or JSON"
    assert "NUL bytes" in error("Dense(1)\x00")
    assert error("import keras\n") == "<stdin>: the model has no layers; add at least one, e.g. Dense(10)"


def test_error_input_in_the_wrong_place():
    assert error("Dense(10)\nInput((4,))") == "<stdin>: line 2: the Input must come before the layers"
    assert error("Input((0, 4))\nDense(2)").startswith("<stdin>: line 1: Input shape (0, 4) must hold positive")


def test_error_toml_and_json_name_the_line():
    bad = TOML_MODEL.replace('kind = "Flatten"', 'kind = "Flaten"')
    assert error(bad) == (
        "<stdin>: line 13: unknown layer 'Flaten'; cnnlab knows Conv2D, MaxPooling2D, AveragePooling2D, "
        "GlobalAveragePooling2D, GlobalMaxPooling2D, Flatten, Dense, Dropout, BatchNormalization, "
        "Activation, ReLU"
    )
    assert error('[[layers]]\nkind = "Dense"\nunits = \n') == (
        "<stdin>: line 3: not valid TOML (Invalid value, column 9)"
    )
    assert error('{"layers": [{"kind": "Dense"}]}') == (
        "<stdin>: layer 1: Dense: missing required argument 'units'"
    )
    assert error('{"layers": [}') == "<stdin>: line 1: not valid JSON (Expecting value, column 13)"
    assert error('{"name": "x"}') == (
        "<stdin>: a model file needs a 'layers' list, e.g. [[layers]] kind = 'Dense'"
    )


def test_equal_to_specs_built_directly():
    expected = new_spec(
        "cifar_model",
        [make_layer("Conv2D", {"filters": 32, "kernel_size": 3, "activation": "relu"}),
         make_layer("MaxPooling2D", {}), make_layer("Flatten", {}), make_layer("Dense", {"units": 10})],
        input_shape=(32, 32, 3),
    )  # fmt: skip
    text = "i = Input((32,32,3)); x = Conv2D(32, 3, activation='relu')(i); x = MaxPooling2D()(x)\n"
    text += "x = Flatten()(x); o = Dense(10)(x); model = Model(i, o, name='cifar_model')"
    assert parse_model(text).to_dict() == expected.to_dict()


# ---------------------------------------------------------------- property-based: render, parse, compare

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PREFIXES = ["", "layers.", "keras.layers.", "tf.keras.layers.", "tensorflow.keras.layers."]
QUOTES = [("'", "'"), ('"', '"'), ("\u2018", "\u2019"), ("\u201c", "\u201d"), ("\u2019", "\u2019")]
ALIAS = {"Conv2D": ["Conv2D", "Convolution2D"], "MaxPooling2D": ["MaxPooling2D", "MaxPool2D"],
         "AveragePooling2D": ["AveragePooling2D", "AvgPool2D"],
         "GlobalAveragePooling2D": ["GlobalAveragePooling2D", "GlobalAvgPool2D"],
         "GlobalMaxPooling2D": ["GlobalMaxPooling2D", "GlobalMaxPool2D"]}  # fmt: skip
ORDER = {"Conv2D": ["filters", "kernel_size", "strides", "padding"],
         "MaxPooling2D": ["pool_size", "strides", "padding"],
         "AveragePooling2D": ["pool_size", "strides", "padding"],
         "Dense": ["units", "activation", "use_bias"], "Dropout": ["rate"],
         "Activation": ["activation"]}  # fmt: skip

sizes = st.integers(1, 7)
pairs = st.one_of(sizes, st.tuples(sizes, sizes))
activations = st.sampled_from([None, "relu", "sigmoid", "tanh", "softmax", "linear"])


def optional(**fields):
    """A dict strategy where every field may be left out (Keras's default then applies)."""
    return st.fixed_dictionaries({}, optional=fields)


LAYER_STRATEGIES = {
    "Conv2D": st.fixed_dictionaries(
        {"filters": st.integers(1, 128), "kernel_size": pairs},
        optional={"strides": pairs, "padding": st.sampled_from(["valid", "same"]),
                  "activation": activations, "use_bias": st.booleans()},
    ),  # fmt: skip
    "MaxPooling2D": optional(pool_size=pairs, strides=pairs, padding=st.sampled_from(["valid", "same"])),
    "AveragePooling2D": st.fixed_dictionaries(  # Keras 3 has no default pool_size here
        {"pool_size": pairs}, optional={"padding": st.sampled_from(["valid", "same"])}),
    "GlobalAveragePooling2D": st.just({}),
    "GlobalMaxPooling2D": st.just({}),
    "Flatten": st.just({}),
    "Dense": st.fixed_dictionaries(
        {"units": st.integers(1, 512)}, optional={"activation": activations, "use_bias": st.booleans()}
    ),
    "Dropout": st.fixed_dictionaries({"rate": st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75])}),
    "BatchNormalization": optional(momentum=st.sampled_from([0.9, 0.99]), epsilon=st.sampled_from([1e-3, 1e-5])),
    "Activation": st.fixed_dictionaries({"activation": activations.filter(lambda a: a is not None)}),
    "ReLU": st.just({}),
}


@st.composite
def layer_stacks(draw):
    kinds_ = draw(st.lists(st.sampled_from(sorted(LAYER_STRATEGIES)), min_size=1, max_size=7))
    layers = []
    for i, kind in enumerate(kinds_):
        args = dict(draw(LAYER_STRATEGIES[kind]))
        if draw(st.integers(0, 9)) == 0:
            args["name"] = f"my_{kind.lower()}_{i}"
        layers.append((kind, args))
    shape = draw(st.one_of(st.none(), st.lists(st.integers(1, 64), min_size=1, max_size=3).map(tuple)))
    return layers, shape


class Renderer:
    def __init__(self, draw):
        self.draw = draw
        self.constants: list[str] = []  # `n_1 = 32` lines for values given through names

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def string(self, s):
        left, right = self.pick(QUOTES)
        return f"{left}{s}{right}"

    def value(self, key, v, named=True):
        if named and isinstance(v, (int, tuple)) and not isinstance(v, bool) and self.draw(st.integers(0, 7)) == 0:
            name = f"n_{len(self.constants)}"
            self.constants.append(f"{name} = {self.value(key, v, named=False)}")
            return name
        if isinstance(v, str):
            if key == "activation" and v != "linear" and self.draw(st.booleans()):
                return self.pick(["tf.nn.", "keras.activations.", "activations."]) + v
            return self.string(v)
        if isinstance(v, tuple):
            if key in ("kernel_size", "pool_size", "strides") and v[0] == v[1] and self.draw(st.booleans()):
                return str(v[0])
            inner = ", ".join(str(x) for x in v)
            return self.pick([f"({inner}{',' if len(v) == 1 else ''})", f"[{inner}]"])
        return repr(v)

    def layer(self, kind, args, extra=None):
        args = dict(args)
        if extra:
            args.update(extra)
        order = ORDER.get(kind, [])
        n = 0
        while n < len(order) and order[n] in args:
            n += 1
        n = self.draw(st.integers(0, n))
        parts = [self.value(k, args[k]) for k in order[:n]]
        rest = [k for k in args if k not in order[:n]]
        rest = self.draw(st.permutations(rest))
        parts += [f"{k}={self.value(k, args[k])}" for k in rest]
        name = self.pick(ALIAS.get(kind, [kind]))
        return f"{self.pick(PREFIXES)}{name}({', '.join(parts)})"

    def shape(self, shape):
        inner = ", ".join(str(x) for x in shape) + ("," if len(shape) == 1 else "")
        return self.pick([f"shape=({inner})", f"({inner})"])

    def input(self, shape):
        return self.pick(["Input", "keras.Input", "layers.Input", "tf.keras.Input"]) + f"({self.shape(shape)})"


@st.composite
def rendered_models(draw):
    """(text, expected spec, may shuffle/join) in a random style."""
    layers, shape = draw(layer_stacks())
    r = Renderer(draw)
    style = draw(st.sampled_from(["layer_file", "sequential", "sequential_add", "functional", "functional_unique"]))
    name = draw(st.sampled_from([None, "my_model", "cifar_model"]))
    hint = None
    lines = []
    first_kw = {}
    if style in ("functional", "functional_unique"):
        if shape is None:
            hint = "train_images.shape[1:]"
            lines.append(f"inputs = keras.Input(shape={hint})")
        else:
            lines.append(f"inputs = {r.input(shape)}")
        prev = "inputs"
        for i, (kind, args) in enumerate(layers):
            last = i == len(layers) - 1
            var = "outputs" if last else ("x" if style == "functional" else f"x{i + 1}")
            lines.append(f"{var} = {r.layer(kind, args)}({prev})")
            prev = var
        name_kw = f", name={r.string(name)}" if name else ""
        lines.append(r.pick([f"model = keras.Model(inputs=inputs, outputs=outputs{name_kw})",
                             f"model = Model(inputs, outputs{name_kw})"]))  # fmt: skip
        default = "functional"
    else:
        if shape is not None:
            how = draw(st.sampled_from(["input", "input_shape"]))
            if how == "input_shape" and style != "layer_file":
                first_kw = {"input_shape": shape}
            else:
                lines.append(r.input(shape))
        calls = [r.layer(kind, args, first_kw if i == 0 else None) for i, (kind, args) in enumerate(layers)]
        lines += calls
        default = "sequential"
        name_kw = f"name={r.string(name)}" if name else ""
        if style == "layer_file":
            if draw(st.booleans()):
                lines.insert(0, "# " + draw(st.sampled_from(["my model", "from the lesson", "Model: x"])))
        elif style == "sequential":
            body = ",\n    ".join(lines)
            sep = ", " if name_kw else ""
            lines = [r.pick(["model = keras.Sequential([", "model = Sequential(["]), "    " + body, f"]{sep}{name_kw})"]
        else:
            head = r.pick(["model = keras.Sequential(", "model = models.Sequential(", "model = Sequential("])
            lines = [head + name_kw + ")"] + [f"model.add({c})" for c in lines]
    if style == "layer_file" and name is not None:
        expected_name = name
        call_name = name
    else:
        expected_name = name or default
        call_name = None
    lines = r.constants + lines
    built = [make_layer(kind, dict(args)) for kind, args in layers]
    expected = new_spec(expected_name, built, shape, functional=style.startswith("functional"), input_hint=hint)
    return lines, style, expected, call_name


def compare(spec, expected):
    assert spec.to_dict() == expected.to_dict()
    assert spec.input_hint == expected.input_hint


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered_models())
def test_rendered_models_parse_back(model):
    lines, style, expected, name = model
    compare(parse_model("\n".join(lines), name=name), expected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered_models(), st.data())
def test_rendered_models_survive_pasting(model, data):
    """Joined lines, shuffled lines (unique names), prompts, indentation and odd spaces."""
    lines, style, expected, name = model
    if style == "functional_unique" and data.draw(st.booleans(), "shuffle"):
        lines = data.draw(st.permutations(lines), "order")
    how = data.draw(st.sampled_from(["join", "prompt", "indent", "nbsp", "crlf"]), "how")
    if how == "join":
        comments = [line + "\n" for line in lines if line.startswith("#")]  # would swallow the rest
        code = [line for line in lines if not line.startswith("#")]
        text = "".join(comments) + data.draw(st.sampled_from([" ", "  ", "\u00a0"]), "sep").join(code)
    elif how == "prompt":
        physical = "\n".join(lines).split("\n")
        text = "\n".join(("... " if line.startswith((" ", "]")) else ">>> ") + line for line in physical)
        text += "\nModel: \"whatever\"\n"
    elif how == "indent":
        text = "\n".join("    " + line for line in lines)
    elif how == "nbsp":
        text = "\n".join(line.replace(" ", "\u00a0") for line in lines)
    else:
        text = "\r\n".join(lines) + "\r\n"
    compare(parse_model(text, name=name), expected)


GARBAGE = list("()[]{}=,.:;'\"#\n \t0123456789abxyzCDLN_+-*/\\@>%!`\u2019\u201c") + [
    "Conv2D", "Dense(", "keras.Input(", "layers.", "x = ", "(x)", "Model(", "Sequential([", "model.add(",
    "[[layers]]\n", "kind = ", '{"layers": [', "\u00a0", ">>> ", "In [1]: ", "def f():\n", "inputs", "**",
    "shape=", "input_shape=", "None", "9**99999", "lambda", "import keras ", "class M(keras.Model):",
]  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(st.sampled_from(GARBAGE), max_size=40).map("".join), st.text(max_size=60)))
def test_garbage_parses_or_raises_model_error(text):
    try:
        spec = parse_model(text)
    except ModelError as err:
        assert str(err).startswith("<stdin>: ")
    else:
        assert isinstance(spec, ModelSpec) and spec.layers


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rendered_models(), st.data())
def test_damaged_models_parse_or_raise_model_error(model, data):
    text = "\n".join(model[0])
    for _ in range(data.draw(st.integers(1, 4), "cuts")):
        i = data.draw(st.integers(0, len(text)), "at")
        j = data.draw(st.integers(i, min(len(text), i + 5)), "to")
        text = text[:i] + data.draw(st.sampled_from(["", "(", ")", "'", ",", "\n", " x = "]), "with") + text[j:]
    try:
        parse_model(text)
    except ModelError:
        pass


# ---------------------------------------------------------------- more pasting, more corners


def test_ipython_console_and_numbered_lines():
    text = "In [3]: model = keras.Sequential([\n   ...:     layers.Dense(3, input_shape=(4,)),\n   ...: ])\n"
    assert summary(parse_model(text)) == [("Dense", "dense", 2)]
    numbered = """\
    1 import keras
    2 from keras import layers
    3
    4 inputs = keras.Input(shape=(28, 28, 1))
    5 x = layers.Conv2D(8, 3)(inputs)
    6     x = layers.Flatten()(x)
    7 outputs = layers.Dense(10)(x)
    """
    spec = parse_model(textwrap.dedent(numbered))
    assert spec.input_shape == (28, 28, 1)
    assert summary(spec) == [("Conv2D", "conv2d", 5), ("Flatten", "flatten", 6), ("Dense", "dense", 7)]


def test_input_shapes_cnnlab_cannot_fix_become_hints():
    spec = parse_model("Input(shape=(None, None, 3))\nConv2D(3, 3)")
    assert (spec.input_shape, spec.input_hint) == (None, "(None, None, 3)")
    spec = parse_model("Input(batch_shape=(None, 28, 28, 1))\nFlatten()")
    assert (spec.input_shape, spec.input_hint) == ((28, 28, 1), None)
    spec = parse_model("def get_model(X_TRAIN_SHAPE):\n    model = Sequential()\n"
                       "    model.add(Conv2D(32, (3, 3), input_shape=X_TRAIN_SHAPE))\n    return model")  # fmt: skip
    assert (spec.input_shape, spec.input_hint) == (None, "X_TRAIN_SHAPE")
    spec = parse_model("inputs = keras.Input((28, 28) + (1,))\nx = layers.Dense(2)(inputs)")
    assert spec.input_shape == (28, 28, 1)


def test_application_keywords_and_python2_print_are_tolerated():
    text = """\
    inputs = keras.Input((16,))
    x = layers.Dropout(0.5)(inputs, training=True)
    outputs = layers.Dense(2)(x)
    model = keras.Model(inputs, outputs)
    print model.summary()
    """
    assert kinds(parse_model(textwrap.dedent(text))) == ["Dropout", "Dense"]


def test_error_value_through_a_name_shows_where_it_came_from():
    text = "num_classes = len(class_names)\nmodel = keras.Sequential([layers.Dense(num_classes)])"
    assert error(text) == (
        "<stdin>: line 2: Dense: units=num_classes (from num_classes = len(class_names)) is not a "
        "value cnnlab can work out without running the code; write the value itself, e.g. units=10"
    )


@pytest.mark.parametrize(
    "text",
    ["Dense(" + "-" * 100_000 + "1)", "Dense(" + "1+" * 100_000 + "1)", "(" * 1000 + ")" * 1000,
     "Dense(" + "[" * 100 + "1" + "]" * 100 + ")", "Dense(2**10**10)", "a = b\nb = a\nDense(a)"],
)  # fmt: skip
def test_pathological_text_raises_model_error(text):
    with pytest.raises(ModelError):
        parse_model(text)


def test_carpentries_code_with_every_line_break_lost():
    text = " ".join(line for line in CIFAR_FUNCTIONAL.splitlines() if line and not line.startswith("#"))
    text = text.replace("'", "\u2019")
    spec = parse_model(text)
    assert (spec.name, spec.input_hint, kinds(spec)) == ("cifar_model", "train_images.shape[1:]", CIFAR_KINDS)


def test_statements_starting_with_a_bracket_after_lost_line_breaks():
    text = "import numpy as np (x, y), (a, b) = data() [print(v) for v in y] m = Sequential([Dense(3)])"
    assert kinds(parse_model(text)) == ["Dense"]
    assert kinds(parse_model("from keras.layers import Dense (x, y) = 1, 2 Dense(3)")) == ["Dense"]


def test_sequential_lines_out_of_order_use_names_defined_later():
    text = """\
    model = keras.Sequential(name=model_name)
    model.add(layers.InputLayer(input_shape=(28, 28, 1)))
    model.add(conv)
    model.add(layers.Flatten())
    conv = layers.Conv2D(n, 3)
    model_name = 'late'
    n = 8
    """
    spec = parse_model(textwrap.dedent(text))
    assert (spec.name, spec.input_shape) == ("late", (28, 28, 1))
    assert summary(spec) == [("Conv2D", "conv2d", 3), ("Flatten", "flatten", 4)]
    assert spec.layers[0].args["filters"] == 8


def test_application_wrapped_onto_the_next_line():
    text = """\
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, (3, 3), activation='relu')
    (inputs)
    outputs = keras.layers.Dense(10)(keras.layers.Flatten()
    (x))
    model = keras.Model(inputs, outputs)
    """
    assert summary(parse_model(textwrap.dedent(text))) == [
        ("Conv2D", "conv2d", 2), ("Flatten", "flatten", 4), ("Dense", "dense", 4),
    ]  # fmt: skip


def test_batch_input_shape_and_subscripts():
    spec = parse_model("Dense(4, batch_input_shape=(None, 16))\nDense(2)")
    assert spec.input_shape == (16,)
    spec = parse_model("shape = (1, 28, 28, 1)\nInput(shape[1:])\nConv2D(4, shape[1] // 7)")
    assert spec.input_shape == (28, 28, 1)
    assert spec.layers[0].args["kernel_size"] == (4, 4)
    spec = parse_model("Dense(4, batch_input_shape=x.shape)\nDense(2)")
    assert (spec.input_shape, spec.input_hint) == (None, "x.shape[1:]")


def test_error_activation_objects_and_nested_models():
    assert error("Conv2D(8, 3, activation=keras.layers.LeakyReLU(0.1))") == (
        "<stdin>: line 1: Conv2D: activation='keras.layers.LeakyReLU(0.1)' should be one of "
        "'relu', 'sigmoid', 'tanh', 'softmax', 'linear' or None"
    )
    text = """\
    data_augmentation = keras.Sequential([layers.RandomFlip("horizontal")])
    inputs = keras.Input(shape=(32, 32, 3))
    x = data_augmentation(inputs)
    outputs = layers.Dense(10)(layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    """
    assert error(text) == (
        "<stdin>: line 3: data_augmentation (the Sequential model on line 1) is used as a layer; "
        "cnnlab does not support models inside models yet: put its layers into the model itself"
    )
