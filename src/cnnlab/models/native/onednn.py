"""Conv2D (forward and backward) and matrix products through oneDNN primitives made once per shape.

torch runs its CPU convolutions and bf16 products on oneDNN too, but it builds the primitive
descriptors again on every call: at batch 32 that costs 40-110 us per convolution around
kernels of 30-300 us, and 30 us per Dense-layer product that itself takes 5 us. The C shim
(onednn.c) creates the primitives of a shape once; this module keeps the recent shapes (a
training run uses a few per layer, plus the last, smaller batch) and calls them with torch
tensors' memory.

Used by the direct training step when oneDNN is installed (the onednn-devel-cpu-gomp wheel,
a dependency on x86-64 Linux) and a C compiler is present; torch's operators otherwise. The
kernels are the ones torch picks (brgemm on AVX-512), and results match torch's to the last
bit in the tests, except that a kernel may round a bf16 result the other way (1 ulp).
"""

from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict

import torch

from cnnlab.models.native import compiler

_DTYPES = {torch.float32: 0, torch.bfloat16: 1}
_CACHED_SHAPES = 32
# one call at a time: the shim's stream, a primitive's scratchpad and the handle cache serve
# one caller (ctypes releases the GIL, so two Python threads training at once would share them)
_running = threading.Lock()


def applies(*tensors: torch.Tensor) -> bool:
    """Whether these CPU tensors (one dtype, fp32 or bf16) can go to oneDNN here."""
    first = tensors[0]
    return (
        first.device.type == "cpu" and first.dtype in _DTYPES
        and all(t.dtype == first.dtype and t.device == first.device for t in tensors)
        and _library() is not None
    )


def status() -> str:
    """'oneDNN 3.2.0' or why torch's operator is used, for run records."""
    lib = _library()
    if lib is None:
        return f"torch ({compiler.unavailable_reason('onednn')})"
    version = lib.dnnl_version().contents
    return f"oneDNN {version.major}.{version.minor}.{version.patch}"


def conv_forward(x, weight, bias, stride) -> torch.Tensor:
    """conv2d(x, weight, bias, stride), no padding: (N, C, H, W) -> (N, O, OH, OW), channels_last."""
    x, weight = _channels_last(x), _channels_last(weight)
    bias = bias.contiguous() if bias is not None else None
    with _running:
        handle, out_shape = _conv(x, weight, bias is not None, stride)
        out = torch.empty(out_shape, dtype=x.dtype, memory_format=torch.channels_last)
        _check(_library().conv_forward(handle, x.data_ptr(), weight.data_ptr(), _ptr(bias), out.data_ptr()))
    return out


def conv_backward(grad, x, weight, stride, input_grad: bool, with_bias: bool):
    """(grad_x or None, grad_weight, grad_bias or None) for `conv_forward`'s output gradient."""
    x, weight, grad = _channels_last(x), _channels_last(weight), _channels_last(grad.to(x.dtype))
    grad_x = torch.empty_like(x) if input_grad else None
    grad_w = torch.empty_like(weight)
    grad_b = torch.empty(weight.shape[0], dtype=x.dtype) if with_bias else None
    with _running:
        handle, _ = _conv(x, weight, with_bias, stride)
        _check(_library().conv_backward(
            handle, grad.data_ptr(), x.data_ptr(), weight.data_ptr(), _ptr(grad_x), grad_w.data_ptr(), _ptr(grad_b)
        ))
    return grad_x, grad_w, grad_b


def matmul(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """a @ b (+ bias) for matrices; a and b may be transposed views of row-major matrices."""
    (m, k), n = a.shape, b.shape[1]
    a, a_t = _row_major_or_transposed(a)
    b, b_t = _row_major_or_transposed(b)
    bias = bias.contiguous() if bias is not None else None
    lib = _library()

    def create():
        pointer = lib.matmul_create(_DTYPES[a.dtype], m, k, n, a_t, b_t, int(bias is not None))
        return pointer, lib.matmul_destroy, (m, n)

    with _running:
        pointer, out_shape = _primitives(("matmul", a.dtype, m, k, n, a_t, b_t, bias is not None), create)
        out = torch.empty(out_shape, dtype=a.dtype)
        _check(_library().matmul_run(pointer, a.data_ptr(), b.data_ptr(), _ptr(bias), out.data_ptr()))
    return out


def _row_major_or_transposed(t: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if t.is_contiguous():
        return t, False
    if t.t().is_contiguous():
        return t, True
    return t.contiguous(), False


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int)]


class _Handle:
    """The primitives of one shape; destroyed with this object."""

    def __init__(self, pointer: int, destroy):
        self.pointer, self.destroy = pointer, destroy

    def __del__(self):
        self.destroy(self.pointer)


_handles: OrderedDict[tuple, tuple[_Handle, tuple]] = OrderedDict()


def _primitives(key: tuple, create) -> tuple[int, tuple]:
    """(pointer, output shape) of the primitives for `key`; `create()` makes them on a miss and
    returns (pointer or None, its destroy function, output shape). Call with `_running` held."""
    if key not in _handles:
        pointer, destroy, out_shape = create()
        if not pointer:
            raise RuntimeError(_library().last_error().decode())
        _handles[key] = (_Handle(pointer, destroy), out_shape)
        if len(_handles) > _CACHED_SHAPES:
            _handles.popitem(last=False)
    _handles.move_to_end(key)
    handle, out_shape = _handles[key]
    return handle.pointer, out_shape


def _conv(x, weight, with_bias: bool, stride) -> tuple[int, tuple]:
    n, c, h, w = x.shape
    o, _, kh, kw = weight.shape
    (sh, sw), lib = stride, _library()
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1

    def create():
        pointer = lib.conv_create(_DTYPES[x.dtype], n, c, h, w, o, kh, kw, sh, sw, oh, ow, int(with_bias))
        return pointer, lib.conv_destroy, (n, o, oh, ow)

    return _primitives(("conv", x.dtype, n, c, h, w, o, kh, kw, sh, sw, with_bias), create)


def _library():
    ptr, i64, i32 = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
    return compiler.bound("onednn", {
        "conv_create": ([i32] + [i64] * 11 + [i32], ptr),
        "conv_destroy": ([ptr], None),
        "conv_forward": ([ptr] * 5, i32),
        "conv_backward": ([ptr] * 7, i32),
        "matmul_create": ([i32] + [i64] * 3 + [i32] * 3, ptr),
        "matmul_destroy": ([ptr], None),
        "matmul_run": ([ptr] * 5, i32),
        "last_error": ([], ctypes.c_char_p),
        "dnnl_version": ([], ctypes.POINTER(_Version)),
    })


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _check(status: int) -> None:
    if status != 0:
        raise RuntimeError(_library().last_error().decode())
