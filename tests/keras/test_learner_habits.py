"""What a learner of the lesson writes beside its code, compared with Keras 3 (torch backend)."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab import keras as ck

keras = pytest.importorskip("keras")

RNG = np.random.default_rng(0)
X = RNG.integers(0, 256, (64, 8, 8, 2)).astype("uint8") / 255.0
Y = RNG.integers(0, 10, (64,))


def cnn(k):
    k.backend.clear_session()
    k.utils.set_random_seed(0)
    inputs = k.Input(shape=X.shape[1:])
    x = k.layers.Conv2D(3, (3, 3), activation="relu")(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.MaxPooling2D((2, 2))(x)
    x = k.layers.Dropout(0.2)(x)
    x = k.layers.Flatten()(x)
    outputs = k.layers.Dense(10)(x)
    return k.Model(inputs=inputs, outputs=outputs, name="cnn")


def layout(weights):
    return [(w.shape, w.dtype) for w in weights]


def test_each_layers_get_weights_has_keras_shapes_and_order():
    cnns = {k: cnn(k) for k in (keras, ck)}
    expected = [layout(layer.get_weights()) for layer in cnns[keras].layers]
    assert [layout(layer.get_weights()) for layer in cnns[ck].layers] == expected
    model = cnns[ck]
    assert model.layers[0].get_weights() == []  # the InputLayer, as in Keras
    gamma, beta, mean, var = model.layers[2].get_weights()  # Keras's BatchNormalization order
    assert np.all(gamma == 1) and np.all(beta == 0) and np.all(mean == 0) and np.all(var == 1)
    joined = [w for layer in model.layers for w in layer.get_weights()]
    assert all(np.array_equal(a, b) for a, b in zip(joined, model.get_weights(), strict=True))
    assert keras.layers.Dense(3).get_weights() == ck.layers.Dense(3).get_weights() == []  # not built


def test_a_layers_weights_follow_training_and_set_weights_as_in_keras():
    model = cnn(ck)
    model.compile(optimizer="adam", loss=ck.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.layers[-1].get_weights()
    model.fit(X, Y, epochs=1, verbose=0)
    kernel, bias = model.layers[-1].get_weights()
    assert not np.array_equal(kernel, before[0]) and np.array_equal(kernel, model.get_weights()[-2])
    model.layers[-1].set_weights([np.zeros_like(kernel), np.arange(10, dtype="float32")])
    assert np.allclose(model.predict(X[:3], verbose=0), np.arange(10))
    for m in (cnn(keras), model):
        with pytest.raises(ValueError, match="expecting 2 weights"):
            m.layers[1].set_weights([np.zeros((3, 3, 2, 3))])
        with pytest.raises(ValueError, match=r"weight shape \(3, 3, 2, 3\) is not compatible"):
            m.layers[1].set_weights([np.zeros((3, 3, 1, 3)), np.zeros(3)])


def fit_keys(k, metrics):
    model = cnn(k)
    model.compile(optimizer="adam", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=metrics)
    stopper = k.callbacks.EarlyStopping(monitor=f"val_{metrics[0]}", patience=1, restore_best_weights=True)
    history = model.fit(X, Y, epochs=2, verbose=0, validation_split=0.25, callbacks=[stopper])
    return list(history.history), list(model.evaluate(X, Y, verbose=0, return_dict=True))


@pytest.mark.parametrize("metric", ["acc", "sparse_categorical_accuracy", "accuracy"])
def test_history_keys_are_the_metric_as_named_in_keras_order(metric):
    assert fit_keys(ck, [metric]) == fit_keys(keras, [metric])


def test_verbose_2_shows_the_metrics_in_keras_order(capsys):
    lines = {}
    for k in (keras, ck):
        model = cnn(k)
        model.compile(optimizer="adam", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["sparse_categorical_accuracy"])
        model.fit(X, Y, epochs=1, verbose=2, validation_split=0.25)
        lines[k] = [part.split(":")[0] for part in capsys.readouterr().out.splitlines()[-1].split(" - ")[3:]]
    assert lines[ck] == lines[keras] == ["loss", "sparse_categorical_accuracy", "val_loss",
                                         "val_sparse_categorical_accuracy"]


def test_to_categorical_returns_keras_dtype_and_values():
    for labels in (Y, Y[:, None], [0, 2, 1]):
        ours, theirs = ck.utils.to_categorical(labels), keras.utils.to_categorical(labels)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape and np.array_equal(ours, theirs)


def compiled(k):
    model = cnn(k)
    model.compile(optimizer="adam", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


@pytest.mark.parametrize("k", [keras, ck], ids=["keras", "cnnlab"])
def test_get_weights_is_a_copy_that_training_leaves_alone(k):
    model = compiled(k)
    before = [w.copy() for w in model.get_weights()]
    held, layer_held = model.get_weights(), model.layers[-1].get_weights()
    model.fit(X, Y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(held, before, strict=True))
    assert np.array_equal(layer_held[1], before[-1])  # a bias: one axis, no transposing copy
    assert not np.array_equal(model.get_weights()[-1], before[-1])


@pytest.mark.parametrize("k", [keras, ck], ids=["keras", "cnnlab"])
def test_restore_best_weights_gives_back_the_best_epochs_val_loss(k):
    model = compiled(k)
    stopper = k.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(X, Y, epochs=30, verbose=0, validation_split=0.25, callbacks=[stopper])
    split = int(len(X) * 0.75)
    loss = model.evaluate(X[split:], Y[split:], verbose=0)[0]
    assert loss == pytest.approx(min(history.history["val_loss"]), rel=1e-6)


def softmax_cnn(k, loss="categorical_crossentropy", metrics=("accuracy",)):
    k.backend.clear_session()
    k.utils.set_random_seed(0)
    inputs = k.Input(shape=X.shape[1:])
    x = k.layers.Flatten()(k.layers.Conv2D(3, (3, 3), activation="relu")(inputs))
    model = k.Model(inputs, k.layers.Dense(10, activation="softmax")(x))
    model.compile(optimizer="adam", loss=loss, metrics=list(metrics))
    return model


def test_to_categorical_labels_train_with_categorical_crossentropy_as_in_keras(tmp_path):
    results = {}
    for k in (keras, ck):
        one_hot = k.utils.to_categorical(Y, 10)
        model = softmax_cnn(k)
        history = model.fit(X, one_hot, epochs=2, verbose=0, validation_split=0.25, batch_size=16)
        logits = softmax_cnn(k, loss=k.losses.CategoricalCrossentropy(from_logits=False),
                             metrics=["categorical_accuracy"])
        keys = list(logits.fit(X, one_hot, epochs=1, verbose=0, validation_data=(X, one_hot)).history)
        model.save(tmp_path / f"{k.__name__}.keras")
        results[k] = (list(history.history), keys, list(model.evaluate(X, one_hot, verbose=0, return_dict=True)),
                      np.argmax(model.predict(X[:3], verbose=0), axis=1).shape)
    assert results[ck] == results[keras]
    softmax_cnn(ck).save(tmp_path / "own.cnnlab")  # cnnlab's folder keeps the loss too
    assert type(ck.models.load_model(tmp_path / "own.cnnlab").loss) is ck.losses.CategoricalCrossentropy
    for k in (keras, ck):  # each reads the other's file, loss included, and trains on
        loaded = k.models.load_model(tmp_path / f"{'cnnlab.keras' if k is keras else 'keras'}.keras")
        assert list(loaded.fit(X, k.utils.to_categorical(Y, 10), epochs=1, verbose=0).history) == ["accuracy", "loss"]


def test_categorical_crossentropy_on_one_hot_is_the_sparse_loss_on_class_numbers():
    sparse = softmax_cnn(ck, loss="sparse_categorical_crossentropy").fit(X, Y, epochs=2, verbose=0)
    one_hot = softmax_cnn(ck).fit(X, ck.utils.to_categorical(Y, 10), epochs=2, verbose=0)
    assert one_hot.history == sparse.history


@pytest.mark.parametrize("labels, loss", [(Y[:, None], "categorical_crossentropy"),
                                          (np.eye(10)[Y], "sparse_categorical_crossentropy")])
def test_labels_that_do_not_fit_the_loss_fail_with_a_value_error_as_in_keras(labels, loss):
    for k in (keras, ck):
        with pytest.raises(ValueError, match="shape"):
            softmax_cnn(k, loss=loss).fit(X, labels, epochs=1, verbose=0)


def test_soft_labels_are_refused_by_name():
    from cnnlab.models.layers import ModelError

    with pytest.raises(ModelError, match="not one-hot"):
        softmax_cnn(ck).fit(X, np.full((len(X), 10), 0.1), epochs=1, verbose=0)
    with pytest.raises(ModelError, match="label_smoothing"):
        ck.losses.CategoricalCrossentropy(label_smoothing=0.1)


def test_an_input_shape_given_as_a_number_fails_with_keras_error_type():
    for k in (keras, ck):
        with pytest.raises(ValueError, match="Cannot convert '?4'? to a shape"):
            k.Input(shape=4)


@pytest.mark.parametrize("shape, hint", [((4,), "rows of numbers"), ((6, 6), r"keras.Input\(shape=\(6, 6, 1\)\)")])
def test_a_model_on_inputs_that_are_not_images_is_refused_before_the_engine(shape, hint):
    from cnnlab.models.layers import ModelError

    inputs = ck.Input(shape=shape)
    model = ck.Model(inputs, ck.layers.Dense(3)(ck.layers.Flatten()(inputs)))
    model.compile(optimizer="adam", loss=ck.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = np.zeros((6, *shape)), np.arange(6) % 3
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.predict(x, verbose=0)):
        with pytest.raises(ModelError, match=rf"inputs of shape \({shape[0]},.*image models.*{hint}"):
            call()
    assert model.count_params() == 3 * (shape[0] * (shape[1] if len(shape) > 1 else 1) + 1)  # still summarised


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_the_same_weights_train_to_kerass_numbers_with_each_optimizer(optimizer):
    from cnnlab.train.precision import choose

    if choose("auto").precision != "fp32":
        pytest.skip("bfloat16 steps round differently from Keras's float32")
    models = {}
    for k in (keras, ck):
        k.backend.clear_session()
        inputs = k.Input(shape=X.shape[1:])
        x = k.layers.MaxPooling2D((2, 2))(k.layers.Conv2D(4, (3, 3), activation="relu")(inputs))
        x = k.layers.Dense(8, activation="relu")(k.layers.Flatten()(x))
        models[k] = k.Model(inputs, k.layers.Dense(10)(x))
        models[k].compile(optimizer=getattr(k.optimizers, {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD"}[optimizer])(
            learning_rate=0.01), loss=k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    models[ck].set_weights(models[keras].get_weights())
    histories = {k: m.fit(X, Y, epochs=3, batch_size=16, shuffle=False, verbose=0).history for k, m in models.items()}
    assert histories[ck]["loss"] == pytest.approx(histories[keras]["loss"], rel=1e-5)
    for ours, theirs in zip(models[ck].get_weights(), models[keras].get_weights(), strict=True):
        assert np.allclose(ours, theirs, atol=2e-5)  # torch's epsilon placement left them 1e-2 apart


def test_a_lesson_sized_model_trained_with_adam_saves_and_loads_both_ways(tmp_path):
    files = {}
    for k in (keras, ck):
        k.backend.clear_session()
        inputs = k.Input(shape=(32, 32, 3))
        model = k.Model(inputs, k.layers.Dense(10)(k.layers.Dense(200, activation="relu")(k.layers.Flatten()(inputs))))
        model.compile(optimizer="adam", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(np.zeros((8, 32, 32, 3)), np.arange(8), epochs=1, verbose=0)  # Adam's two slots a weight
        files[k] = tmp_path / f"{k.__name__}.keras"
        model.save(files[k])
    for k in (keras, ck):
        for path in files.values():
            assert k.models.load_model(path).count_params() == 616_610


@pytest.mark.parametrize("mistake", ["metrics as a string", "an optimizer class"])
def test_compile_mistakes_fail_as_in_keras(mistake):
    for k in (keras, ck):
        inputs = k.Input(shape=X.shape[1:])
        model = k.Model(inputs, k.layers.Dense(10)(k.layers.Flatten()(inputs)))
        settings = {"optimizer": "adam", "loss": k.losses.SparseCategoricalCrossentropy(from_logits=True)}
        if mistake == "metrics as a string":
            settings["metrics"], message = "accuracy", "Expected `metrics` argument to be a list"
        else:
            settings["optimizer"], message = k.optimizers.Adam, "Could not interpret optimizer identifier"
        with pytest.raises(ValueError, match=message):
            model.compile(**settings)
            model.fit(X, Y, epochs=1, verbose=0)


def test_a_layers_arguments_read_back_as_keras_attributes():
    names = ("filters", "kernel_size", "strides", "padding", "use_bias", "units", "rate", "pool_size")
    seen = {}
    for k in (keras, ck):
        model = cnn(k)
        seen[k] = [({n: getattr(layer, n) for n in names if hasattr(layer, n)},
                    getattr(getattr(layer, "activation", None), "__name__", None), layer.trainable)
                   for layer in model.layers[1:]]
    assert seen[ck] == seen[keras]
    assert seen[ck][0][0]["kernel_size"] == (3, 3) and seen[ck][-1][1] == "linear"
    with pytest.raises(AttributeError):
        ck.layers.Dense(3).filters  # noqa: B018
    from cnnlab.models.layers import ModelError

    with pytest.raises(ModelError, match="freezing layers is not supported"):
        ck.layers.Dense(3).trainable = False


@pytest.mark.parametrize("module, name", [("losses", "BinaryCrossentropy"), ("optimizers", "AdamW"),
                                          ("callbacks", "ReduceLROnPlateau"), ("utils", "plot_model")])
def test_a_keras_name_cnnlab_does_not_offer_is_refused_by_name(module, name):
    from cnnlab.keras.layers import Unsupported

    assert hasattr(getattr(keras, module), name)
    with pytest.raises(Unsupported, match=rf"keras.{module}.{name} is not supported by cnnlab.keras; it offers"):
        getattr(getattr(ck, module), name)
    assert not hasattr(getattr(ck, module), name)
