"""Conv2D forward and backward through oneDNN primitives created once per shape.

torch runs its CPU convolutions on oneDNN too, but it builds the primitive descriptors again on
every call, which at batch 32 costs 40-110 us per call around kernels of 30-300 us. The C shim
(onednn_conv.c) creates the forward, backward-data and backward-weights primitives of a shape
once; this module keeps the last few shapes (a training run uses one per layer, plus the last,
smaller batch) and calls them with torch tensors' memory.

Used by the direct training step when oneDNN is installed (the onednn-devel-cpu-gomp wheel,
a dependency on x86-64 Linux) and a C compiler is present; torch's operator otherwise. The
kernels are the same family torch picks (brgemm on AVX-512), and results match torch's to the
last bit in the tests, except that a backward-data kernel may round a bf16 input gradient the
other way (1 ulp).
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict

import torch

from cnnlab.models.native import compiler

_DTYPES = {torch.float32: 0, torch.bfloat16: 1}
_CACHED_SHAPES = 16


def applies(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether `forward`/`backward` can run this convolution (else use torch's operator)."""
    return (
        x.device.type == "cpu" and x.dtype in _DTYPES and weight.dtype == x.dtype and x.dim() == 4
        and _library() is not None
    )


def status() -> str:
    """'oneDNN 3.2.0' or why torch's operator is used, for run records."""
    lib = _library()
    if lib is None:
        return f"torch ({compiler.unavailable_reason('onednn_conv')})"
    version = lib.dnnl_version().contents
    return f"oneDNN {version.major}.{version.minor}.{version.patch}"


def forward(x, weight, bias, stride) -> torch.Tensor:
    """conv2d(x, weight, bias, stride), no padding: (N, C, H, W) -> (N, O, OH, OW), channels_last."""
    x, weight = _channels_last(x), _channels_last(weight)
    bias = bias.contiguous() if bias is not None else None
    handle, out_shape = _handle(x, weight, bias is not None, stride)
    out = torch.empty(out_shape, dtype=x.dtype, memory_format=torch.channels_last)
    _check(_library().conv_forward(handle, x.data_ptr(), weight.data_ptr(), _ptr(bias), out.data_ptr()))
    return out


def backward(grad, x, weight, stride, input_grad: bool, with_bias: bool):
    """(grad_x or None, grad_weight, grad_bias or None) for `forward`'s output gradient."""
    x, weight, grad = _channels_last(x), _channels_last(weight), _channels_last(grad.to(x.dtype))
    handle, _ = _handle(x, weight, with_bias, stride)
    grad_x = torch.empty_like(x) if input_grad else None
    grad_w = torch.empty_like(weight)
    grad_b = torch.empty(weight.shape[0], dtype=x.dtype) if with_bias else None
    _check(_library().conv_backward(
        handle, grad.data_ptr(), x.data_ptr(), weight.data_ptr(), _ptr(grad_x), grad_w.data_ptr(), _ptr(grad_b)
    ))
    return grad_x, grad_w, grad_b


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int)]


class _Handle:
    """The primitives of one shape; destroyed with this object."""

    def __init__(self, lib, pointer: int):
        self.lib, self.pointer = lib, pointer

    def __del__(self):
        self.lib.conv_destroy(self.pointer)


_handles: OrderedDict[tuple, tuple[_Handle, tuple]] = OrderedDict()


def _handle(x, weight, with_bias: bool, stride) -> tuple[int, tuple]:
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    sh, sw = stride
    key = (x.dtype, n, c, h, w, o, kh, kw, sh, sw, with_bias)
    if key in _handles:
        _handles.move_to_end(key)
        handle, out_shape = _handles[key]
        return handle.pointer, out_shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    lib = _library()
    pointer = lib.conv_create(_DTYPES[x.dtype], n, c, h, w, o, kh, kw, sh, sw, oh, ow, int(with_bias))
    if not pointer:
        raise RuntimeError(lib.conv_error().decode())
    _handles[key] = (_Handle(lib, pointer), (n, o, oh, ow))
    if len(_handles) > _CACHED_SHAPES:
        _handles.popitem(last=False)
    return pointer, (n, o, oh, ow)


def _library():
    lib = compiler.load("onednn_conv")
    if lib is not None and not hasattr(lib, "_cnnlab_ready"):
        ptr, i64, i32 = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
        lib.conv_create.argtypes, lib.conv_create.restype = [i32] + [i64] * 11 + [i32], ptr
        lib.conv_destroy.argtypes, lib.conv_destroy.restype = [ptr], None
        lib.conv_forward.argtypes, lib.conv_forward.restype = [ptr] * 5, i32
        lib.conv_backward.argtypes, lib.conv_backward.restype = [ptr] * 7, i32
        lib.conv_error.argtypes, lib.conv_error.restype = [], ctypes.c_char_p
        lib.dnnl_version.argtypes, lib.dnnl_version.restype = [], ctypes.POINTER(_Version)
        lib._cnnlab_ready = True
    return lib


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _check(status: int) -> None:
    if status != 0:
        raise RuntimeError(_library().conv_error().decode())
