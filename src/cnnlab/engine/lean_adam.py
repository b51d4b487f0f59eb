"""LeanAdam: torch's fused Adam with a shorter step, the same bits.

torch.optim.Adam.step spends a large share of a small model's step in Python (grouping
tensors by device and dtype, checking options) around its fused kernel. `LeanAdam` skips that
and, on a CPU, runs the update in one C call (native/adam.py) that gives torch's fused
kernel's bits. Results, state_dict and checkpoints are unchanged. Anything unusual (a
parameter without a gradient, tensors on several devices, another dtype) goes through torch's
own step.

LeanAdam also never imports torch._dynamo, which costs seconds at the start of every run:
torch wraps the optimizer's bookkeeping (add_param_group, zero_grad, state_dict,
load_state_dict) and its step in functions that import it on their first call, so that
torch.compile can trace them. cnnlab never compiles an optimizer; LeanAdam uses the
functions inside those wrappers and creates the first step's state itself, as torch does.
"""

from __future__ import annotations

import torch

from cnnlab.engine.native import adam as native_adam


def _without_dynamo(method):
    """The function torch wrapped in `torch._disable_dynamo` (which imports torch._dynamo)."""
    return getattr(method, "__wrapped__", method)


_OPTIMIZER = torch.optim.Optimizer


class LeanAdam(torch.optim.Adam):
    """torch's fused Adam (single parameter group, no amsgrad/weight decay) with a short step."""

    add_param_group = _without_dynamo(_OPTIMIZER.add_param_group)
    zero_grad = _without_dynamo(_OPTIMIZER.zero_grad)
    state_dict = _without_dynamo(_OPTIMIZER.state_dict)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._state_lists = None  # (params, exp_avgs, exp_avg_sqs, steps) once state exists
        self._native = None  # the C update over those lists (engine/native/adam.py), if it fits

    def load_state_dict(self, state_dict) -> None:
        _without_dynamo(_OPTIMIZER.load_state_dict)(self, state_dict)
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
        if not plain or not group["fused"] or len({(p.device, p.dtype) for p in params}) != 1:
            return None
        if not any(self.state.get(p) for p in params) and all(p.grad is not None for p in params):
            self._first_state(params)
        states = [self.state.get(p) for p in params]
        if not all(states):
            return None  # torch's step creates what is missing
        self._state_lists = (
            params,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [s["step"] for s in states],
        )
        native = native_adam.available() and native_adam.fits(*self._state_lists)
        self._native = native_adam.Update(*self._state_lists) if native else None
        return self._state_lists

    def _first_state(self, params) -> None:
        """The state torch's fused Adam creates at its first step (Adam._init_group): a float32
        step counter on the parameter's device and zero moments in the parameter's layout."""
        for p in params:
            self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
            }
