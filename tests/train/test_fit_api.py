"""cnnlab.fit / evaluate / predict from Python, on scikit-learn's digits."""

import numpy as np
import pytest
from helpers.training import TINY_MODEL

import cnnlab


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
