"""A loss that becomes nan: Keras trains on and reports it; TerminateOnNaN stops at that batch."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnlab import keras as ck
from cnnlab.models.layers import ModelError

keras = pytest.importorskip("keras")

BAD = 70  # the example holding a nan: batch 2 at batch size 32 without shuffling


def poisoned_data():
    rng = np.random.default_rng(0)
    x = rng.random((320, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 3, 320)
    x[BAD, 1, 1, 0] = np.nan
    return x, y, np.full((64, 8, 8, 1), 0.5, "float32"), y[:64]


def fit_poisoned(k, callbacks=(), verbose=0, epochs=3):
    k.utils.set_random_seed(1)
    x, y, xv, yv = poisoned_data()
    model = k.Sequential([k.Input((8, 8, 1)), k.layers.Conv2D(2, 3, activation="relu"),
                          k.layers.Flatten(), k.layers.Dense(3)])
    model.compile(optimizer="adam", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, batch_size=32, shuffle=False, validation_data=(xv, yv),
                        callbacks=list(callbacks), verbose=verbose)
    return model, history


def shape_of(text: str) -> str:
    text = re.sub(r"\d+(ms|us|s)/step", "T/step", text)
    text = re.sub(r" \d+s ", " Ts ", text)
    return re.sub(r"\d+\.\d+(e-?\d+)?", "#", text)


def test_a_nan_loss_trains_on_and_is_reported_as_keras_reports_it(capsys):
    results = {}
    for k in (keras, ck):
        capsys.readouterr()
        model, history = fit_poisoned(k, verbose=2)
        out = capsys.readouterr()
        xv, yv = poisoned_data()[2:]
        results[k] = (model, history, out, model.evaluate(xv, yv, verbose=0), model.predict(xv[:2], verbose=0))
    (km, kh, kout, keval, kpred), (cm, ch, cout, ceval, cpred) = results[keras], results[ck]
    assert list(ch.history) == list(kh.history) and ch.epoch == kh.epoch == [0, 1, 2]
    for h in (kh, ch):
        assert all(np.isnan(h.history["loss"])) and all(np.isnan(h.history["val_loss"]))
    # after the nan the weights are nan and every prediction is class 0, in both
    assert ch.history["accuracy"][1:] == kh.history["accuracy"][1:]
    assert ch.history["val_accuracy"] == kh.history["val_accuracy"]
    assert all(np.isnan(w).all() for w in cm.get_weights()) and all(np.isnan(w).all() for w in km.get_weights())
    assert np.isnan(ceval[0]) and np.isnan(keval[0]) and ceval[1] == keval[1]
    assert np.isnan(cpred).all() and np.isnan(kpred).all()
    assert "loss: nan" in cout.out and shape_of(cout.out) == shape_of(kout.out)
    assert cout.err == ""


@pytest.mark.parametrize("verbose", [0, 2])
def test_terminate_on_nan_stops_after_the_bad_batch_as_keras_does(capsys, verbose):
    results = {}
    for k in (keras, ck):
        capsys.readouterr()
        model, history = fit_poisoned(k, [k.callbacks.TerminateOnNaN()], verbose=verbose)
        results[k] = (model, history, capsys.readouterr().out)
    (km, kh, kout), (cm, ch, cout) = results[keras], results[ck]
    assert "Batch 2: Invalid loss, terminating training\n" in cout
    assert shape_of(cout) == shape_of(kout)
    assert ch.epoch == kh.epoch == [0] and cm.stop_training and km.stop_training
    assert list(ch.history) == list(kh.history) and np.isnan(ch.history["loss"][0])
    assert ch.history["val_accuracy"] == kh.history["val_accuracy"]


def test_terminate_on_nan_with_verbose_1_ends_with_keras_final_line(capsys):
    finals = []
    for k in (keras, ck):
        capsys.readouterr()
        fit_poisoned(k, [k.callbacks.TerminateOnNaN()], verbose=1)
        text = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out).replace("\b", "")
        assert "Batch 2: Invalid loss, terminating training\n" in text
        finals.append(shape_of(text.splitlines()[-1].split("\r")[-1].rstrip()))
    assert finals[1] == finals[0]
    assert finals[1].startswith("10/10 ") and finals[1].endswith("val_loss: nan")


def test_terminate_on_nan_with_raise_error_raises_keras_error():
    messages = []
    for k in (keras, ck):
        with pytest.raises(RuntimeError) as caught:
            fit_poisoned(k, [k.callbacks.TerminateOnNaN(raise_error=True)])
        messages.append(str(caught.value))
    assert messages[1] == messages[0] == (
        "NaN or Inf loss encountered at batch 2. Loss value: nan. Terminating training immediately."
    )


def test_terminate_on_nan_lets_a_finite_run_finish():
    x, y, xv, yv = poisoned_data()
    x[BAD] = 0.5
    ck.utils.set_random_seed(1)
    model = ck.Sequential([ck.Input((8, 8, 1)), ck.layers.Flatten(), ck.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, callbacks=[ck.callbacks.TerminateOnNaN()], verbose=0)
    assert history.epoch == [0, 1] and all(np.isfinite(history.history["loss"]))


def test_a_subclass_with_its_own_batch_hook_is_still_refused():
    class Mine(ck.callbacks.TerminateOnNaN):
        def on_batch_end(self, batch, logs=None):
            pass

    with pytest.raises(ModelError, match="overrides on_batch_end"):
        fit_poisoned(ck, [Mine()])
