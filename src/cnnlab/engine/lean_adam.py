"""LeanAdam: torch's fused Adam with a shorter step, the same bits.

torch.optim.Adam.step spends a large share of a small model's step in Python (grouping
tensors by device and dtype, checking options) around its fused kernel. `LeanAdam` skips that
and, on a CPU, runs the update in one C call (native/adam.py) that gives torch's fused
kernel's bits. Results, state_dict and checkpoints are unchanged. Anything unusual (a
parameter without a gradient, tensors on several devices, another dtype) goes through torch's
own step.
"""

from __future__ import annotations

import torch

from cnnlab.engine.native import adam as native_adam


class LeanAdam(torch.optim.Adam):
    """torch's fused Adam (single parameter group, no amsgrad/weight decay) with a short step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._state_lists = None  # (params, exp_avgs, exp_avg_sqs, steps) once state exists
        self._native = None  # the C update over those lists (engine/native/adam.py), if it fits

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        self._state_lists = None

    @torch.no_grad()
    def step(self, closure=None):
        lists = self._lean_lists() if closure is None else None
        grads = [p.grad for p in lists[0]] if lists else None
        if lists is None or any(g is None for g in grads):
            self._state_lists = None
            return super().step(closure)
        params, exp_avgs, exp_avg_sqs, steps = lists
        group = self.param_groups[0]
        beta1, beta2 = group["betas"]
        if self._native is not None:
            if self._native(grads, group["lr"], beta1, beta2, group["eps"]):
                return None
            self._state_lists = None  # look again next step (a parameter may have new memory)
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params, grads, exp_avgs, exp_avg_sqs, [], steps,
            amsgrad=False, lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=0.0,
            eps=group["eps"], maximize=False, grad_scale=None, found_inf=None,
        )
        return None

    def _lean_lists(self):
        if self._state_lists is not None:
            return self._state_lists
        if len(self.param_groups) != 1:
            return None
        group = self.param_groups[0]
        plain = not (group["amsgrad"] or group["weight_decay"] or group["maximize"]
                     or group.get("decoupled_weight_decay") or isinstance(group["lr"], torch.Tensor))
        params = group["params"]
        states = [self.state.get(p) for p in params]
        if not plain or not all(states) or len({(p.device, p.dtype) for p in params}) != 1:
            return None  # torch's step creates the state on the first call
        self._state_lists = (
            params,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["step"] for s in states],
        )
        native = native_adam.available() and native_adam.fits(*self._state_lists)
        self._native = native_adam.Update(*self._state_lists) if native else None
        return self._state_lists
