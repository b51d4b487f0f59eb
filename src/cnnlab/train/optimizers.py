"""Keras's optimizers with Keras's defaults (Adam takes the engine's shorter step, LeanAdam)."""

from __future__ import annotations

import torch

from cnnlab.engine.lean_adam import LeanAdam

KERAS_EPSILON = 1e-7


def make_optimizer(name: str, params, lr: float, device: str) -> torch.optim.Optimizer:
    """Keras's defaults: Adam beta 0.9/0.999, epsilon 1e-7; SGD without momentum; RMSprop rho 0.9."""
    fused = device in ("cpu", "cuda")
    if name == "adam":
        cls = LeanAdam if fused else torch.optim.Adam
        return cls(params, lr=lr, betas=(0.9, 0.999), eps=KERAS_EPSILON, fused=fused)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.0, fused=fused)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=KERAS_EPSILON, momentum=0.0, foreach=True)
    raise AssertionError(f"unknown optimizer {name!r}")  # settings are checked before
