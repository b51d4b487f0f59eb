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

from cnnlab.models.native import compiler

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
    if _library() is not None:
        return "C kernel"
    return f"torch ({compiler.unavailable_reason('maxpool')})"


def _library():
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    signatures = {}
    for suffix in _SUFFIX.values():
        signatures[f"maxpool_forward_{suffix}"] = ([ptr, ptr, ptr] + [i64] * 10 + [ctypes.c_int], None)
        signatures[f"maxpool_backward_{suffix}"] = ([ptr, ptr, ptr] + [i64] * 10, None)
    return compiler.bound("maxpool", signatures)


def kernel_applies(x: torch.Tensor, window, strides) -> bool:
    if x.device.type != "cpu" or x.dtype not in _SUFFIX or x.dim() != 4:
        return False
    (kh, kw), (sh, sw) = window, strides
    if sh < kh or sw < kw or kh * kw > _MAX_WINDOW or x.shape[2] < kh or x.shape[3] < kw:
        return False
    return _library() is not None


def pool_forward(x: torch.Tensor, window, strides, relu: bool):
    """The C kernel's forward: (output, argmax, geometry); `geometry` is for `pool_backward`."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = window, strides
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    x = x.contiguous(memory_format=torch.channels_last)  # (N, H, W, C) in memory
    out = torch.empty((n, c, oh, ow), dtype=x.dtype, memory_format=torch.channels_last)
    argmax = torch.empty((n, oh, ow, c), dtype=torch.uint8)
    kernel = getattr(_library(), f"maxpool_forward_{_SUFFIX[x.dtype]}")
    kernel(x.data_ptr(), out.data_ptr(), argmax.data_ptr(), n, h, w, c, kh, kw, sh, sw, oh, ow, int(relu))
    return out, argmax, (n, c, h, w, kh, kw, sh, sw, oh, ow)


def pool_backward(grad: torch.Tensor, argmax: torch.Tensor, geometry, dtype: torch.dtype) -> torch.Tensor:
    """The input gradient for `pool_forward`'s output gradient `grad`."""
    n, c, h, w, kh, kw, sh, sw, oh, ow = geometry
    grad = grad.to(dtype).contiguous(memory_format=torch.channels_last)
    grad_x = torch.empty((n, c, h, w), dtype=dtype, memory_format=torch.channels_last)
    kernel = getattr(_library(), f"maxpool_backward_{_SUFFIX[dtype]}")
    kernel(grad.data_ptr(), argmax.data_ptr(), grad_x.data_ptr(), n, h, w, c, kh, kw, sh, sw, oh, ow)
    return grad_x


class _MaxPool(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, window, strides, relu):
        out, argmax, ctx.geometry = pool_forward(x, window, strides, relu)
        ctx.save_for_backward(argmax)
        ctx.dtype = x.dtype
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (argmax,) = ctx.saved_tensors
        return pool_backward(grad, argmax, ctx.geometry, ctx.dtype), None, None, None
