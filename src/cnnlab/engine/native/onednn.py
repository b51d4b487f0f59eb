"""Conv2D (forward and backward) and matrix products through oneDNN primitives made once per shape.

torch runs its CPU convolutions and bf16 products on oneDNN too, but it builds the primitive
descriptors again on every call, which at batch 32 costs about as much as the kernels
themselves (docs/performance.md has the figures). The C shim
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
from functools import cache

import torch

from cnnlab.engine.native import compiler

_DTYPES = {torch.float32: 0, torch.bfloat16: 1}
_CACHED_SHAPES = 32
# one call at a time: the shim's stream, a primitive's scratchpad and the handle cache serve
# one caller (ctypes releases the GIL, so two Python threads training at once would share them)
running = threading.Lock()


def applies(*tensors: torch.Tensor) -> bool:
    """Whether these CPU tensors (one dtype, fp32 or bf16) can go to oneDNN here."""
    first = tensors[0]
    return (
        first.device.type == "cpu" and first.dtype in _DTYPES
        and all(t.dtype == first.dtype and t.device == first.device for t in tensors)
        and library() is not None and dtype_works(first.dtype)
    )


@cache
def dtype_works(dtype: torch.dtype) -> bool:
    """Whether this oneDNN has convolutions and products in `dtype` on this CPU.

    bf16 needs AVX512-BF16 or AMX in oneDNN 3.2 (cnnlab picks bf16 only on such CPUs, but
    ONEDNN_MAX_CPU_ISA can hide them); where it has none, torch's operators run instead."""
    lib = library()
    if lib is None:
        return False
    with running:
        conv = lib.conv_create(_DTYPES[dtype], 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
        product = lib.matmul_create(_DTYPES[dtype], 1, 1, 1, 0, 0, 1)
        for pointer, destroy in ((conv, lib.conv_destroy), (product, lib.matmul_destroy)):
            if pointer:
                destroy(pointer)
    return bool(conv and product)


def status() -> str:
    """'oneDNN 3.2.0' or why torch's operator is used, for run records."""
    lib = library()
    if lib is None:
        return f"torch ({compiler.unavailable_reason('onednn')})"
    version = lib.dnnl_version().contents
    return f"oneDNN {version.major}.{version.minor}.{version.patch}"


class Convolution:
    """One convolution shape: its primitives, and output and gradient buffers used again on
    every call (a result is valid until the next call). The caller passes channels_last
    tensors of the shapes given here. The training step keeps one per layer and input shape,
    so no output is allocated and no primitive looked up per call.

    x_shape (N, C, H, W), weight_shape (O, C, KH, KW); no padding."""

    def __init__(self, x_shape, weight_shape, dtype, with_bias: bool, stride, input_grad: bool = True):
        (n, c, h, w), (o, _, kh, kw), (sh, sw) = x_shape, weight_shape, stride
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        lib = self.lib = library()

        def create():
            return lib.conv_create(_DTYPES[dtype], n, c, h, w, o, kh, kw, sh, sw, oh, ow, int(with_bias)), lib.conv_destroy

        self.handle = _primitives(("conv", dtype, n, c, h, w, o, kh, kw, sh, sw, with_bias), create)
        self.out = torch.empty((n, o, oh, ow), dtype=dtype, memory_format=torch.channels_last)
        self.grad_x = torch.empty(x_shape, dtype=dtype, memory_format=torch.channels_last) if input_grad else None
        self.grad_w = torch.empty(weight_shape, dtype=dtype, memory_format=torch.channels_last)
        self.grad_b = torch.empty(o, dtype=dtype) if with_bias else None
        self.buffers = [_ptr(t) for t in (self.out, self.grad_x, self.grad_w, self.grad_b)]

    def forward(self, x, weight, bias) -> torch.Tensor:
        """conv2d(x, weight, bias, stride) into `self.out`."""
        with running:
            _check(self.lib.conv_forward(self.handle.pointer, x.data_ptr(), weight.data_ptr(), _ptr(bias),
                                         self.buffers[0]))
        return self.out

    def backward(self, grad, x, weight):
        """(grad_x or None, grad_weight, grad_bias or None) for the output gradient `grad`."""
        _, grad_x, grad_w, grad_b = self.buffers
        with running:
            _check(self.lib.conv_backward(self.handle.pointer, grad.data_ptr(), x.data_ptr(), weight.data_ptr(),
                                          grad_x, grad_w, grad_b))
        return self.grad_x, self.grad_w, self.grad_b


def conv_forward(x, weight, bias, stride) -> torch.Tensor:
    """conv2d(x, weight, bias, stride), no padding: (N, C, H, W) -> (N, O, OH, OW), channels_last."""
    x, weight = _channels_last(x), _channels_last(weight)
    bias = bias.contiguous() if bias is not None else None
    return Convolution(x.shape, weight.shape, x.dtype, bias is not None, stride, False).forward(x, weight, bias)


def conv_backward(grad, x, weight, stride, input_grad: bool, with_bias: bool):
    """(grad_x or None, grad_weight, grad_bias or None) for `conv_forward`'s output gradient."""
    x, weight, grad = _channels_last(x), _channels_last(weight), _channels_last(grad.to(x.dtype))
    return Convolution(x.shape, weight.shape, x.dtype, with_bias, stride, input_grad).backward(grad, x, weight)


class MatMul:
    """One product shape and layout, a (m x k) @ b (k x n) [+ bias], with its output buffer
    used again on every call. a_transposed: a is a transposed view of a row-major (k x m)
    matrix (likewise b); `layout(t)` tells which a tensor is."""

    def __init__(self, m: int, k: int, n: int, dtype, a_transposed: bool, b_transposed: bool, with_bias: bool):
        lib = self.lib = library()

        def create():
            return lib.matmul_create(_DTYPES[dtype], m, k, n, a_transposed, b_transposed, int(with_bias)), \
                lib.matmul_destroy

        self.handle = _primitives(("matmul", dtype, m, k, n, a_transposed, b_transposed, with_bias), create)
        self.out = torch.empty((m, n), dtype=dtype)
        self.out_pointer = self.out.data_ptr()

    @staticmethod
    def layout(t: torch.Tensor) -> bool | None:
        """False: row-major; True: the transpose of a row-major matrix; None: neither."""
        return False if t.is_contiguous() else True if t.t().is_contiguous() else None

    def run(self, a, b, bias=None) -> torch.Tensor:
        with running:
            _check(self.lib.matmul_run(self.handle.pointer, a.data_ptr(), b.data_ptr(), _ptr(bias), self.out_pointer))
        return self.out


def matmul(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """a @ b (+ bias) for matrices; a and b may be transposed views of row-major matrices."""
    a, a_t = _row_major_or_transposed(a)
    b, b_t = _row_major_or_transposed(b)
    bias = bias.contiguous() if bias is not None else None
    (m, k), n = a.shape, b.shape[1]
    return MatMul(m, k, n, a.dtype, a_t, b_t, bias is not None).run(a, b, bias)


def _row_major_or_transposed(t: torch.Tensor) -> tuple[torch.Tensor, bool]:
    transposed = MatMul.layout(t)
    return (t.contiguous(), False) if transposed is None else (t, transposed)


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int)]


class _Handle:
    """The primitives of one shape; destroyed with this object."""

    def __init__(self, pointer: int, destroy):
        self.pointer, self.destroy = pointer, destroy

    def __del__(self):
        self.destroy(self.pointer)


_handles: OrderedDict[tuple, _Handle] = OrderedDict()


def _primitives(key: tuple, create) -> _Handle:
    """The primitives for `key`; `create()` makes them on a miss and returns (pointer or None,
    its destroy function). The recent shapes are kept; a caller keeps its handle alive."""
    with running:
        if key not in _handles:
            pointer, destroy = create()
            if not pointer:
                raise RuntimeError(library().last_error().decode())
            _handles[key] = _Handle(pointer, destroy)
            if len(_handles) > _CACHED_SHAPES:
                _handles.popitem(last=False)
        _handles.move_to_end(key)
        return _handles[key]


def library():
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
        raise RuntimeError(library().last_error().decode())
