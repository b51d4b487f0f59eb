"""The lesson's notebook code timed with Keras and with `from cnnlab import keras`, same run.

Claim (issue 14): fit wall time with cnnlab.keras <= 0.4x Keras's at batch 32, test accuracy
within 1 point over 10 epochs. The code in `notebook` is the lesson's (the CIFAR edition's
model on Fashion-MNIST, pixels scaled by / 255.0, validation on the test set), run unchanged
with either module. Keras runs in its own interpreter: TensorFlow if it is installed there,
else Keras's torch backend (the result names which).

    .venv/bin/python bench/keras_api.py [--epochs 10] [--train-subset N] [--test-subset N]
        [--grid | --grid-only] [--grid-epochs E] [--python PY]

The grid search is the lesson's (6 trials of create_nn_with_hp, objective val_loss) with Keras
Tuner beside Keras and with `cnnlab.keras_tuner`; a bounded run, e.g. `--grid-only
--train-subset 12000 --grid-epochs 3`, takes a few minutes.

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
    """The lesson's grid search (CIFAR edition, episode 4): create_nn_with_hp over n_layers 1-2
    x dropout_rate 0.2/0.5/0.8, 6 trials, objective val_loss, validation on the test set."""
    (train_images, train_labels), (test_images, test_labels) = data
    train_images, test_images = train_images / 255.0, test_images / 255.0

    def compile_model(model):
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])

    def create_nn_with_hp(dropout_rate, n_layers):
        inputs = keras.Input(shape=train_images.shape[1:] + (1,))
        x = keras.layers.Conv2D(50, (3, 3), activation="relu")(inputs)
        x = keras.layers.MaxPooling2D((2, 2))(x)
        for _ in range(n_layers):
            x = keras.layers.Conv2D(50, (3, 3), activation="relu")(x)
        x = keras.layers.MaxPooling2D((2, 2))(x)
        x = keras.layers.Dropout(dropout_rate)(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(50, activation="relu")(x)
        outputs = keras.layers.Dense(10)(x)
        model = keras.Model(inputs=inputs, outputs=outputs, name="cifar_model")
        compile_model(model)
        return model

    def build_model(hp):
        n_layers = hp.Int("n_layers", min_value=1, max_value=2, step=1)
        dropout_rate = hp.Float("dropout_rate", min_value=0.2, max_value=0.8, step=0.3)
        return create_nn_with_hp(dropout_rate, n_layers)

    records: list[list[dict]] = []  # each trial's epoch logs (Keras Tuner copies callbacks per trial)

    class Record(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            records.append([])

        def on_epoch_end(self, epoch, logs=None):
            records[-1].append({k: float(v) for k, v in (logs or {}).items()})

    keras.utils.set_random_seed(0)
    tuner = keras_tuner.GridSearch(build_model, objective="val_loss", directory=directory,
                                   project_name="grid", overwrite=True)
    started = time.perf_counter()
    tuner.search(train_images, train_labels, epochs=epochs, validation_data=(test_images, test_labels),
                 callbacks=[Record()], verbose=0)
    seconds = time.perf_counter() - started
    # a trial's score is its best epoch's val_loss, as Keras Tuner scores it
    best_epochs = [min(logs, key=lambda row: row["val_loss"]) for logs in records]
    best = min(best_epochs, key=lambda row: row["val_loss"])
    return {"grid_seconds": seconds, "trials": len(records),
            "best_values": dict(tuner.get_best_hyperparameters(1)[0].values),
            "best_val_loss": best["val_loss"], "best_val_accuracy": best["val_accuracy"],
            "val_accuracy_range": [min(r["val_accuracy"] for r in best_epochs),
                                   max(r["val_accuracy"] for r in best_epochs)]}


def load(subset: int | None, test_subset: int | None):
    from cnnlab.datasets import load_dataset

    (x, y), (xt, yt) = load_dataset("fashion_mnist", offline=True, progress=False)
    return (x[:subset], y[:subset]), (xt[:test_subset], yt[:test_subset])


def run_side(keras, keras_tuner, data, args) -> dict:
    """The notebook's fit and/or the grid search with one library, as the flags ask."""
    result = {} if args.grid_only else notebook(keras, data, args.epochs)
    if args.grid or args.grid_only:
        with tempfile.TemporaryDirectory() as tmp:
            result.update(grid_search(keras, keras_tuner, data, args.grid_epochs or args.epochs, tmp))
    return result


def keras_side(npz: str, args) -> dict:
    backend = "tensorflow" if importlib.util.find_spec("tensorflow") else "torch"
    os.environ.setdefault("KERAS_BACKEND", backend)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    keras_tuner = None
    if args.grid or args.grid_only:
        import keras_tuner
    arrays = np.load(npz)
    data = (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
    result = run_side(keras, keras_tuner, data, args)
    result.update(library=f"keras {keras.__version__} ({keras.backend.backend()})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-subset", type=int, default=None, help="the first N training images")
    parser.add_argument("--test-subset", type=int, default=None, help="the first N test images (validation)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs Keras")
    parser.add_argument("--grid", action="store_true", help="also time the lesson's 6-trial grid search")
    parser.add_argument("--grid-only", action="store_true", help="time the grid search alone, not the fit")
    parser.add_argument("--grid-epochs", type=int, default=None, help="epochs per trial (default --epochs)")
    parser.add_argument("--keras-side", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_side:
        print(json.dumps(keras_side(args.keras_side, args)))
        return
    data = load(args.train_subset, args.test_subset)
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "data.npz")
        np.savez(npz, x_train=data[0][0], y_train=data[0][1], x_test=data[1][0], y_test=data[1][1])
        command = [args.python, __file__, "--keras-side", npz, *sys.argv[1:]]
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the Keras side failed:\n{done.stderr[-3000:]}")
    peer = json.loads(done.stdout.strip().splitlines()[-1])
    from cnnlab import keras as cnnlab_keras
    from cnnlab import keras_tuner as cnnlab_tuner

    ours = run_side(cnnlab_keras, cnnlab_tuner, data, args)
    ours["library"] = "cnnlab.keras"
    sizes = f"{len(data[0][1])} training images, {len(data[1][1])} validation images"
    if not args.grid_only:
        for row in (peer, ours):
            print(f"{row['library']:<32} fit {row['fit_seconds']:8.1f} s   test accuracy {row['test_accuracy']:.4f}")
        print(f"fit time ratio cnnlab.keras / Keras: {ours['fit_seconds'] / peer['fit_seconds']:.2f}x "
              f"(target <= 0.4x); accuracy difference {ours['test_accuracy'] - peer['test_accuracy']:+.4f} "
              f"(target within 0.01 over 10 epochs); {sizes}, {args.epochs} epochs")
    if args.grid or args.grid_only:
        for row in (peer, ours):
            low, high = row["val_accuracy_range"]
            print(f"{row['library']:<32} grid search {row['grid_seconds']:8.1f} s ({row['trials']} trials); "
                  f"best {row['best_values']}: val_loss {row['best_val_loss']:.4f}, val_accuracy "
                  f"{row['best_val_accuracy']:.4f} (trials' best epochs {low:.4f}-{high:.4f})")
        print(f"grid search time ratio cnnlab.keras / Keras: {ours['grid_seconds'] / peer['grid_seconds']:.2f}x; "
              f"{sizes}, {args.grid_epochs or args.epochs} epochs per trial")


if __name__ == "__main__":
    main()
