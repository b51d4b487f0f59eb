"""compile / fit / evaluate / predict on cnnlab's training engine, with Keras's contract.

The model's weights are a torch module from `cnnlab.models.build` (Keras's initialisation),
made when first needed; `fit` runs epochs through `cnnlab.train.trainer.Trainer` (the
engine), with Keras's callbacks and progress display around them (callbacks.py).
"""

from __future__ import annotations

import warnings

import numpy as np

from cnnlab.keras import callbacks as cbks
from cnnlab.keras import losses, optimizers
from cnnlab.keras.data import adjust_rank, as_labels, as_pixels, check_array_data
from cnnlab.models.layers import ModelError

FIT_DEFAULT_BATCH = 32  # Keras's default batch size for fit, evaluate and predict


class TrainingMixin:
    """The training half of `keras.Model`; the model half is models.py."""

    def _init_training(self) -> None:
        self._net = None  # torch module holding the weights, once made
        self._trainer = None  # the engine's Trainer (keeps the optimizer's state across fits)
        self.optimizer = self.loss = None
        self._metrics: list[str] = []
        self.compiled = False
        self.stop_training = False
        self.history = None

    def _has_weights(self) -> bool:
        return self._net is not None

    def _ensure_net(self):
        if self._net is None:
            if not self.built:
                raise ModelError(
                    f"model {self.name!r} has no input shape yet: give it a keras.Input or fit it first"
                )
            from cnnlab.models.build import build

            self._net = build(self.spec())  # torch's global RNG: keras.utils.set_random_seed fixes it
        return self._net

    def _optimizer_params(self) -> int | None:
        if self._trainer is None or self.optimizer is None or not self.optimizer.built:
            return None
        return self.optimizer.variable_count(self.report().trainable)

    # --- compile ------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1, jit_compile="auto",
                auto_scale_loss=True):
        """Keras's `compile`: an optimizer, sparse categorical cross-entropy, metrics=['accuracy']."""
        if loss_weights is not None or weighted_metrics is not None or steps_per_execution != 1:
            raise ModelError("compile(): loss_weights, weighted_metrics and steps_per_execution are not supported")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        self._metrics = _metric_names(metrics, self.loss.one_hot)
        if self.built:
            self.loss.check_output(self.spec())
        self._trainer = None  # a new optimizer starts from scratch, as in Keras
        self.compiled = True

    def _require_compiled(self) -> None:
        if not self.compiled:
            raise ValueError("You must call `compile()` before using the model.")

    def _engine(self):
        """The engine's Trainer for this model and optimizer, made once per compile."""
        if self._trainer is None:
            from cnnlab.keras.engine_glue import make_trainer

            self.loss.check_output(self.spec())
            self._trainer = make_trainer(self._ensure_net(), self.optimizer)
            self.optimizer.built = True
        return self._trainer

    # --- fit ----------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Keras's `fit` on numpy arrays; returns a `keras.callbacks.History`."""
        from cnnlab.keras.engine_glue import run_fit

        self._require_compiled()
        for name, value in (("class_weight", class_weight), ("sample_weight", sample_weight),
                            ("steps_per_epoch", steps_per_epoch), ("validation_steps", validation_steps),
                            ("validation_batch_size", validation_batch_size)):
            if value is not None:
                raise ModelError(f"fit(): {name} is not supported by cnnlab.keras")
        if validation_freq != 1 or shuffle not in (True, False):
            raise ModelError("fit(): validation_freq and shuffle='batch' are not supported by cnnlab.keras")
        check_array_data(x, "x")
        batch_size = _batch_size(batch_size)
        x, split_at = np.asarray(x), None
        if validation_data is None and validation_split:
            if not 0 < validation_split < 1:
                raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
            split_at = int(np.floor(len(x) * (1.0 - validation_split)))  # Keras: the last part
        if not self.built:  # Keras builds a Sequential model from the first batch's shape
            self.build((min(batch_size, len(x) if split_at is None else split_at), *x.shape[1:]))
        y = as_labels(y, len(x), "y", self._one_hot_width())  # one-hot labels need the class count
        if validation_data is not None:
            val = _validation_pair(validation_data)
        elif split_at is not None:
            val = (x[split_at:], y[split_at:])
            x, y = x[:split_at], y[:split_at]
        else:
            val = None
        self._require_images()
        ref = self._input_layer.shape
        x = as_pixels(adjust_rank(x, ref, self._input_layer.name))
        if val is not None:
            check_array_data(val[0], "validation_data x")
            val = (as_pixels(adjust_rank(np.asarray(val[0]), ref, self._input_layer.name)),
                   val[1] if split_at is not None else  # a split of y: class numbers already
                   as_labels(val[1], len(val[0]), "validation_data y", self._one_hot_width()))
        self._check_labels(y)
        history = cbks.History()
        callback_list = cbks.CallbackList(
            callbacks, model=self, history=history, verbose=cbks.resolve_verbose(verbose),
            params={"verbose": cbks.resolve_verbose(verbose), "epochs": epochs,
                    "steps": -(-len(y) // batch_size)},
        )
        self.stop_training = False
        run_fit(self, self._engine(), x, y, val, batch_size, epochs, initial_epoch, shuffle,
                callback_list, self._metrics)
        self.history = history
        return history

    # --- evaluate / predict -------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """[loss, accuracy] (or {"accuracy", "loss"} with return_dict=True), as Keras."""
        from cnnlab.keras.engine_glue import run_evaluate

        self._require_compiled()
        if sample_weight is not None or steps is not None or callbacks:
            raise ModelError("evaluate(): sample_weight, steps and callbacks are not supported by cnnlab.keras")
        check_array_data(x, "x")
        batch_size = _batch_size(batch_size)
        self._require_images()
        images = as_pixels(adjust_rank(np.asarray(x), self._input_layer.shape, self._input_layer.name))
        labels = as_labels(y, len(images), "y", self._one_hot_width())
        self._check_labels(labels)
        logs = run_evaluate(self, self._engine(), images, labels, batch_size,
                            cbks.resolve_verbose(verbose), self._metrics)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m] for m in self._metrics]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """The model's outputs as a numpy array: probabilities after a final softmax, else raw."""
        from cnnlab.keras.engine_glue import run_predict

        if steps is not None or callbacks:
            raise ModelError("predict(): steps and callbacks are not supported by cnnlab.keras")
        check_array_data(x, "x")
        batch_size = _batch_size(batch_size)
        self._require_images()
        images = as_pixels(adjust_rank(np.asarray(x), self._input_layer.shape, self._input_layer.name))
        return run_predict(self, images, batch_size, cbks.resolve_verbose(verbose))

    def _require_images(self) -> None:
        """The engine runs image models: an input of (height, width, channels)."""
        shape = self._input_layer.shape
        if len(shape) != 3:
            hint = (f"for one-channel images use keras.Input(shape={(*shape, 1)}) (the data's channel "
                    "axis is added for you)" if len(shape) == 2 else
                    "models on rows of numbers (tables) are outside what it trains")
            raise ModelError(
                f"model {self.name!r} takes inputs of shape {tuple(shape)}: cnnlab.keras trains, "
                f"evaluates and predicts with image models, inputs (height, width, channels); {hint}"
            )

    def _one_hot_width(self) -> int | None:
        """The class count one-hot labels must have under categorical_crossentropy, else None."""
        if not self.loss.one_hot:
            return None
        self._check_labels(np.zeros(0, np.int64))  # the model must end in one score per class
        return self.report().output_shape[0]

    def _check_labels(self, y: np.ndarray) -> None:
        classes = self.report().output_shape
        if len(classes) != 1:
            raise ModelError(
                f"model {self.name!r} outputs {self.report().output_shape} per example; class labels "
                "need one score per class: end the model with Flatten/GlobalPooling and Dense(classes)"
            )
        if len(y) and (y.min() < 0 or y.max() >= classes[0]):
            raise ModelError(
                f"labels run from {y.min()} to {y.max()} but the model has {classes[0]} outputs; "
                f"make the last layer Dense({int(y.max()) + 1})"
            )

    # --- weights ------------------------------------------------------------------
    def get_weights(self) -> list[np.ndarray]:
        from cnnlab.keras.saving import keras_weights

        return keras_weights(self._ensure_net())

    def set_weights(self, weights) -> None:
        from cnnlab.keras.saving import set_keras_weights

        set_keras_weights(self._ensure_net(), weights)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Keras's `.keras` file (`name.keras`) or cnnlab's folder (`name.cnnlab`); saving.py.

        Keras's keywords: `include_optimizer`, which Keras 3 reads for legacy `.h5` files only
        (a `.keras` file holds the optimizer's state either way), `save_format` (ignored with a
        warning where the suffix names the format, as Keras 3 does); others are refused, as in Keras.
        """
        from cnnlab.keras.saving import save_model

        kwargs.pop("include_optimizer", None)
        save_format = kwargs.pop("save_format", None)
        if kwargs:
            raise ModelError(f"save(): argument(s) {', '.join(kwargs)} are not supported "
                             "(Keras 3 refuses them too)")
        if zipped is not None and not zipped:
            raise ModelError("save(zipped=False): cnnlab.keras writes the zipped .keras file only; "
                             "leave zipped out")
        if save_format:
            if not str(filepath).endswith((".keras", ".cnnlab")):
                raise ModelError("save(save_format=...) is gone in Keras 3: remove it and give a "
                                 "file name ending in .keras")
            warnings.warn("save_format is deprecated in Keras 3 and ignored: the file name's suffix "
                          "chooses the format", stacklevel=2)
        save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite=True, max_shard_size=None):
        """The weights alone, in Keras's HDF5 layout (`name.weights.h5`)."""
        from cnnlab.keras.saving import save_weights

        if max_shard_size is not None:
            raise ModelError("save_weights(max_shard_size=...) is not supported by cnnlab.keras")
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Weights from `name.weights.h5` or `name.keras`, each shape checked against the model."""
        from cnnlab.keras.saving import load_weights

        if kwargs:
            raise ModelError(f"load_weights(): unsupported argument(s) {', '.join(kwargs)}")
        load_weights(self, filepath, skip_mismatch=skip_mismatch)


def _batch_size(value) -> int:
    if value is None:
        return FIT_DEFAULT_BATCH
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"batch_size should be a positive integer, got {value!r}")
    return int(value)


def _validation_pair(data):
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ModelError(
            "fit(): validation_data should be (x_val, y_val); sample weights and datasets are not supported"
        )
    return data[0], data[1]


def _metric_names(metrics, one_hot: bool) -> list[str]:
    if metrics is None:
        return []
    if not isinstance(metrics, (list, tuple, dict)):
        raise ValueError(
            "Expected `metrics` argument to be a list, tuple, or dict. Received instead: "
            f"metrics={metrics} of type {type(metrics)}; e.g. metrics=['accuracy']"
        )
    if isinstance(metrics, dict):
        metrics = [metrics]  # one entry per output: refused by name below
    names = []
    for metric in metrics:
        name = getattr(metric, "name", metric)
        if name in ("accuracy", "acc", "sparse_categorical_accuracy" if not one_hot else "categorical_accuracy"):
            names.append(name)  # Keras logs the metric under the name it was given
        else:
            raise ModelError(
                f"metric {name!r} is not supported by cnnlab.keras with this loss; use metrics=['accuracy']"
            )
    return names
