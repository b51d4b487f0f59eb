"""Adam's update for float32 CPU tensors in one C call, the same bits as torch's fused kernel.

torch's `_fused_adam_` on a CPU runs its kernel once per tensor, each in a parallel region,
after `_foreach_add_` on the step counts, which for a small model costs far more than the
arithmetic. adam.c does the same
arithmetic in the same order for all tensors in one call. Its result depends on where torch's
kernel switches from SIMD vectors to single elements, which depends on torch's CPU capability,
so `available()` checks it bit for bit against torch once per process; anywhere it differs
(an unknown capability, another torch build), torch's kernel keeps running.
"""

from __future__ import annotations

import ctypes
from functools import cache

import torch

from cnnlab.engine.native import compiler

# torch's CPU capability -> where its kernel's tail starts: after the last whole 8 floats
# (AVX512: 16-float vectors, then a remainder loop the compiler vectorised 8 wide), as
# measured against torch 2.13's kernel
_WIDTHS = {"AVX512": 8, "AVX2": 8}
_CHECK_SIZES = (1, 7, 8, 13, 16, 29, 40, 1000, 1013)
_CHECK_STEPS = 3


def status() -> str:
    """'C kernel' or why torch's fused kernel runs, for run records."""
    if available():
        return "C kernel"
    return f"torch ({_unavailable_reason()})"


def _width() -> int | None:
    return _WIDTHS.get(torch.backends.cpu.get_cpu_capability())


def library():
    i64, ptr, f64 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_double
    signature = ([i64] + [ptr] * 6 + [f64] * 4 + [i64], ctypes.c_int)
    return compiler.bound("adam", {"adam_step": signature})


class Update:
    """Adam steps over fixed tensors, as torch._foreach_add_(steps, 1) then torch._fused_adam_.

    `params`, `exp_avgs`, `exp_avg_sqs`: float32 CPU tensors, each dense and laid out as its
    parameter; `steps`: float32 scalars. Create only where `available()`."""

    def __init__(self, params, exp_avgs, exp_avg_sqs, steps):
        self.params = list(params)
        self.fixed = [_pointers(tensors) for tensors in (self.params, exp_avgs, exp_avg_sqs, steps)]
        self.addresses = [p.data_ptr() for p in self.params]
        self.sizes = (ctypes.c_int64 * len(self.params))(*(p.numel() for p in self.params))
        self.grads: list | None = None
        self.grad_pointers = None

    def __call__(self, grads: list, lr: float, beta1: float, beta2: float, eps: float) -> bool:
        """One step in place; False (and nothing changed) where `grads` or the tensors do not fit."""
        if self.grads is None or len(grads) != len(self.grads) or any(a is not b for a, b in zip(grads, self.grads)):
            if not all(_laid_out_as(g, p) for g, p in zip(grads, self.params)):
                return False
            self.grads, self.grad_pointers = list(grads), _pointers(grads)
        if [p.data_ptr() for p in self.params] != self.addresses:  # a parameter got new storage
            return False
        params, exp_avgs, exp_avg_sqs, steps = self.fixed
        code = library().adam_step(len(self.params), params, self.grad_pointers, exp_avgs, exp_avg_sqs, steps,
                                    self.sizes, lr, beta1, beta2, eps, _width())
        if code != 0:
            raise MemoryError("adam_step could not allocate its tables")
        return True


def fits(params, exp_avgs, exp_avg_sqs, steps) -> bool:
    """Whether `Update` covers these tensors: dense float32 on the CPU, moments laid out as
    their parameter (torch's kernel also walks memory in order), float32 scalar step counts."""
    dense = all(p.is_contiguous() or p.is_contiguous(memory_format=torch.channels_last) for p in params)
    moments = all(_laid_out_as(t, p) for p, m, v in zip(params, exp_avgs, exp_avg_sqs) for t in (p, m, v))
    counts = all(s.dtype == torch.float32 and s.numel() == 1 and s.device.type == "cpu" for s in steps)
    return dense and moments and counts and len(params) == len(exp_avgs) == len(exp_avg_sqs) == len(steps)


def _laid_out_as(t: torch.Tensor, p: torch.Tensor) -> bool:
    return (t.dtype == torch.float32 and t.device.type == "cpu" and t.shape == p.shape
            and t.stride() == p.stride())


def _pointers(tensors) -> ctypes.Array:
    return (ctypes.c_void_p * len(tensors))(*(t.data_ptr() for t in tensors))


def _unavailable_reason() -> str | None:
    if library() is None:
        return compiler.unavailable_reason("adam")
    if _width() is None:
        return f"CPU capability {torch.backends.cpu.get_cpu_capability()} not measured"
    if not _matches_torch():
        return "differs from torch's fused kernel on this machine"
    return None


@cache
def available() -> bool:
    return _unavailable_reason() is None


def _matches_torch() -> bool:
    """Both kernels on the same random tensors: equal to the bit after a few steps."""
    g = torch.Generator().manual_seed(0)
    mine = [torch.randn(n, generator=g) for n in _CHECK_SIZES]
    theirs = [p.clone() for p in mine]
    mine_state = [[torch.zeros(n) for n in _CHECK_SIZES] for _ in range(2)] + [[torch.zeros(()) for _ in mine]]
    their_state = [[t.clone() for t in ts] for ts in mine_state]
    update = Update(mine, *mine_state)
    for _ in range(_CHECK_STEPS):
        # gradients over many magnitudes, so small and large second moments are both checked
        grads = [torch.randn(n, generator=g) * 10.0 ** torch.randint(-6, 2, (n,), generator=g) for n in _CHECK_SIZES]
        update(grads, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7)
        torch._foreach_add_(their_state[2], 1)
        torch._fused_adam_(theirs, grads, their_state[0], their_state[1], [], their_state[2], amsgrad=False,
                           lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-7, maximize=False,
                           grad_scale=None, found_inf=None)
    pairs = zip(mine + sum(mine_state, []), theirs + sum(their_state, []))
    return all(torch.equal(a, b) for a, b in pairs)
