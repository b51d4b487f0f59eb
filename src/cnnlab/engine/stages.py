"""The lesson's layers for the direct training step (direct.py): forward and backward
written out, layer by layer or as part of a step program.

Each layer class has `forward`/`backward`, which call the aten operators autograd would (or
the oneDNN primitives and the pool kernel, kept per input shape with their buffers), and
`emit`/`emit_backward`, which add the same work to a step `Program`
(engine/native/step.py) instead, or return None where the layer cannot be part of one.
"""

from __future__ import annotations

import torch

from cnnlab.engine.native import maxpool, onednn
from cnnlab.models import build

aten = torch.ops.aten
ACTIVATIONS = (None, "relu", "sigmoid", "tanh")


def _activate(name: str | None, x: torch.Tensor, inplace: bool) -> torch.Tensor:
    if name == "relu":
        return aten.relu_(x) if inplace else aten.relu(x)
    if name == "sigmoid":
        return aten.sigmoid(x)
    if name == "tanh":
        return aten.tanh(x)
    return x


def _activation_backward(name: str | None, grad: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    if name == "relu":
        return aten.threshold_backward(grad, out, 0)
    if name == "sigmoid":
        return aten.sigmoid_backward(grad, out)
    if name == "tanh":
        return aten.tanh_backward(grad, out)
    return grad


def _pads(block, window) -> list[int] | None:
    """F.pad's amounts for a 'same' Conv2D or pooling block; None where nothing is padded."""
    pads = build.same_pads(block.hw, window, block.strides) if block.same else (0, 0, 0, 0)
    return list(pads) if any(pads) else None


def _unpad(grad: torch.Tensor, pads: list[int]) -> torch.Tensor:
    """The backward of padding: the gradient of the unpadded part (constant_pad_nd's own)."""
    return aten.constant_pad_nd(grad, [-p for p in pads], 0.0)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last)


def _is_channels_last(t: torch.Tensor) -> bool:
    return t.is_contiguous(memory_format=torch.channels_last)





def remember(calls: dict, key, make):
    """calls[key], made by `make()` on a miss; the last few input shapes are kept (a run has
    two: the batch size and the last, smaller batch of an epoch)."""
    if key not in calls:
        if len(calls) >= _KEPT_SHAPES:
            del calls[next(iter(calls))]
        calls[key] = make()
    return calls[key]


_KEPT_SHAPES = 4


class _Conv:
    def __init__(self, block, first: bool, native: bool):
        conv = block.conv
        self.params = [conv.weight] + ([conv.bias] if conv.bias is not None else [])
        # a 1x1 kernel with strides runs with unit strides on the positions it reads, as the
        # model's forward does (build.ConvBlock.unit_strides says why)
        self.strides = tuple(conv.stride)
        self.subsample = block.unit_strides
        strides = [1, 1] if self.subsample else list(conv.stride)
        self.args = (strides, list(conv.padding), list(conv.dilation), False, [0, 0], conv.groups)
        # oneDNN primitives (engine/native/onednn.py) cover what Keras's Conv2D builds here
        self.plain = native and conv.padding == (0, 0) and conv.dilation == (1, 1) and conv.groups == 1
        self.bias_sizes = [conv.out_channels] if conv.bias is not None else None
        self.pads = _pads(block, block.kernel)
        self.activation = block.activation
        self.input_grad = not first  # the images need no gradient
        self.calls: dict = {}  # (input shape, dtype, weight shape) -> onednn.Convolution, or None

    def _native(self, x, weight):
        def make():
            if not (self.plain and x.dim() == 4 and onednn.applies(x, weight)):
                return None
            with_bias = self.bias_sizes is not None
            return onednn.Convolution(x.shape, weight.shape, x.dtype, with_bias, self.args[0], self.input_grad)

        return remember(self.calls, (x.shape, x.dtype, x.device, weight.shape, weight.dtype), make)

    def forward(self, x, weight, bias=None):
        if self.pads:
            x = aten.constant_pad_nd(x, self.pads, 0.0)
        if self.subsample:
            self.full_shape = x.shape
            x = build.unit_stride_input(x, self.strides)
        self.call = self._native(x, weight)
        if self.call is None:
            x = build.conv_input(x, self.args[0])
            out = aten.convolution(x, weight, bias, *self.args)
        else:
            x, weight = _channels_last(x), _channels_last(weight)
            out = self.call.forward(x, weight, bias)
        self.saved = x, weight
        self.out = _activate(self.activation, out, inplace=True)
        return self.out

    def program_unsupported(self) -> str | None:
        """Why this layer cannot be part of a step `Program`, or None."""
        if self.subsample:
            return "a 1x1 kernel with strides"
        return "torch's operators" if not self.plain else None

    def emit(self, program, x, weight, bias=None):
        """Add this layer's forward to a step `Program`; None if it cannot be part of one."""
        if self.program_unsupported() or not (_is_channels_last(x) and _is_channels_last(weight)):
            return None
        if self.pads:
            x = program.pad(x, self.pads, 0.0)
        call = self._native(x, weight)
        if call is None:
            return None
        out = program.conv_forward(call, x, weight, bias)
        if self.activation:
            program.activate(out, self.activation)
        self.emitted = call, x, weight, out
        return out

    def emit_backward(self, program, grad):
        call, x, weight, out = self.emitted
        if self.activation:
            program.activation_backward(grad, out, self.activation)
        grad_x, grad_w, grad_b = program.conv_backward(call, grad, x, weight)
        if grad_x is not None and self.pads:
            grad_x = program.crop(grad_x, self.pads)
        return grad_x, [grad_w] + ([grad_b] if grad_b is not None else [])

    def backward(self, grad):
        (x, weight), out = self.saved, self.out
        self.saved = self.out = None
        grad = _activation_backward(self.activation, grad, out)
        if self.call is not None:
            grad_x, grad_w, grad_b = self.call.backward(_channels_last(grad.to(x.dtype)), x, weight)
        else:
            mask = [self.input_grad, True, self.bias_sizes is not None]
            grad_x, grad_w, grad_b = aten.convolution_backward(grad, x, weight, self.bias_sizes, *self.args, mask)
        if grad_x is not None and self.subsample:  # the backward of the slicing: zeros elsewhere
            full = grad_x.new_zeros(self.full_shape)
            full[:, :, :: self.strides[0], :: self.strides[1]] = grad_x
            grad_x = full
        if grad_x is not None and self.pads:
            grad_x = _unpad(grad_x, self.pads)
        return grad_x, [grad_w] + ([grad_b] if grad_b is not None else [])


class _MaxPool:
    params: list = []

    def __init__(self, block):
        self.window, self.strides = tuple(block.window), tuple(block.strides)
        self.pads = _pads(block, block.window)
        self.relu = block.activation == "relu"
        self.calls: dict = {}  # (input shape, dtype) -> maxpool.Pool, or None

    def _kernel(self, x):
        def make():
            if not maxpool.kernel_applies(x, self.window, self.strides):
                return None
            return maxpool.Pool(x.shape, x.dtype, self.window, self.strides, self.relu)

        return remember(self.calls, (x.shape, x.dtype, x.device), make)

    def forward(self, x):
        if self.pads:
            x = aten.constant_pad_nd(x, self.pads, float("-inf"))
        self.call = self._kernel(x)
        if self.call is not None:
            return self.call.forward(_channels_last(x))
        out, indices = aten.max_pool2d_with_indices(x, self.window, self.strides, [0, 0], [1, 1], False)
        if self.relu:
            out = aten.relu_(out)
        self.saved = x, indices, out
        return out

    def program_unsupported(self) -> str | None:
        return maxpool.window_unsupported(self.window, self.strides)

    def emit(self, program, x):
        if not _is_channels_last(x):
            return None
        if self.pads:
            x = program.pad(x, self.pads, float("-inf"))
        pool = self._kernel(x)
        if pool is None:
            return None
        self.emitted = pool
        return program.pool_forward(pool, x)

    def emit_backward(self, program, grad):
        grad_x = program.pool_backward(self.emitted, grad)
        return (program.crop(grad_x, self.pads) if self.pads else grad_x), []

    def backward(self, grad):
        if self.call is not None:
            grad_x = self.call.backward(_channels_last(grad.to(self.call.out.dtype)))
        else:
            (x, indices, out), self.saved = self.saved, None
            if self.relu:
                grad = aten.threshold_backward(grad, out, 0)
            grad_x = aten.max_pool2d_with_indices_backward(
                grad, x, self.window, self.strides, [0, 0], [1, 1], False, indices
            )
        if self.pads:
            grad_x = _unpad(grad_x, self.pads)
        return grad_x, []


class Flatten:
    params: list = []

    def forward(self, x):
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)  # Keras flattens channels_last
        self.shape = x.shape
        return x.flatten(1)

    def backward(self, grad):
        grad = grad.reshape(self.shape)
        return (grad.permute(0, 3, 1, 2) if len(self.shape) == 4 else grad), []

    def program_unsupported(self) -> str | None:
        return None

    def emit(self, program, x):
        out = self.forward(x)  # a view of x's memory, which a program needs
        return out if out.data_ptr() == x.data_ptr() and out.is_contiguous() else None

    def emit_backward(self, program, grad):
        grad_x, grads = self.backward(grad)
        if grad_x.data_ptr() != grad.data_ptr() or not _is_channels_last(grad_x):
            raise AssertionError("a flattened gradient is a view")  # its input was one: see emit
        return grad_x, grads


class _Dense:
    def __init__(self, block, first: bool, native: bool):
        linear = block.linear
        self.params = [linear.weight] + ([linear.bias] if linear.bias is not None else [])
        self.activation = block.activation
        self.input_grad = not first
        self.plain = native  # False: torch's operators
        self.calls: dict = {}  # (product, shapes, layouts, dtype) -> onednn.MatMul

    def _matmul(self, name: str, a, b, bias=None):
        """(the oneDNN product kept for this shape and layout, a, b): a @ b (+ bias)."""
        a_t, b_t = onednn.MatMul.layout(a), onednn.MatMul.layout(b)
        if a_t is None:
            a, a_t = a.contiguous(), False
        if b_t is None:
            b, b_t = b.contiguous(), False
        (m, k), n = a.shape, b.shape[1]
        key = (name, m, k, n, a_t, b_t, a.dtype)
        call = remember(self.calls, key, lambda: onednn.MatMul(m, k, n, a.dtype, a_t, b_t, bias is not None))
        return call, a, b

    def _product(self, name: str, a, b, bias=None):
        call, a, b = self._matmul(name, a, b, bias)
        return call.run(a, b, bias)

    def program_unsupported(self) -> str | None:
        return "torch's operators" if not self.plain else None

    def emit(self, program, x, weight, bias=None):
        if self.program_unsupported() or not onednn.applies(x, weight):
            return None
        if onednn.MatMul.layout(x) is None or onednn.MatMul.layout(weight) is None:
            return None  # a copy made now would not see later steps' values
        out = program.matmul(*self._matmul("forward", x, weight.t(), bias), bias)
        if self.activation:
            program.activate(out, self.activation)
        self.emitted = x, weight, out
        return out

    def emit_backward(self, program, grad):
        x, weight, out = self.emitted
        if self.activation:
            program.activation_backward(grad, out, self.activation)
        grad_x = program.matmul(*self._matmul("grad_x", grad, weight)) if self.input_grad else None
        grads = [program.matmul(*self._matmul("grad_w", grad.t(), x))]
        return grad_x, grads + ([program.column_sum(grad)] if len(self.params) == 2 else [])

    def forward(self, x, weight, bias=None):
        self.native = self.plain and onednn.applies(x, weight)
        if self.native:
            out = self._product("forward", x, weight.t(), bias)
        else:  # F.linear on a matrix: addmm with a bias, mm without
            out = aten.addmm(bias, x, weight.t()) if bias is not None else aten.mm(x, weight.t())
        self.saved = x, weight
        self.out = _activate(self.activation, out, inplace=False)
        return self.out

    def backward(self, grad):
        (x, weight), out = self.saved, self.out
        self.saved = self.out = None
        grad = _activation_backward(self.activation, grad, out)
        # as autograd's mm backward for x @ weight.t() (weight.t() is column-major)
        if self.native:
            grad_x = self._product("grad_x", grad, weight) if self.input_grad else None
            grad_w = self._product("grad_w", grad.t(), x)
        else:
            grad_x = torch.mm(grad, weight) if self.input_grad else None
            grad_w = torch.mm(grad.t(), x)
        return grad_x, [grad_w] + ([grad.sum(0)] if len(self.params) == 2 else [])


class _Dropout:
    params: list = []

    def __init__(self, block):
        self.rate = block.dropout.p

    def forward(self, x):
        self.noise = None
        if self.rate == 0:
            return x
        # torch's CPU dropout: a Bernoulli(1 - rate) mask scaled by 1 / (1 - rate), multiplied in
        noise = torch.empty_like(x).bernoulli_(1 - self.rate)
        self.noise = noise.div_(1 - self.rate)
        return x * self.noise

    def backward(self, grad):
        noise, self.noise = self.noise, None
        return (grad if noise is None else grad * noise), []

    def program_unsupported(self) -> str | None:
        return None

    def emit(self, program, x):
        """The mask is drawn by torch before each run of the program (the same draws, in the
        same order, as `forward`); the program multiplies it in."""
        if self.rate == 0:
            self.emitted = None
            return x
        keep = 1 - self.rate
        noise, out = torch.empty_like(x), torch.empty_like(x)
        program.before_run.append(lambda: noise.bernoulli_(keep).div_(keep))
        program.multiply(x, noise, out)
        self.emitted = noise
        return out

    def emit_backward(self, program, grad):
        if self.emitted is not None:
            if grad.stride() != self.emitted.stride():
                raise AssertionError("a gradient is laid out as its layer's output")
            program.multiply(grad, self.emitted, grad)  # in place: the gradient is this layer's
        return grad, []


class _Activation:
    params: list = []

    def __init__(self, block):
        self.activation = block.activation

    def forward(self, x):
        self.out = _activate(self.activation, x, inplace=False)
        return self.out

    def backward(self, grad):
        out, self.out = self.out, None
        return _activation_backward(self.activation, grad, out), []

    def program_unsupported(self) -> str | None:
        return None

    def emit(self, program, x):
        if self.activation is None:
            self.emitted = None
            return x
        out = torch.empty_like(x)  # the layer before may need its own output for its backward
        self.emitted = program.activate(x, self.activation, out)
        return out

    def emit_backward(self, program, grad):
        if self.emitted is not None:
            program.activation_backward(grad, self.emitted, self.activation)
        return grad, []


def block_unsupported(block) -> str | None:
    if type(block) not in _STAGES:
        return type(block).__name__.strip("_")
    if block.activation not in ACTIVATIONS:
        return f"activation {block.activation!r}"
    if isinstance(block, build.PoolBlock) and block.average:
        return "average pooling"
    if isinstance(block, build.DropoutBlock) and not 0 <= block.dropout.p < 1:
        return f"dropout rate {block.dropout.p}"
    if isinstance(block, build.DenseBlock) and block.on_grid:
        return "Dense on 4-D input"
    return None


_STAGES = {
    build.ConvBlock: lambda block, first, native: _Conv(block, first, native),
    build.PoolBlock: lambda block, first, native: _MaxPool(block),
    build.FlattenBlock: lambda block, first, native: Flatten(),
    build.DenseBlock: lambda block, first, native: _Dense(block, first, native),
    build.DropoutBlock: lambda block, first, native: _Dropout(block),
    build.ActivationBlock: lambda block, first, native: _Activation(block),
}


def make_stage(block, first: bool, native: bool = True):
    """The stage that trains `block`; `native` False: torch's operators instead of oneDNN's."""
    return _STAGES[type(block)](block, first, native)
