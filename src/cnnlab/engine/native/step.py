"""A training step as one list of operations over fixed buffers, run in one C call (step.c).

The direct training step (engine/direct.py) builds a `Program` once per batch shape: each
layer adds its forward and backward operations, which point at the buffers of its oneDNN
primitives and pool kernel and at the model's weights and gradients. A step is then one call
that runs them all, instead of about 30 calls from Python, each with its own overhead.

The operations are the same kernels the step otherwise calls one by one, so the results
are the same, except for the small operations step.c writes out (activations, bias
gradients, the loss, dropout's multiplications): those follow torch's order of operations,
but exp, log and tanh may round the last bit differently from torch's. Dropout's random
masks are still drawn by torch, before each run, in the order the layer-by-layer step
draws them.
"""

from __future__ import annotations

import ctypes

import torch

from cnnlab.engine.native import compiler, onednn

(PIXELS, CONV_FORWARD, CONV_BACKWARD, MATMUL, POOL_FORWARD, POOL_BACKWARD,
 ACTIVATE, ACTIVATE_BACKWARD, COLUMN_SUM, CAST, LOSS, MULTIPLY, PAD, CROP) = range(14)
KIND_NAMES = ("pixels", "conv forward", "conv backward", "matmul", "pool forward", "pool backward",
              "activation", "activation backward", "bias gradient", "cast", "loss", "dropout mask",
              "pad", "crop")
ACTIVATIONS = {"relu": 0, "sigmoid": 1, "tanh": 2}
_DTYPES = {torch.float32: 0, torch.bfloat16: 1}


class _Op(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int64), ("dtype", ctypes.c_int64), ("dtype2", ctypes.c_int64),
        ("rows", ctypes.c_int64), ("n", ctypes.c_int64), ("fn", ctypes.c_void_p),
        ("p", ctypes.c_void_p * 8), ("geometry", ctypes.c_int64 * 10), ("scale", ctypes.c_float),
    ]


def available() -> bool:
    return unavailable_reason() is None


def unavailable_reason() -> str | None:
    """Why there are no step programs here (a C kernel they call is unavailable), or None."""
    from cnnlab.engine.native import maxpool, pixels

    for name, load in (("step", library), ("onednn", onednn.library), ("maxpool", maxpool.library),
                          ("pixels", pixels.library)):
        if load() is None:
            return compiler.unavailable_reason(name)
    return None


def library():
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    return compiler.bound("step", {"step_run": ([ptr, i64, ptr, ptr, ptr], i64)})


def _address(function) -> int:
    return ctypes.cast(function, ctypes.c_void_p).value


class Program:
    """Operations added in order, then `finish()`; `run(images, labels)` once per step.

    Every tensor, primitive or kernel an operation points at is kept alive by the program;
    the buffers are the program's until it is dropped."""

    def __init__(self):
        self.ops: list[_Op] = []
        self.keep: list = []
        self.before_run: list = []  # called before each run, in order (dropout's masks)
        self.loss = torch.zeros((), dtype=torch.float32)
        self.correct = torch.zeros((), dtype=torch.int64)
        self.array = None
        self.section = ""  # what the next operations belong to, e.g. "conv2d forward" (for profiles)
        self.sections: list[str] = []  # each operation's section

    def _add(self, kind, *tensors, fn=None, dtype=torch.float32, dtype2=torch.float32, rows=0, n=0,
             geometry=(), scale=0.0, keep=()):
        op = _Op(kind=kind, dtype=_DTYPES[dtype], dtype2=_DTYPES[dtype2], rows=rows, n=n, fn=fn, scale=scale)
        for i, t in enumerate(tensors):
            op.p[i] = t if isinstance(t, int) or t is None else t.data_ptr()
        for i, g in enumerate(geometry):
            op.geometry[i] = g
        self.ops.append(op)
        self.sections.append(self.section)
        self.keep.extend([t for t in tensors if isinstance(t, torch.Tensor)] + list(keep))

    # --- operations -----------------------------------------------------------------
    def pixels(self, out: torch.Tensor, scale: float, source: torch.dtype = torch.uint8) -> None:
        """The step's images into `out` (float32 or bfloat16, same element count): uint8
        pixels times `scale`, or float32 images as they are."""
        from cnnlab.engine.native import pixels

        kernels = pixels.KERNELS if source == torch.uint8 else pixels.FLOAT_KERNELS
        kernel = getattr(pixels.library(), kernels[out.dtype])
        self._add(PIXELS, out, fn=_address(kernel), n=out.numel(), scale=scale)

    def conv_forward(self, call: onednn.Convolution, x, weight, bias) -> torch.Tensor:
        self._add(CONV_FORWARD, call.handle.pointer, x, weight, bias, call.out,
                  fn=_address(call.lib.conv_forward), keep=[call, call.handle])
        return call.out

    def conv_backward(self, call: onednn.Convolution, grad, x, weight):
        self._add(CONV_BACKWARD, call.handle.pointer, grad, x, weight, call.grad_x, call.grad_w, call.grad_b,
                  fn=_address(call.lib.conv_backward), keep=[call, call.handle])
        return call.grad_x, call.grad_w, call.grad_b

    def matmul(self, call: onednn.MatMul, a, b, bias=None) -> torch.Tensor:
        self._add(MATMUL, call.handle.pointer, a, b, bias, call.out, fn=_address(call.lib.matmul_run),
                  keep=[call, call.handle])
        return call.out

    def pool_forward(self, pool, x) -> torch.Tensor:
        self._add(POOL_FORWARD, x, pool.out, pool.argmax, fn=_address(pool.forward_kernel), n=pool.relu,
                  geometry=pool.geometry, keep=[pool])
        return pool.out

    def pool_backward(self, pool, grad) -> torch.Tensor:
        grad_x = pool.gradient_buffer()
        self._add(POOL_BACKWARD, grad, pool.argmax, grad_x, fn=_address(pool.backward_kernel), geometry=pool.geometry,
                  keep=[pool])
        return grad_x

    def activate(self, x: torch.Tensor, name: str, out: torch.Tensor | None = None) -> torch.Tensor:
        """out = relu, sigmoid or tanh of x (in place where `out` is None); returns out."""
        out = x if out is None else out
        self._add(ACTIVATE, x, out, dtype=x.dtype, rows=ACTIVATIONS[name], n=x.numel())
        return out

    def activation_backward(self, grad: torch.Tensor, out: torch.Tensor, name: str) -> None:
        """grad (in place) through the activation whose output was `out`."""
        self._add(ACTIVATE_BACKWARD, grad, out, dtype=grad.dtype, rows=ACTIVATIONS[name], n=grad.numel())

    def column_sum(self, matrix: torch.Tensor) -> torch.Tensor:
        """A (rows, n) row-major matrix's column sums: a Dense layer's bias gradient."""
        out = torch.empty(matrix.shape[1], dtype=matrix.dtype)
        self._add(COLUMN_SUM, matrix, out, dtype=matrix.dtype, rows=matrix.shape[0], n=matrix.shape[1])
        return out

    def multiply(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
        """out = a * b elementwise (one dtype, same memory order); `out` may be `a`."""
        self._add(MULTIPLY, a, b, out, dtype=a.dtype, n=a.numel())

    def pad(self, x: torch.Tensor, pads, value: float) -> torch.Tensor:
        """x (N, C, H, W) channels_last padded by F.pad's (left, right, top, bottom), as
        F.pad(x, pads, value=value): the border is filled once, each run copies x inside."""
        (n, c, h, w), (left, right, top, bottom) = x.shape, pads
        padded = torch.full((n, h + top + bottom, w + left + right, c), value, dtype=x.dtype).permute(0, 3, 1, 2)
        self._add(PAD, x, padded, dtype=x.dtype, geometry=self._window(x, padded, top, left))
        return padded

    def crop(self, padded: torch.Tensor, pads) -> torch.Tensor:
        """The gradient of `pad`: the part of `padded` (N, C, H2, W2) inside the border."""
        (n, c, h2, w2), (left, right, top, bottom) = padded.shape, pads
        x = torch.empty((n, h2 - top - bottom, w2 - left - right, c), dtype=padded.dtype).permute(0, 3, 1, 2)
        self._add(CROP, padded, x, dtype=x.dtype, geometry=self._window(x, padded, top, left))
        return x

    @staticmethod
    def _window(x, padded, top, left):
        if not (x.is_contiguous(memory_format=torch.channels_last)
                and padded.is_contiguous(memory_format=torch.channels_last)):
            raise ValueError("pad and crop take channels_last (N, C, H, W) tensors")
        (n, c, h, w), (h2, w2) = x.shape, padded.shape[2:]
        return (n, h, w, c, h2, w2, top, left)

    def cast(self, source: torch.Tensor, target: torch.Tensor) -> None:
        """target = source in target's dtype (same element count and memory order)."""
        self._add(CAST, source, target, dtype=source.dtype, dtype2=target.dtype, n=source.numel())

    def cross_entropy(self, logits: torch.Tensor) -> torch.Tensor:
        """Sparse cross-entropy of `logits` (rows, classes) against the step's labels; the
        logits' gradient (same dtype) is returned, the loss and correct count go to
        `self.loss` and `self.correct`."""
        grad = torch.empty_like(logits)
        rows, n = logits.shape
        self._add(LOSS, logits, grad, self.loss, self.correct, dtype=logits.dtype, rows=rows, n=n)
        return grad

    # --- running ---------------------------------------------------------------------
    def finish(self) -> Program:
        self.array = (_Op * len(self.ops))(*self.ops)
        self.run_step = library().step_run
        return self

    def operations(self) -> list[tuple[str, str]]:
        """(section, kind) of each operation in order, e.g. ("conv2d backward", "conv backward")."""
        return [(section, KIND_NAMES[op.kind]) for section, op in zip(self.sections, self.ops)]

    def run(self, images: torch.Tensor, labels: torch.Tensor, seconds: torch.Tensor | None = None,
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on contiguous images (the dtype the program was built for) and int64
        labels: (mean loss, correct count). `seconds`: a float64 tensor, one element per
        operation, to which each operation's wall time is added (the step profile)."""
        if seconds is not None and (seconds.dtype != torch.float64 or seconds.numel() != len(self.ops)
                                    or not seconds.is_contiguous()):
            raise ValueError(f"seconds must be a contiguous float64 tensor of {len(self.ops)} elements")
        for prepare in self.before_run:
            prepare()
        with onednn.running:
            failed = self.run_step(self.array, len(self.ops), images.data_ptr(), labels.data_ptr(),
                                   None if seconds is None else seconds.data_ptr())
        if failed:
            op = self.ops[failed - 1]
            if op.kind == LOSS:
                raise ValueError(f"labels must be class indices 0..{op.n - 1}")
            raise RuntimeError(onednn.library().last_error().decode())
        return self.loss.clone(), self.correct.clone()
