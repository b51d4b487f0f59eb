"""`keras.losses`: sparse categorical cross-entropy, the loss cnnlab's engine trains with."""

from __future__ import annotations

from cnnlab.models.layers import ModelError, ModelSpec

SUPPORTED = "SparseCategoricalCrossentropy(from_logits=True|False) or 'sparse_categorical_crossentropy'"


class SparseCategoricalCrossentropy:
    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        if ignore_class is not None or reduction != "sum_over_batch_size":
            raise ModelError("SparseCategoricalCrossentropy: ignore_class and reduction are not supported")
        self.from_logits = bool(from_logits)
        self.name = name

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
                f"{last.name} has no softmax; use SparseCategoricalCrossentropy(from_logits=True) "
                "or activation='softmax' on the last layer"
            )

    def __call__(self, y_true, y_pred):
        raise ModelError("cnnlab.keras losses are used by compile(loss=...), not called on values")


def get(identifier) -> SparseCategoricalCrossentropy:
    if isinstance(identifier, SparseCategoricalCrossentropy):
        return identifier
    if identifier in ("sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"):
        return SparseCategoricalCrossentropy()
    if identifier is None:
        raise ModelError(f"compile() needs a loss; cnnlab.keras supports {SUPPORTED}")
    name = getattr(identifier, "__name__", None) or type(identifier).__name__
    shown = identifier if isinstance(identifier, str) else name
    raise ModelError(f"loss {shown!r} is not supported by cnnlab.keras; use {SUPPORTED}")
