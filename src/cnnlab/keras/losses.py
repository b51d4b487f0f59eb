"""`keras.losses`: cross-entropy on class numbers (sparse) or on one-hot rows, as the engine trains.

On exact one-hot rows, categorical cross-entropy is the sparse loss of each row's class number,
so `CategoricalCrossentropy` trains the same step on the labels' argmax.
"""

from __future__ import annotations

import inspect

from cnnlab.models.layers import ModelError, ModelSpec

SUPPORTED = ("SparseCategoricalCrossentropy(from_logits=True|False) or 'sparse_categorical_crossentropy' "
             "(class numbers), CategoricalCrossentropy or 'categorical_crossentropy' (one-hot labels)")


class SparseCategoricalCrossentropy:
    one_hot = False  # labels are class numbers (N,) or (N, 1)

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None or reduction != "sum_over_batch_size":
            raise ModelError("SparseCategoricalCrossentropy: ignore_class and reduction are not supported")
        self.from_logits = bool(from_logits)
        self.name = name

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": "sum_over_batch_size", "from_logits": self.from_logits,
                "ignore_class": None}

    def check_output(self, spec: ModelSpec) -> None:
        """The engine trains on logits: a final softmax must match from_logits=False, as in Keras."""
        last = spec.layers[-1]
        softmax = last.kind in ("Dense", "Activation") and last.args.get("activation") == "softmax"
        if softmax and self.from_logits:
            raise ModelError(
                f"the model ends with a softmax ({last.name}) but the loss has from_logits=True, so "
                "Keras would apply softmax twice; use from_logits=False or remove the softmax"
            )
        if not softmax and not self.from_logits:
            raise ModelError(
                f"the loss expects probabilities (from_logits=False) but the model's last layer "
                f"{last.name} has no softmax; use {type(self).__name__}(from_logits=True) "
                "or activation='softmax' on the last layer"
            )

    def __call__(self, y_true, y_pred):
        raise ModelError("cnnlab.keras losses are used by compile(loss=...), not called on values")


class CategoricalCrossentropy(SparseCategoricalCrossentropy):
    one_hot = True  # labels are one-hot rows (N, classes), e.g. keras.utils.to_categorical(y)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        if label_smoothing or axis != -1 or reduction != "sum_over_batch_size":
            raise ModelError("CategoricalCrossentropy: label_smoothing, axis and reduction are not supported")
        self.from_logits = bool(from_logits)
        self.name = name

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": "sum_over_batch_size", "from_logits": self.from_logits,
                "label_smoothing": 0.0, "axis": -1}


_BY_NAME = {"sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
            "SparseCategoricalCrossentropy": SparseCategoricalCrossentropy,
            "categorical_crossentropy": CategoricalCrossentropy,
            "CategoricalCrossentropy": CategoricalCrossentropy}


def get(identifier) -> SparseCategoricalCrossentropy:
    if isinstance(identifier, SparseCategoricalCrossentropy):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if identifier is None:
        raise ModelError(f"compile() needs a loss; cnnlab.keras supports {SUPPORTED}")
    name = getattr(identifier, "__name__", None) or type(identifier).__name__
    shown = identifier if isinstance(identifier, str) else name
    raise ModelError(f"loss {shown!r} is not supported by cnnlab.keras; use {SUPPORTED}")


def from_config(name: str, config: dict) -> SparseCategoricalCrossentropy | None:
    """The loss a saved compile config names (None when cnnlab.keras has no such loss)."""
    cls = _BY_NAME.get(name)
    if cls is None:
        return None
    known = set(inspect.signature(cls).parameters) - {"name", "dtype"}
    return cls(**{key: value for key, value in config.items() if key in known})


def __getattr__(name: str):
    """A Keras name this module does not offer is refused by name (an AttributeError for hasattr)."""
    from cnnlab.keras.layers import Unsupported

    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise Unsupported(f"keras.losses.{name} is not supported by cnnlab.keras; it offers SparseCategoricalCrossentropy, CategoricalCrossentropy (or their snake_case names as strings)")
