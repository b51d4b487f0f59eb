"""Keras's optimizers with Keras's defaults (Adam takes the engine's shorter step, LeanAdam).

`cnnlab train` steps Adam and RMSprop with torch's formulas, which its recorded runs and
exact resume depend on; cnnlab.keras asks for Keras 3's own (`keras_formulas=True`), which put
epsilon elsewhere, so the same weights train to Keras's numbers.
"""

from __future__ import annotations

import math

import torch

from cnnlab.engine.lean_adam import LeanAdam

KERAS_EPSILON = 1e-7


def make_optimizer(name: str, params, lr: float, device: str, *,
                   keras_formulas: bool = False) -> torch.optim.Optimizer:
    """Keras's defaults: Adam beta 0.9/0.999, epsilon 1e-7; SGD without momentum; RMSprop rho 0.9."""
    fused = device in ("cpu", "cuda")
    if name == "adam":
        cls = KerasAdam if keras_formulas else LeanAdam if fused else torch.optim.Adam
        return cls(params, lr=lr, betas=(0.9, 0.999), eps=KERAS_EPSILON, fused=fused)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.0, fused=fused)
    if name == "rmsprop":
        if keras_formulas:
            return KerasRMSprop(params, lr=lr)
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=KERAS_EPSILON, momentum=0.0, foreach=True)
    raise AssertionError(f"unknown optimizer {name!r}")  # settings are checked before


class KerasAdam(LeanAdam):
    """Adam as Keras 3 steps it. Keras adds epsilon to the root of the uncorrected velocity,
    torch to the bias-corrected one: torch's step with epsilon / sqrt(1 - beta_2**t) is Keras's."""

    @torch.no_grad()
    def step(self, closure=None):
        group = self.param_groups[0]
        state = self.state.get(group["params"][0], {})
        taken = int(state["step"]) if "step" in state else 0  # a loaded file may hold some
        group["eps"] = KERAS_EPSILON / math.sqrt(1.0 - group["betas"][1] ** (taken + 1))
        return super().step(closure)


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop as Keras steps it, lr * g / sqrt(v + epsilon) (torch takes sqrt(v) + epsilon);
    its state keeps torch's names (square_avg, step), which saving reads."""

    def __init__(self, params, lr: float, rho: float = 0.9, eps: float = KERAS_EPSILON):
        super().__init__(params, {"lr": lr, "alpha": rho, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = torch.tensor(0.0)
                    state["square_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                state["step"] += 1
                velocity = state["square_avg"]
                velocity.mul_(group["alpha"]).addcmul_(param.grad, param.grad, value=1 - group["alpha"])
                param.addcdiv_(param.grad, velocity.add(group["eps"]).sqrt_(), value=-group["lr"])
