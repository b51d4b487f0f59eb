"""The lesson's notebook code timed with Keras and with `from cnnlab import keras`, same run.

Claim (issue 14): fit wall time with cnnlab.keras <= 0.4x Keras's at batch 32, test accuracy
within 1 point over 10 epochs. The code in `notebook` is the lesson's (the CIFAR edition's
model on Fashion-MNIST, pixels scaled by / 255.0, validation on the test set), run unchanged
with either module. Keras runs in its own interpreter: TensorFlow if it is installed there,
else Keras's torch backend (the result names which).

    .venv/bin/python bench/keras_api.py [--epochs 10] [--train-subset N] [--grid] [--python PY]

Needs Fashion-MNIST offline (Debian's /usr/share/datasets/fashion-mnist or cnnlab's cache).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def notebook(keras, data, epochs: int) -> dict:
    """The lesson's cells, from the data to the test accuracy (data: the load_data() tuple)."""
    (train_images, train_labels), (test_images, test_labels) = data
    train_images = train_images / 255.0
    test_images = test_images / 255.0
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=train_images.shape[1:] + (1,))
    x = keras.layers.Conv2D(32, (3, 3), activation="relu")(inputs)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x = keras.layers.Conv2D(32, (3, 3), activation="relu")(x)
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x = keras.layers.Conv2D(32, (3, 3), activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="cifar_model")
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    started = time.perf_counter()
    history = model.fit(train_images, train_labels, epochs=epochs, batch_size=32, verbose=0,
                        validation_data=(test_images, test_labels))
    fit_seconds = time.perf_counter() - started
    test_loss, test_accuracy = model.evaluate(test_images, test_labels, verbose=0)
    return {"fit_seconds": fit_seconds, "test_accuracy": float(test_accuracy),
            "val_accuracy": [float(v) for v in history.history["val_accuracy"]]}


def grid_search(keras, keras_tuner, data, epochs: int, directory: str) -> dict:
    """The lesson's grid search: 1-3 convolutions x 1-2 dense layers, 6 trials."""
    (train_images, train_labels), (test_images, test_labels) = data
    train_images, test_images = train_images / 255.0, test_images / 255.0

    def build_model(hp):
        n_conv_layer = hp.Int("n_conv_layer", min_value=1, max_value=3, step=1)
        n_dense_layer = hp.Int("n_dense_layer", min_value=1, max_value=2, step=1)
        inputs = keras.Input(shape=train_images.shape[1:] + (1,))
        x = inputs
        for _ in range(n_conv_layer):
            x = keras.layers.Conv2D(32, (3, 3), activation="relu")(x)
            x = keras.layers.MaxPooling2D((2, 2))(x)
        x = keras.layers.Flatten()(x)
        for _ in range(n_dense_layer):
            x = keras.layers.Dense(32, activation="relu")(x)
        outputs = keras.layers.Dense(10)(x)
        model = keras.Model(inputs=inputs, outputs=outputs)
        model.compile(optimizer="adam", metrics=["accuracy"],
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    tuner = keras_tuner.GridSearch(build_model, objective="val_loss", directory=directory,
                                   project_name="grid", overwrite=True)
    started = time.perf_counter()
    tuner.search(train_images, train_labels, epochs=epochs, validation_data=(test_images, test_labels),
                 verbose=0)
    return {"grid_seconds": time.perf_counter() - started, "trials": len(tuner.oracle.trials)
            if hasattr(tuner, "oracle") else len(tuner.trials)}


def load(subset: int | None):
    from cnnlab.datasets import load_dataset

    (x, y), test = load_dataset("fashion_mnist", offline=True, progress=False)
    return ((x[:subset], y[:subset]) if subset else (x, y)), test


def keras_side(npz: str, epochs: int, grid: bool) -> dict:
    backend = "tensorflow" if importlib.util.find_spec("tensorflow") else "torch"
    os.environ.setdefault("KERAS_BACKEND", backend)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    arrays = np.load(npz)
    data = (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    result = notebook(keras, data, epochs)
    result.update(library=f"keras {keras.__version__} ({keras.backend.backend()})")
    if grid:
        import keras_tuner

        with tempfile.TemporaryDirectory() as tmp:
            result.update(grid_search(keras, keras_tuner, data, epochs, tmp))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs Keras")
    parser.add_argument("--grid", action="store_true", help="also time the lesson's 6-trial grid search")
    parser.add_argument("--keras-side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_side:
        print(json.dumps(keras_side(args.keras_side, args.epochs, args.grid)))
        return
    data = load(args.train_subset)
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "data.npz")
        np.savez(npz, x_train=data[0][0], y_train=data[0][1], x_test=data[1][0], y_test=data[1][1])
        command = [args.python, __file__, "--keras-side", npz, "--epochs", str(args.epochs)]
        done = subprocess.run(command + (["--grid"] if args.grid else []), check=True,
                              capture_output=True, text=True)
    peer = json.loads(done.stdout.strip().splitlines()[-1])
    from cnnlab import keras as cnnlab_keras

    ours = notebook(cnnlab_keras, data, args.epochs)
    ours["library"] = "cnnlab.keras"
    if args.grid:
        from cnnlab import keras_tuner

        with tempfile.TemporaryDirectory() as tmp:
            ours.update(grid_search(cnnlab_keras, keras_tuner, data, args.epochs, tmp))
    for row in (peer, ours):
        print(f"{row['library']:<32} fit {row['fit_seconds']:8.1f} s   test accuracy {row['test_accuracy']:.4f}")
    print(f"fit time ratio cnnlab.keras / Keras: {ours['fit_seconds'] / peer['fit_seconds']:.2f}x "
          f"(target <= 0.4x); accuracy difference {ours['test_accuracy'] - peer['test_accuracy']:+.4f} "
          f"(target within 0.01 over 10 epochs); {len(data[0][1])} training images, {args.epochs} epochs")
    if args.grid:
        for row in (peer, ours):
            print(f"{row['library']:<32} grid search {row['grid_seconds']:8.1f} s ({row['trials']} trials)")
        print(f"grid search time ratio cnnlab.keras / Keras: {ours['grid_seconds'] / peer['grid_seconds']:.2f}x")


if __name__ == "__main__":
    main()
