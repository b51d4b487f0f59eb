"""The same model-building code run with Keras (the oracle) and with cnnlab.keras.

Each case is a function of the keras module; both runs start from a cleared session, so the
automatic names, summaries (character for character), parameter counts and output shapes
of every model the code builds must be equal.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab import keras as ck
from cnnlab.models.layers import ModelError

keras = pytest.importorskip("keras")


def observe(k, build) -> list[dict]:
    """What the learner sees of every model `build(k)` returns."""
    k.backend.clear_session()
    seen = []
    for model in build(k):
        lines = []
        model.summary(print_fn=lines.append)
        seen.append({
            "summary": "".join(lines),
            "params": model.count_params(),
            "name": model.name,
            "layers": [layer.name for layer in model.layers],
            "output_shape": tuple(model.outputs[0].shape),
            "input_shape": tuple(model.inputs[0].shape),
        })
    return seen


def same(build) -> list[dict]:
    expected, got = observe(keras, build), observe(ck, build)
    for e, g in zip(expected, got):
        assert g["summary"] == e["summary"]
        assert g == e
    assert len(got) == len(expected)
    return got


def functional(shape, *layers_of, name=None):
    """A builder: keras.Input(shape), the layers made by each `layers_of(k)`, keras.Model."""

    def build(k):
        inputs = k.Input(shape=shape)
        x = inputs
        for make in layers_of:
            x = make(k)(x)
        return [k.Model(inputs=inputs, outputs=x, name=name)]

    return build


L = lambda cls, *a, **kw: (lambda k: getattr(k.layers, cls)(*a, **kw))  # noqa: E731

LAYER_CASES = {
    "conv_defaults": ((28, 28, 1), [L("Conv2D", 8, 3)]),
    "conv_positional": ((28, 28, 3), [L("Conv2D", 16, (5, 3), (2, 1), "same")]),
    "conv_keywords": ((32, 32, 3), [L("Conv2D", filters=4, kernel_size=(3, 3), strides=2,
                                      padding="valid", activation="relu", use_bias=False)]),
    "conv_1x1_strided": ((9, 9, 2), [L("Conv2D", 3, 1, strides=2)]),
    "conv_defaults_spelled": ((8, 8, 1), [L("Conv2D", 2, 3, data_format="channels_last",
                                            dilation_rate=(1, 1), groups=1,
                                            kernel_initializer="glorot_uniform",
                                            bias_initializer="zeros")]),
    "convolution2d_alias": ((8, 8, 1), [L("Convolution2D", 2, 3)]),
    "maxpool": ((28, 28, 3), [L("MaxPooling2D")]),
    "maxpool_alias_args": ((27, 27, 3), [L("MaxPool2D", (3, 3), 2, "same")]),
    "avgpool": ((28, 28, 3), [L("AveragePooling2D", pool_size=3)]),
    "avgpool_alias": ((10, 10, 3), [L("AvgPool2D", 2, padding="same")]),
    "global_avg": ((7, 7, 5), [L("GlobalAveragePooling2D")]),
    "global_avg_alias": ((7, 7, 5), [L("GlobalAvgPool2D")]),
    "global_max": ((7, 7, 5), [L("GlobalMaxPooling2D")]),
    "global_max_alias": ((7, 7, 5), [L("GlobalMaxPool2D", keepdims=False)]),
    "flatten_dense": ((4, 4, 2), [L("Flatten"), L("Dense", 10)]),
    "dense_on_grid": ((4, 4, 2), [L("Dense", 3, activation="relu")]),
    "dense_no_bias": ((12,), [L("Dense", units=5, use_bias=False, activation="softmax")]),
    "dropout": ((6, 6, 1), [L("Dropout", 0.5), L("Dropout", rate=0.25, seed=3)]),
    "batchnorm": ((6, 6, 4), [L("BatchNormalization"), L("BatchNormalization", momentum=0.9,
                                                          epsilon=1e-3)]),
    "batchnorm_flat": ((6,), [L("BatchNormalization")]),
    "activation": ((6, 6, 4), [L("Activation", "relu"), L("Activation", "sigmoid"),
                               L("Activation", activation="tanh"), L("Activation", "softmax")]),
    "relu": ((6, 6, 4), [L("ReLU"), L("ReLU")]),
    "activation_function": ((6,), [lambda k: k.layers.Dense(3, activation=k.activations.relu)]),
    "named_layers": ((28, 28, 1), [L("Conv2D", 4, 3, name="first"), L("Flatten", name="flat"),
                                   L("Dense", 10, name="scores")]),
}


@pytest.mark.parametrize("case", LAYER_CASES, ids=list(LAYER_CASES))
def test_each_layer_and_argument_as_keras(case):
    shape, makers = LAYER_CASES[case]
    same(functional(shape, *makers))


def lesson_model(k, inputs_shape=(32, 32, 3)):
    inputs = k.Input(shape=inputs_shape)
    x = k.layers.Conv2D(50, (3, 3), activation="relu")(inputs)
    x = k.layers.MaxPooling2D((2, 2))(x)
    x = k.layers.Conv2D(50, (3, 3), activation="relu")(x)
    x = k.layers.MaxPooling2D((2, 2))(x)
    x = k.layers.Flatten()(x)
    x = k.layers.Dense(50, activation="relu")(x)
    outputs = k.layers.Dense(10)(x)
    return k.Model(inputs=inputs, outputs=outputs, name="cifar_model_small")


def test_a_notebook_sequence_of_models_is_named_as_keras_names_it():
    def build(k):
        out = [lesson_model(k), lesson_model(k), lesson_model(k, (28, 28, 1))]
        seq = k.Sequential([k.Input(shape=(28, 28, 1)), k.layers.Conv2D(8, 3), k.layers.BatchNormalization(),
                            k.layers.ReLU(), k.layers.GlobalAvgPool2D(), k.layers.Dense(10)])
        added = k.Sequential(name="added")
        added.add(k.Input(shape=(8, 8, 1)))
        added.add(k.layers.Flatten())
        added.add(k.layers.Dense(4))
        legacy = k.Sequential([k.layers.Dense(4, input_shape=(5,)), k.layers.Dense(2)])
        old_input = k.Sequential([k.layers.InputLayer(input_shape=(6,)), k.layers.Dense(2)])
        inputs = k.layers.Input(shape=(8, 8, 3))
        unnamed = k.Model(inputs, k.layers.Dense(2)(k.layers.Flatten()(inputs)))
        return [*out, seq, added, legacy, old_input, unnamed]

    seen = same(build)
    assert [m["name"] for m in seen] == ["cifar_model_small"] * 3 + ["sequential", "added", "sequential_1",
                                                                      "sequential_2", "functional_5"]


def test_an_unbuilt_sequential_summary_is_keras_text():
    def build(k):
        model = k.Sequential(name="later")
        model.add(k.layers.Conv2D(8, 3))
        model.add(k.layers.BatchNormalization())
        model.add(k.layers.Dense(10))
        return [model]

    texts = []
    for k in (keras, ck):
        k.backend.clear_session()
        lines = []
        build(k)[0].summary(print_fn=lines.append)
        texts.append("".join(lines))
    assert texts[1] == texts[0] and "0 (unbuilt)" in texts[1]


def test_clear_session_restarts_the_names():
    def build(k):
        first = lesson_model(k)
        k.backend.clear_session()
        return [first, lesson_model(k)]

    seen = same(build)
    assert seen[0]["layers"] == seen[1]["layers"]


def test_model_attributes_match_keras():
    for k in (keras, ck):
        k.backend.clear_session()
    km, cm = lesson_model(keras), lesson_model(ck)
    assert [repr(t) for t in cm.inputs] == [repr(t) for t in km.inputs]
    assert cm.get_layer("conv2d_1").count_params() == km.get_layer("conv2d_1").count_params()
    assert cm.get_layer(index=0).name == km.get_layer(index=0).name == "input_layer"
    assert cm.input_shape == km.input_shape and cm.output_shape == km.output_shape
    assert [layer.name for layer in cm.layers] == [layer.name for layer in km.layers]


def test_summary_prints_to_stdout_and_takes_line_length(capsys):
    ck.backend.clear_session()
    model = lesson_model(ck)
    model.summary()
    out, err = capsys.readouterr()
    assert out.startswith('Model: "cifar_model_small"') and "Total params: 114,510" in out and not err
    keras.backend.clear_session()
    lines = []
    lesson_model(keras).summary(line_length=60, print_fn=lambda t, line_break=None: lines.append(t))
    got = []
    model.summary(line_length=60, print_fn=got.append)
    assert got == lines


def test_summary_after_training_counts_the_optimizer_as_keras_does():
    import numpy as np

    x = np.random.default_rng(0).random((40, 8, 8, 1)).astype("float32")
    y = np.arange(40) % 3
    seen = {}
    for k in (keras, ck):
        k.backend.clear_session()
        for optimizer in ("adam", "sgd", "rmsprop"):
            model = k.Sequential([k.Input(shape=(8, 8, 1)), k.layers.Conv2D(2, 3), k.layers.Flatten(),
                                  k.layers.Dense(3)])
            model.compile(optimizer=optimizer,
                          loss=k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
            model.fit(x, y, epochs=1, verbose=0)
            lines = []
            model.summary(print_fn=lines.append)
            seen.setdefault(optimizer, []).append("".join(lines).splitlines()[-4:])
    for optimizer, (expected, got) in seen.items():
        assert got == expected, optimizer


@st.composite
def stacks(draw):
    """A random valid image stack: conv/pool blocks, then a head."""
    size = draw(st.integers(8, 20))
    channels = draw(st.sampled_from([1, 3]))
    body = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "pool", "bn", "drop", "relu"]))
        if kind == "conv":
            args = (draw(st.integers(1, 6)), draw(st.integers(1, 3)))
            kw = {"padding": draw(st.sampled_from(["valid", "same"])),
                  "strides": draw(st.integers(1, 2)),
                  "activation": draw(st.sampled_from([None, "relu", "tanh"]))}
            body.append(("Conv2D", args, kw))
        elif kind == "pool":
            body.append((draw(st.sampled_from(["MaxPooling2D", "AveragePooling2D"])), (2,),
                         {"padding": "same"}))
        elif kind == "bn":
            body.append(("BatchNormalization", (), {}))
        elif kind == "drop":
            body.append(("Dropout", (draw(st.sampled_from([0.1, 0.5])),), {}))
        else:
            body.append(("ReLU", (), {}))
    head = draw(st.sampled_from([["Flatten"], ["GlobalAveragePooling2D"], ["GlobalMaxPooling2D"]]))
    body += [(h, (), {}) for h in head] + [("Dense", (draw(st.integers(2, 10)),), {})]
    sequential = draw(st.booleans())
    return (size, size, channels), body, sequential


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks())
def test_generated_stacks_as_keras(stack):
    shape, body, sequential = stack

    def build(k):
        made = [getattr(k.layers, kind)(*args, **kw) for kind, args, kw in body]
        if sequential:
            return [k.Sequential([k.Input(shape=shape), *made])]
        inputs = k.Input(shape=shape)
        x = inputs
        for layer in made:
            x = layer(x)
        return [k.Model(inputs, x)]

    same(build)


REFUSED = {
    "unknown layer": (lambda: ck.layers.LSTM(4), "keras.layers.LSTM is not supported"),
    "Lambda": (lambda: ck.layers.Lambda(lambda x: x), "keras.layers.Lambda is not supported"),
    "custom layer": (lambda: type("Mine", (ck.layers.Layer,), {})(), "custom layers (Mine)"),
    "subclassed model": (lambda: type("Net", (ck.Model,), {})(), "subclassed models (Net"),
    "regularizer": (lambda: ck.layers.Dense(3, kernel_regularizer="l2"),
                    "kernel_regularizer='l2' is not supported"),
    "dilation": (lambda: ck.layers.Conv2D(3, 3, dilation_rate=2), "dilation_rate=2 is not supported"),
    "unknown activation": (lambda: ck.layers.Dense(3, activation="gelu"), "activation='gelu'"),
    "two outputs": (lambda: _branching(), "with 2 outputs is not supported"),
    "shared layer": (lambda: _shared(), "is already used once"),
    "called on data": (lambda: ck.layers.Dense(2)(__import__("numpy").zeros((1, 3))),
                       "was called on ndarray"),
    "unknown size": (lambda: ck.Input(shape=(None, None, 3)), "needs every size known"),
    "unknown module": (lambda: ck.regularizers, "keras.regularizers is not supported"),
    "other tuner": (lambda: __import__("cnnlab.keras_tuner").keras_tuner.Hyperband,
                    "keras_tuner.Hyperband is not supported"),
}


def test_missing_names_stay_attribute_errors_for_hasattr():
    assert not hasattr(ck, "regularizers") and not hasattr(ck.layers, "LSTM")
    assert not hasattr(ck, "_repr_html_")


def _branching():
    inputs = ck.Input(shape=(8, 8, 1))
    x = ck.layers.Flatten()(inputs)
    return ck.Model(inputs, [ck.layers.Dense(2)(x), ck.layers.Dense(3)(x)])


def _shared():
    dense = ck.layers.Dense(4)
    inputs = ck.Input(shape=(4,))
    return dense(dense(inputs))


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_unsupported_features_are_refused_by_name(case):
    make, message = REFUSED[case]
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make()


def test_keras_3_signatures_are_kept():
    with pytest.raises(TypeError):
        keras.layers.AveragePooling2D()
    with pytest.raises(TypeError, match="pool_size"):
        ck.layers.AveragePooling2D()


def test_outputs_not_from_inputs_fail_as_in_keras():
    a, b = ck.Input(shape=(4,)), ck.Input(shape=(4,))
    with pytest.raises(ValueError, match="not connected to its inputs"):
        ck.Model(a, ck.layers.Dense(2)(b))


def test_a_sequential_model_without_input_is_built_by_fit_as_keras_builds_it():
    import numpy as np

    x = np.random.default_rng(0).random((16, 6, 6, 1)).astype("float32")
    y = np.arange(16) % 2

    def build(k):
        model = k.Sequential([k.layers.Conv2D(2, 3), k.layers.Flatten(), k.layers.Dense(2)])
        model.compile(optimizer="sgd", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, epochs=1, verbose=0)
        after = k.Model(*(lambda i: (i, k.layers.Dense(2)(k.layers.Flatten()(i))))(k.Input(shape=(3, 3))))
        return [model, after]

    seen = same(build)
    assert seen[1]["layers"] == ["input_layer_1", "flatten_1", "dense_1"]


def test_an_input_batch_size_shows_in_the_shapes_as_in_keras():
    same(functional((28, 28, 1), L("Conv2D", 8, 3), L("Flatten"), L("Dense", 10)))

    def build(k):
        inputs = k.Input(shape=(28, 28, 1), batch_size=128)
        return [k.Model(inputs, k.layers.Dense(10)(k.layers.Flatten()(k.layers.Conv2D(8, 3)(inputs))))]

    same(build)


def test_building_and_summarising_a_model_loads_no_torch():
    import subprocess
    import sys

    code = (
        "import sys\nfrom cnnlab import keras\n"
        "i = keras.Input(shape=(8, 8, 1))\n"
        "m = keras.Model(i, keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv2D(2, 3)(i))))\n"
        "m.summary(print_fn=lambda text: None)\nm.count_params()\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False" and done.stderr == ""
