"""The Keras side of the benchmarks, run in its own interpreter (Keras 3 on TensorFlow from
.venv-bench, or on torch as a fallback), printing one JSON line. Needs only keras and numpy.

    python bench/keras_peer.py throughput --batch-size 32 --images 50000 [--threads 2]
    python bench/keras_peer.py accuracy --data fashion.npz --epochs 10 --batch-size 32

The model is the lesson's cifar_model written as the lesson writes it; training uses
Keras's defaults (Adam, from-logits sparse cross-entropy) on inputs scaled by 1/255 once,
in float32, as the lesson's notebook does. Keras runs with its defaults, which were its
fastest on the project's machine (TensorFlow's oneDNN operators on, no XLA on a CPU: XLA and
TF_ENABLE_ONEDNN_OPTS=0 were both slower); `--threads N` sets TensorFlow's intra- and
inter-op thread pools to N, as cnnlab's `--threads` does for it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
from keras import layers  # noqa: E402


def cifar_model(input_shape, classes: int) -> keras.Model:
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D((2, 2)),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.Flatten(),
        layers.Dense(32, activation="relu"),
        layers.Dense(classes),
    ])


def compiled(input_shape, classes: int) -> keras.Model:
    model = cifar_model(input_shape, classes)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = getattr(self, "seconds", []) + [time.perf_counter() - self.started]


def use_threads(threads: int | None) -> None:
    if threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    elif threads and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(threads)


def throughput(args) -> dict:
    use_threads(args.threads)
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8) / 255.0).astype("float32")
    y = rng.integers(0, 10, args.images)
    keras.utils.set_random_seed(0)
    model = compiled((32, 32, 3), 10)
    warm = args.batch_size * 50
    model.fit(x[:warm], y[:warm], batch_size=args.batch_size, epochs=1, verbose=0)  # traces the graph
    timer = EpochTimes()
    model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0, callbacks=[timer])
    return {"images_per_second": args.images / timer.seconds[0], "seconds": timer.seconds[0]}


def accuracy(args) -> dict:
    data = np.load(args.data)
    x_train, x_test = (data[k].astype("float32") / 255.0 for k in ("x_train", "x_test"))
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    y_train, y_test = data["y_train"], data["y_test"]
    keras.utils.set_random_seed(args.seed)
    model = compiled(x_train.shape[1:], int(y_train.max()) + 1)
    timer = EpochTimes()
    started = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_test, y_test), verbose=0, callbacks=[timer])
    wall = time.perf_counter() - started
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    return {"history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            "epoch_seconds": timer.seconds, "wall_seconds": wall, "test_accuracy": float(acc),
            "test_loss": float(loss)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["throughput", "accuracy"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--images", type=int, default=50000)
    parser.add_argument("--data")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="TensorFlow's (or torch's) CPU threads; default: its own")
    args = parser.parse_args()
    result = throughput(args) if args.mode == "throughput" else accuracy(args)
    result.update(backend=keras.backend.backend(), keras=keras.__version__,
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
