"""Max pooling (valid padding, windows that do not overlap) with an optional fused relu.

torch's max_pool2d backward zero-fills the whole input gradient and then scatters into it;
on a CPU in bfloat16 that was about a fifth of the lesson model's training step. The C
kernel (maxpool.c) keeps a one-byte argmax per output and writes every input gradient once.
Results are bit-identical to F.max_pool2d (+ relu): the first maximum of a window in
row-major order gets the gradient, as in torch and TensorFlow, and NaN wins a window.
Big batches are split over torch's own OpenMP threads where the build allows (compiler.py).

Anything the kernel does not cover (other devices or dtypes, overlapping windows, no
compiler) runs torch's operators instead.
"""

from __future__ import annotations

import ctypes

import torch
import torch.nn.functional as F

from cnnlab.engine.native import compiler

_SUFFIX = {torch.float32: "f32", torch.bfloat16: "bf16"}
_MAX_WINDOW = 254  # argmax is one byte; 255 marks "zeroed by the relu"


def max_pool2d(x: torch.Tensor, window: tuple[int, int], strides: tuple[int, int], relu: bool = False):
    """(N, C, H, W) -> (N, C, H', W'), as F.max_pool2d(x, window, strides) then relu if asked."""
    if kernel_applies(x, window, strides):
        return _MaxPool.apply(x, tuple(window), tuple(strides), relu)
    out = F.max_pool2d(x, window, strides)
    return F.relu(out, inplace=True) if relu else out


def kernel_status() -> str:
    """'C kernel' or why torch's operator is used, for run records."""
    if library() is not None:
        return "C kernel"
    return f"torch ({compiler.unavailable_reason('maxpool')})"


def library():
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    signatures = {}
    for suffix in _SUFFIX.values():
        signatures[f"maxpool_forward_{suffix}"] = ([ptr, ptr, ptr] + [i64] * 10 + [ctypes.c_int], None)
        signatures[f"maxpool_backward_{suffix}"] = ([ptr, ptr, ptr] + [i64] * 10, None)
    return compiler.bound("maxpool", signatures)


def window_unsupported(window, strides) -> str | None:
    """Why the kernel cannot pool with this window and strides, or None."""
    (kh, kw), (sh, sw) = window, strides
    if sh < kh or sw < kw:
        return "overlapping pooling windows"
    return f"a pooling window of over {_MAX_WINDOW} values" if kh * kw > _MAX_WINDOW else None


def kernel_applies(x: torch.Tensor, window, strides) -> bool:
    if x.device.type != "cpu" or x.dtype not in _SUFFIX or x.dim() != 4:
        return False
    if window_unsupported(window, strides) or x.shape[2] < window[0] or x.shape[3] < window[1]:
        return False
    return library() is not None


class Pool:
    """The kernel for one input shape, with output, argmax and input-gradient buffers used
    again on every call (a result is valid until the next call). Inputs are channels_last."""

    def __init__(self, x_shape, dtype, window, strides, relu: bool):
        n, c, h, w = x_shape
        (kh, kw), (sh, sw) = window, strides
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        self.out = torch.empty((n, c, oh, ow), dtype=dtype, memory_format=torch.channels_last)
        self.argmax = torch.empty((n, oh, ow, c), dtype=torch.uint8)
        self.grad_x = None  # made by the first backward: evaluation never needs it
        self.x_shape = x_shape
        self.geometry = (n, h, w, c, kh, kw, sh, sw, oh, ow)
        lib = library()
        self.forward_kernel = getattr(lib, f"maxpool_forward_{_SUFFIX[dtype]}")
        self.backward_kernel = getattr(lib, f"maxpool_backward_{_SUFFIX[dtype]}")
        self.relu = int(relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forward_kernel(x.data_ptr(), self.out.data_ptr(), self.argmax.data_ptr(), *self.geometry, self.relu)
        return self.out

    def backward(self, grad: torch.Tensor) -> torch.Tensor:
        """The input gradient for the output gradient `grad` (channels_last, this dtype)."""
        grad_x = self.gradient_buffer()
        self.backward_kernel(grad.data_ptr(), self.argmax.data_ptr(), grad_x.data_ptr(), *self.geometry)
        return grad_x

    def gradient_buffer(self) -> torch.Tensor:
        if self.grad_x is None:
            self.grad_x = torch.empty(self.x_shape, dtype=self.out.dtype, memory_format=torch.channels_last)
        return self.grad_x


class _MaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, window, strides, relu):
        ctx.pool = Pool(x.shape, x.dtype, window, strides, relu)  # buffers of this call alone
        return ctx.pool.forward(x.contiguous(memory_format=torch.channels_last))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad = grad.to(ctx.pool.out.dtype).contiguous(memory_format=torch.channels_last)
        return ctx.pool.backward(grad), None, None, None
