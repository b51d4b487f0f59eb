"""compile / fit / evaluate / predict / save with Keras's contract, on cnnlab's engine."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnlab import keras as ck
from cnnlab.keras.data import as_pixels
from cnnlab.models.layers import ModelError

keras = pytest.importorskip("keras")


def digits():
    from cnnlab.datasets import load_dataset

    (x, y), (xt, yt) = load_dataset("digits")
    return x[:600], y[:600], xt[:200], yt[:200]


def small_cnn(k, softmax=False):
    inputs = k.Input(shape=(8, 8, 1))
    x = k.layers.Conv2D(8, (3, 3), activation="relu")(inputs)
    x = k.layers.Flatten()(x)
    outputs = k.layers.Dense(10, activation="softmax" if softmax else None)(x)
    model = k.Model(inputs=inputs, outputs=outputs)
    loss = "sparse_categorical_crossentropy" if softmax else k.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def test_fit_evaluate_predict_return_what_keras_returns():
    x, y, xt, yt = digits()
    results = {}
    for k in (keras, ck):
        k.utils.set_random_seed(0)
        model = small_cnn(k)
        history = model.fit(x / 255.0, y, epochs=3, verbose=0, validation_data=(xt / 255.0, yt))
        results[k] = (history, model.evaluate(xt / 255.0, yt, verbose=0),
                      model.evaluate(xt / 255.0, yt, verbose=0, return_dict=True),
                      model.predict(xt[:5] / 255.0, verbose=0))
    (kh, ke, kd, kp), (ch, ce, cd, cp) = results[keras], results[ck]
    assert list(ch.history) == list(kh.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert ch.epoch == kh.epoch == [0, 1, 2] and ch.params == kh.params and ch.model is not None
    assert all(type(v) is float for values in ch.history.values() for v in values)
    assert isinstance(ce, list) and len(ce) == len(ke) == 2 and list(cd) == list(kd)
    assert isinstance(cp, np.ndarray) and cp.shape == kp.shape == (5, 10)
    # both learn the digits: the same ballpark after 3 epochs (different random weights)
    assert ch.history["val_accuracy"][-1] > 0.7 and kh.history["val_accuracy"][-1] > 0.7
    assert abs(ch.history["val_accuracy"][-1] - kh.history["val_accuracy"][-1]) < 0.15


def test_predict_gives_probabilities_after_a_softmax_and_raw_scores_otherwise():
    x, y, xt, _ = digits()
    ck.utils.set_random_seed(1)
    probs = small_cnn(ck, softmax=True).predict(xt[:4] / 255.0, verbose=0)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    raw = small_cnn(ck).predict(xt[:4] / 255.0, verbose=0)
    assert not np.allclose(raw.sum(axis=1), 1, atol=1e-3)


def test_the_lessons_float_pixels_reach_the_engine_as_uint8_and_others_as_given():
    x = np.arange(256, dtype=np.uint8).reshape(4, 8, 8, 1)
    for scaled in (x / 255.0, x.astype("float32") / 255, x.astype("float32") / np.float32(255.0)):
        pixels = as_pixels(scaled)
        assert pixels.dtype == np.uint8 and np.array_equal(pixels, x)
    assert as_pixels(x).dtype == np.float32 and as_pixels(x).max() == 255  # uint8 is taken as 0..255
    standardized = (x - 127.5) / 64
    assert np.array_equal(as_pixels(standardized), standardized.astype(np.float32))


def test_float_images_that_are_not_pixels_train_too():
    x, y, _, _ = digits()
    ck.utils.set_random_seed(0)
    model = small_cnn(ck)
    history = model.fit((x - 128.0) / 64, y, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_float_images_train_in_the_engines_step_program_with_the_uint8_paths_numbers():
    from cnnlab.engine.native import step as native_step

    x, y, _, _ = digits()
    engine_values = x.astype("float32") * np.float32(1 / 255)  # the engine's own scaling of uint8
    assert as_pixels(engine_values).dtype == np.float32  # not k / 255 exactly: the float path
    histories, programs = [], []
    for images in (x / 255.0, engine_values, (x - 128.0) / 64):
        ck.utils.set_random_seed(0)
        model = small_cnn(ck)
        histories.append(model.fit(images, y, epochs=2, verbose=0).history["loss"])
        assert model._trainer.step_kind == "direct"
        programs.append({key[4:] for key, p in model._trainer.direct.programs.items() if p is not None})
    assert histories[1] == pytest.approx(histories[0], rel=1e-4)
    if native_step.available():  # one C call a step for float images too, not layer by layer
        assert programs == [{()}, {("float32",)}, {("float32",)}]  # the uint8 path's keys have no dtype


def test_validation_split_holds_out_the_last_examples_as_keras_does():
    x, y, _, _ = digits()
    ck.utils.set_random_seed(0)
    model = small_cnn(ck)
    history = model.fit(x / 255.0, y, epochs=1, verbose=0, validation_split=0.25)
    split = int(np.floor(len(x) * 0.75))
    loss, accuracy = model.evaluate(x[split:] / 255.0, y[split:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(loss, rel=1e-5)
    assert history.history["val_accuracy"][0] == pytest.approx(accuracy)
    assert history.params["steps"] == -(-split // 32)


def test_a_missing_channel_axis_is_added_as_keras_adds_it():
    x, y, _, _ = digits()
    assert x.shape[1:] == (8, 8)  # like keras.datasets.mnist: no channel axis
    for k in (keras, ck):
        model = small_cnn(k)
        model.fit(x[:64] / 255.0, y[:64], epochs=1, verbose=0)
        assert model.predict(x[:2, :, :, None] / 255.0, verbose=0).shape == (2, 10)
        with pytest.raises(ValueError, match="incompatible"):
            model.predict(np.zeros((2, 9, 8)), verbose=0)


def test_progress_is_keras_text_on_stdout_and_nothing_on_stderr(capsys):
    x, y, xt, yt = digits()
    model = small_cnn(ck)
    model.fit(x[:32] / 255.0, y[:32], verbose=0)  # a first fit may compile the kernels (a notice)
    capsys.readouterr()
    model.fit(x / 255.0, y, epochs=2, verbose=2, validation_data=(xt / 255.0, yt))
    out, err = capsys.readouterr()
    assert err == ""
    line = r"19/19 - \d+s - \d+(ms|us|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - " \
           r"val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}"
    assert re.fullmatch(rf"Epoch 1/2\n{line}\nEpoch 2/2\n{line}\n", out), out
    model.fit(x / 255.0, y, epochs=1, verbose=1)
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("\r") and out.endswith("\n") and "Epoch" not in out
    assert re.search(r"\r19/19 ━{20} \d+s \d+(ms|us|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} *\n$", out)
    model.fit(x / 255.0, y, epochs=1, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_save_and_load_model_keep_the_weights_and_refuse_keras_files(tmp_path):
    x, y, xt, _ = digits()
    model = small_cnn(ck)
    model.fit(x / 255.0, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.cnnlab")
    loaded = ck.models.load_model(tmp_path / "m.cnnlab")
    assert np.array_equal(loaded.predict(xt / 255.0, verbose=0), model.predict(xt / 255.0, verbose=0))
    assert loaded.name == model.name and [la.name for la in loaded.layers] == [la.name for la in model.layers]
    assert loaded.evaluate(xt / 255.0, np.zeros(len(xt), int), verbose=0)[0] > 0
    with pytest.raises(ModelError, match="legacy .h5 model files are not supported"):
        model.save(tmp_path / "m.h5")


def test_saving_over_a_folder_changes_no_file_before_the_new_one_is_whole(tmp_path, monkeypatch):
    import os

    model = small_cnn(ck)
    folder = tmp_path / "m.cnnlab"
    model.save(folder)
    before = {f.name: f.read_bytes() for f in folder.iterdir()}
    model.set_weights([w + 1 for w in model.get_weights()])
    replace = os.replace

    def checked_replace(src, dst):
        # a save interrupted here (a crash, a full disk) must leave the earlier save loadable
        assert {f.name: f.read_bytes() for f in folder.iterdir() if f.name in before} == before
        monkeypatch.setattr(os, "replace", replace)
        replace(src, dst)

    monkeypatch.setattr(os, "replace", checked_replace)
    model.save(folder)
    assert ck.models.load_model(folder).get_weights()[0].tolist() == model.get_weights()[0].tolist()


def test_get_and_set_weights_in_keras_layout():
    for k in (keras, ck):
        k.backend.clear_session()
    shapes = {k: [w.shape for w in small_cnn(k).get_weights()] for k in (keras, ck)}
    assert shapes[ck] == shapes[keras]
    model = small_cnn(ck)
    weights = [np.full_like(w, 0.5) for w in model.get_weights()]
    model.set_weights(weights)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights))


def logs_of(values, key="val_loss"):
    return [{"loss": 1.0, key: v} for v in values]


class _Model:
    """What EarlyStopping touches on a model."""

    def __init__(self):
        self.stop_training = False
        self.metrics = []

    def get_weights(self):
        return []

    def set_weights(self, weights):
        pass


ES_CASES = {
    "patience 0": (dict(), [1.0, 0.9, 0.95, 0.8]),
    "patience 2": (dict(patience=2), [1.0, 0.9, 0.95, 0.93, 0.92, 0.5]),
    "min_delta": (dict(patience=1, min_delta=0.05), [1.0, 0.97, 0.96, 0.5]),
    "accuracy max": (dict(monitor="val_accuracy", mode="max", patience=1), [0.5, 0.6, 0.55, 0.58, 0.9]),
    "mode max": (dict(monitor="val_loss", mode="max", patience=1), [0.5, 0.4, 0.3, 0.9]),
    "baseline": (dict(patience=2, baseline=0.5), [1.0, 0.9, 0.8, 0.7, 0.4]),
    "start_from_epoch": (dict(patience=0, start_from_epoch=2), [1.0, 1.1, 1.2, 1.3, 1.4]),
}


@pytest.mark.parametrize("case", ES_CASES, ids=list(ES_CASES))
def test_early_stopping_stops_where_keras_stops(case):
    kwargs, values = ES_CASES[case]
    key = kwargs.get("monitor", "val_loss")
    stopped = {}
    for k in (keras, ck):
        cb, model = k.callbacks.EarlyStopping(**kwargs), _Model()
        cb.set_model(model)
        cb.on_train_begin()
        epoch = None
        for epoch, logs in enumerate(logs_of(values, key)):
            cb.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        stopped[k] = (epoch, cb.best, cb.wait)
    assert stopped[ck] == stopped[keras]


def test_csv_logger_writes_what_keras_writes(tmp_path):
    logs = [{"accuracy": 0.5, "loss": 1.25}, {"accuracy": 0.75, "loss": 0.5}]
    texts = []
    for k in (keras, ck):
        path = tmp_path / f"{k.__name__}.csv"
        cb = k.callbacks.CSVLogger(str(path))
        cb.on_train_begin()
        for epoch, row in enumerate(logs):
            cb.on_epoch_end(epoch, dict(row))
        cb.on_train_end()
        texts.append(path.read_text())
    assert texts[0] == texts[1]


def test_early_stopping_and_checkpoint_in_fit(tmp_path, capsys):
    x, y, xt, yt = digits()
    model = small_cnn(ck)
    stop = ck.callbacks.EarlyStopping(monitor="val_loss", patience=0, mode="max", verbose=1)
    checkpoint = ck.callbacks.ModelCheckpoint(str(tmp_path / "best.cnnlab"), save_best_only=True)
    history = model.fit(x / 255.0, y, epochs=5, verbose=0, validation_data=(xt / 255.0, yt),
                        callbacks=[stop, checkpoint])
    assert len(history.epoch) == 2  # val_loss falls, which mode='max' counts as no improvement
    assert "Epoch 2: early stopping" in capsys.readouterr().out
    assert (tmp_path / "best.cnnlab" / "model.safetensors").is_file()
    every = ck.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch:02d}-{val_accuracy:.2f}.cnnlab"))
    model.fit(x / 255.0, y, epochs=2, verbose=0, validation_data=(xt / 255.0, yt), callbacks=[every])
    assert len(list(tmp_path.glob("m-0[12]-0.*.cnnlab"))) == 2
    with pytest.raises(ModelError, match="legacy .hdf5 model files are not supported"):
        ck.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.hdf5"))


REFUSED = {
    "softmax twice": (lambda m: m.compile(loss=ck.losses.SparseCategoricalCrossentropy(from_logits=True)),
                      True, "apply softmax twice"),
    "probabilities expected": (lambda m: m.compile(loss="sparse_categorical_crossentropy"), False,
                               "has no softmax"),
    "other loss": (lambda m: m.compile(loss="mse"), False, "loss 'mse' is not supported"),
    "adam betas": (lambda m: m.compile(optimizer=ck.optimizers.Adam(beta_1=0.5)), False, "beta_1=0.5"),
    "dataset": (lambda m: m.fit(iter([]), verbose=0), False, "numpy arrays"),
    "one-hot": (lambda m: m.fit(np.zeros((4, 8, 8, 1)), np.eye(4, 10), verbose=0), False,
                "one-hot labels"),
    "batch hooks": (lambda m: m.fit(np.zeros((4, 8, 8, 1)), np.zeros(4, int), verbose=0,
                                    callbacks=[type("B", (ck.callbacks.Callback,),
                                                    {"on_train_batch_end": lambda *a: None})()]),
                    False, "per-batch callbacks"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_unsupported_training_features_are_refused(case):
    action, softmax, message = REFUSED[case]
    model = small_cnn(ck, softmax=softmax)
    with pytest.raises(ModelError, match=message):
        action(model)


def test_fit_before_compile_fails_as_in_keras():
    inputs = ck.Input(shape=(4,))
    with pytest.raises(ValueError, match="You must call `compile\\(\\)`"):
        ck.Model(inputs, ck.layers.Dense(2)(inputs)).fit(np.zeros((2, 4)), np.zeros(2, int))


def test_initial_epoch_counts_on_from_it_as_in_keras(capsys):
    x, y, _, _ = digits()
    epochs = {}
    for k in (keras, ck):
        model = small_cnn(k)
        epochs[k] = model.fit(x[:64] / 255.0, y[:64], epochs=4, initial_epoch=2, verbose=2).epoch
        out = capsys.readouterr().out
        assert out.startswith("Epoch 3/4\n") and "Epoch 4/4\n" in out
    assert epochs[ck] == epochs[keras] == [2, 3]


def test_shuffle_false_trains_on_the_examples_in_order():
    x, y, _, _ = digits()
    runs = []
    for seed, shuffle in ((1, False), (2, False), (2, True)):
        ck.utils.set_random_seed(0)
        model = small_cnn(ck)
        np.random.seed(seed)  # the data order's seed, which shuffle=False must not use
        runs.append(model.fit(x / 255.0, y, epochs=1, verbose=0, shuffle=shuffle).history["loss"])
    assert runs[0] == runs[1] and runs[2] != runs[1]


def test_verbose_2_lines_are_keras_lines_up_to_numbers(capsys):
    x, y, xt, yt = digits()

    def shape_of(text: str) -> str:
        text = re.sub(r"\d+(ms|us|s)/step", "T/step", text)
        return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", text)

    outputs = []
    for k in (keras, ck):
        model = small_cnn(k)
        capsys.readouterr()
        model.fit(x / 255.0, y, epochs=2, verbose=2, validation_data=(xt / 255.0, yt))
        outputs.append(shape_of(capsys.readouterr().out))
    assert outputs[1] == outputs[0]


def test_verbose_1_final_lines_are_keras_lines_up_to_numbers(capsys):
    x, y, xt, yt = digits()

    def finals(text: str) -> list[str]:
        text = re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\b", "")
        lines = [line.split("\r")[-1].rstrip() for line in text.split("\n") if line.strip()]
        text = "\n".join(lines)
        text = re.sub(r"\d+(ms|us|s)/step", "T/step", text)
        return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "#", text).splitlines()

    outputs = []
    for k in (keras, ck):
        model = small_cnn(k)
        capsys.readouterr()
        model.fit(x / 255.0, y, epochs=1, verbose=1, validation_data=(xt / 255.0, yt))
        model.evaluate(xt / 255.0, yt)
        model.predict(xt[:40] / 255.0)
        outputs.append(finals(capsys.readouterr().out))
    assert outputs[1] == outputs[0]
