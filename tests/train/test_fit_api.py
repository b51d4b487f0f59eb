"""cnnlab.fit / evaluate / predict from Python, on scikit-learn's digits."""

import re
import subprocess
import sys

import numpy as np
import pytest
from helpers.training import TINY_MODEL

import cnnlab
from cnnlab.train.callbacks import Callback


@pytest.fixture(scope="module")
def digits():
    return cnnlab.load_dataset("digits")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.txt"
    path.write_text(TINY_MODEL)
    return str(path)


def test_fit_learns_and_returns_keras_history(digits, model_file):
    history = cnnlab.fit(model_file, digits, epochs=3, validation_split=0.1, precision="fp32",
                         threads=1, verbose=False)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert history.epoch == [0, 1, 2]
    assert history.history["loss"][2] < history.history["loss"][0]
    (_, _), (x_test, y_test) = digits
    scores = cnnlab.evaluate(history.model, x_test, y_test)
    assert scores["accuracy"] > 0.8  # a tiny conv net on 8x8 digits after 3 epochs
    probabilities = cnnlab.predict(history.model, x_test[:5])
    assert probabilities.shape == (5, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_same_seed_same_history_in_fp32(digits, model_file):
    def once(seed):
        return cnnlab.fit(model_file, digits, epochs=2, validation_split=0.1, seed=seed,
                          precision="fp32", threads=1, verbose=False).history

    first, second, other = once(0), once(0), once(1)
    assert first == second
    assert first != other


def test_fit_without_validation_has_only_training_keys(digits):
    (x, y), _ = digits
    history = cnnlab.fit("dense_only", (x, y), epochs=1, precision="fp32", threads=1, verbose=False)
    assert list(history.history) == ["loss", "accuracy"]


def test_early_stopping_restores_the_best_weights(digits, model_file):
    # sgd with lr 3.0 makes val_loss worse after the first epoch, so patience 1 stops at epoch 2
    history = cnnlab.fit(model_file, digits, epochs=6, optimizer="sgd", lr=3.0, validation_split=0.2,
                         early_stopping=1, precision="fp32", threads=1, verbose=False)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert len(val) == best + 2  # stopped one epoch after the best
    (x, y), _ = digits
    # the returned model is the best epoch's: its val_loss on the same split is the best value
    from cnnlab.train.data import stratified_split

    kept, held = stratified_split(y.astype(np.int64), 0.2, 0)
    scores = cnnlab.evaluate(history.model, x[held], y[held])
    assert scores["loss"] == pytest.approx(val[best], rel=1e-5)


class StepCounter(Callback):
    """Records the steps of each epoch the loop announces."""

    def __init__(self):
        self.steps: list[int] = []

    def on_epoch_begin(self, epoch, steps):
        self.steps.append(steps)


def test_train_subset_trains_on_the_first_n_images(digits, model_file):
    counter = StepCounter()
    history = cnnlab.fit(model_file, digits, epochs=1, batch_size=100, train_subset=300, precision="fp32",
                         threads=1, verbose=0, callbacks=[counter])
    assert counter.steps == [3]
    assert history.params == {"verbose": 0, "epochs": 1, "steps": 3}  # Keras's History.params


def test_validation_test_validates_on_the_test_part(digits, model_file):
    history = cnnlab.fit(model_file, digits, epochs=1, validation="test", precision="fp32", threads=1,
                         verbose=0)
    (_, _), (x_test, y_test) = digits
    assert history.history["val_loss"][0] == pytest.approx(cnnlab.evaluate(history.model, x_test, y_test)["loss"],
                                                           rel=1e-5)


def test_validation_data_with_early_stopping_needs_no_split(digits, model_file):
    (x, y), test = digits
    history = cnnlab.fit(model_file, (x, y), validation_data=test, epochs=2, early_stopping=3,
                         precision="fp32", threads=1, verbose=0)
    assert len(history.history["val_loss"]) == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"learning_rate": 0.01}, "cnnlab.fit got an unknown argument 'learning_rate'; cnnlab calls it lr="),
    ({"validation": "test", "validation_split": 0.1}, "validation_split=0.1 with validation='test'"),
    ({"validation_split": 0.1, "validation_data": "held"}, "validation_split=0.1 and validation_data both"),
    ({"validation": "test", "validation_data": "held"}, "validation='test' and validation_data both"),
    ({"validation": "test", "data": "pair"}, "validation='test' validates on the test set: pass data as"),
    ({"train_subset": 5000}, "train_subset=5000 is more than the 1,438 training images"),
    ({"verbose": "yes"}, "verbose='yes': use 'auto', 0, 1 or 2"),
])
def test_meaningless_settings_are_refused(digits, model_file, kwargs, message):
    kwargs = dict(kwargs)
    data = digits[0] if kwargs.pop("data", None) == "pair" else digits
    if kwargs.get("validation_data") == "held":
        kwargs["validation_data"] = digits[1]
    with pytest.raises(cnnlab.CnnlabError, match=re.escape(message)):
        cnnlab.fit(model_file, data, epochs=1, precision="fp32", threads=1, **kwargs)


def test_float_pixels_in_0_1_train_as_the_uint8_pixels(digits, model_file):
    (x, y), (x_test, y_test) = digits
    settings = dict(epochs=1, precision="fp32", threads=1, verbose=0, train_subset=500)
    from_uint8 = cnnlab.fit(model_file, (x, y), **settings)
    from_floats = cnnlab.fit(model_file, (x / 255.0, y), **settings)
    assert from_floats.history["loss"] == pytest.approx(from_uint8.history["loss"], rel=1e-4)
    scores = cnnlab.evaluate(from_floats.model, x_test / 255.0, y_test)
    assert scores == pytest.approx(cnnlab.evaluate(from_floats.model, x_test, y_test), rel=1e-5)
    assert cnnlab.predict(from_floats.model, x_test[:3] / 255.0).shape == (3, 10)


def test_floats_outside_0_1_say_what_to_do(digits, model_file):
    (x, y), _ = digits
    with pytest.raises(cnnlab.CnnlabError, match=re.escape(
            "training images are floats from 0 to 255; cnnlab takes uint8 pixels 0..255 or floats in "
            "[0, 1] (x / 255.0)")):
        cnnlab.fit(model_file, (x.astype("float32"), y), epochs=1, verbose=0)


def test_lesson_is_reachable_after_import_cnnlab():
    code = "import cnnlab; print(cnnlab.lesson.run_lesson.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "run_lesson", done.stderr
