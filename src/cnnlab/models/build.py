"""ModelSpec -> torch.nn.Module with Keras semantics and initialisation.

The module takes float batches laid out NCHW (N, C, H, W); the engine passes them in
channels_last memory format, which is what permuting a Keras-style NHWC array gives
for free: `torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)`. Inside, 4-D tensors stay
NCHW; Flatten and Dense on 4-D input follow Keras's channels_last order, so weights
are laid out exactly as Keras lays them out.

`forward` returns logits: a final softmax (Dense(10, activation='softmax') or an
Activation('softmax') at the end) is left out of forward and recorded in
`module.output_softmax`, so training uses the stable from-logits cross-entropy and
`predict` applies the softmax. Keras's own lesson model ends with a linear Dense.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.models.layers import Layer, ModelSpec
from cnnlab.models.shapes import analyze, window_output


def build(spec: ModelSpec, input_shape: tuple[int, ...] | None = None) -> KerasNet:
    """A torch module for `spec`, initialised as Keras initialises a fresh model.

    Use `torch.manual_seed` before calling for a reproducible initialisation.
    """
    report = analyze(spec, input_shape)
    return KerasNet(report.layers, spec.name, report.input_shape)


class KerasNet(nn.Module):
    """A stack of Keras-equivalent layers. Input (N, C, H, W) float; output logits."""

    def __init__(self, layer_reports, name: str, input_shape: tuple[int, ...]):
        super().__init__()
        self.name = name
        self.input_shape = tuple(input_shape)  # (H, W, C), Keras order
        blocks = [_block(r.layer, r.input_shape) for r in layer_reports]
        # a softmax over class scores (a 2-D output) is left to predict / the loss
        flat_output = bool(layer_reports) and len(layer_reports[-1].output_shape) == 1
        self.output_softmax = flat_output and _ends_with_softmax(blocks)
        if self.output_softmax:
            blocks[-1].activation = None
        _relu_after_max_pool(blocks)
        self.blocks = nn.ModuleList(blocks)
        self.layer_names = [r.layer.name for r in layer_reports]
        self.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, classes)
        for block in self.blocks:
            x = block(x)
        return x

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=-1)

    def reset_parameters(self) -> None:
        """Keras defaults: glorot_uniform kernels, zero biases, BN gamma 1 / beta 0."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                glorot_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.reset_parameters()

    def count_params(self) -> tuple[int, int]:
        """(trainable, non_trainable) as Keras counts them (BN moving stats non-trainable)."""
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        non_trainable = sum(
            b.numel() for name, b in self.named_buffers() if name.endswith(("running_mean", "running_var"))
        )
        return trainable, non_trainable


def glorot_uniform_(weight: torch.Tensor) -> None:
    """Keras's glorot_uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).

    Keras counts a (kh, kw, in, out) kernel as fan_in = kh*kw*in, fan_out = kh*kw*out,
    and a Dense (in, out) kernel as fan_in = in, fan_out = out. Torch stores them
    as (out, in, kh, kw) and (out, in); the counts are the same.
    """
    out_features, in_features = weight.shape[:2]
    receptive = math.prod(weight.shape[2:])
    fan_in, fan_out = in_features * receptive, out_features * receptive
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        weight.uniform_(-limit, limit)


def _activation(name: str | None, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    if name is None:
        return x
    if name == "relu":
        return F.relu(x, inplace=inplace)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "softmax":  # Keras: over the last axis, i.e. channels
        return torch.softmax(x, dim=1 if x.dim() == 4 else -1)
    raise AssertionError(f"unknown activation {name!r}")


def _same_padding(size: int, window: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same': pad so out = ceil(size / stride), the extra on the far side."""
    out = window_output(size, window, stride, "same")
    total = max((out - 1) * stride + window - size, 0)
    return total // 2, total - total // 2


def conv_input(x: torch.Tensor, strides) -> torch.Tensor:
    """x, or the same memory seen as NCHW where torch's CPU convolution gets it wrong.

    torch 2.13's CPU conv2d returns wrong values (some garbage) for a one-channel input laid
    out channels_last with unequal strides, e.g. (1, 2): 41 of 288 small shapes in a scan.
    With one channel, NCHW and channels_last are the same bytes, so the view costs nothing.
    """
    n, c, h, w = x.shape
    if c == 1 and strides[0] != strides[1] and x.stride() != (h * w, h * w, w, 1):
        if x.is_contiguous(memory_format=torch.channels_last):
            return x.as_strided(x.shape, (h * w, h * w, w, 1), x.storage_offset())
    return x


def unit_stride_input(x: torch.Tensor, strides) -> torch.Tensor:
    """The input positions a 1x1 kernel with `strides` reads, x[:, :, ::sh, ::sw]: the
    convolution over them with unit strides has the same result (see `ConvBlock.unit_strides`)."""
    return x[:, :, :: strides[0], :: strides[1]]


def same_pads(hw, window, stride) -> tuple[int, int, int, int]:
    """F.pad's (left, right, top, bottom) for TensorFlow's 'same' padding of an (H, W) input."""
    top, bottom = _same_padding(hw[0], window[0], stride[0])
    left, right = _same_padding(hw[1], window[1], stride[1])
    return left, right, top, bottom


def _pad_same(x, hw, window, stride, value=0.0):
    pads = same_pads(hw, window, stride)
    return F.pad(x, pads, value=value) if any(pads) else x


def max_pool2d(x: torch.Tensor, window, strides, relu: bool = False) -> torch.Tensor:
    """F.max_pool2d, then relu if asked (the relu moved after the pooling)."""
    out = F.max_pool2d(x, window, strides)
    return F.relu(out, inplace=True) if relu else out


class Block(nn.Module):
    activation: str | None = None

    def extra_repr(self) -> str:
        return f"activation={self.activation}" if self.activation else ""


class ConvBlock(Block):
    def __init__(self, layer: Layer, in_shape):
        super().__init__()
        a = layer.args
        self.hw, self.kernel, self.strides = in_shape[:2], a["kernel_size"], a["strides"]
        # a 1x1 kernel with strides runs with unit strides on the positions it reads
        # (`unit_stride_input`): oneDNN's AVX2 kernels compute its weight gradient wrong for
        # some shapes (docs/performance.md, kernel workarounds).
        self.unit_strides = tuple(self.kernel) == (1, 1) and tuple(self.strides) != (1, 1)
        self.same = a["padding"] == "same"
        self.activation = a["activation"]
        self.conv = nn.Conv2d(in_shape[2], a["filters"], self.kernel, self.strides, bias=a["use_bias"])

    def forward(self, x):  # (N, C, H, W)
        if self.same:
            x = _pad_same(x, self.hw, self.kernel, self.strides)
        if self.unit_strides:
            out = F.conv2d(unit_stride_input(x, self.strides), self.conv.weight, self.conv.bias)
        else:
            out = self.conv(conv_input(x, self.strides))
        return _activation(self.activation, out, inplace=True)  # conv's backward keeps its input


class PoolBlock(Block):
    def __init__(self, layer: Layer, in_shape):
        super().__init__()
        a = layer.args
        self.hw, self.window, self.strides = in_shape[:2], a["pool_size"], a["strides"]
        self.same = a["padding"] == "same"
        self.average = layer.kind == "AveragePooling2D"
        self.max_pool = max_pool2d  # the engine may put its kernel here (engine.use_kernels)

    def forward(self, x):  # (N, C, H, W)
        if self.average:
            if not self.same:
                return F.avg_pool2d(x, self.window, self.strides)
            # Keras averages over the real (unpadded) values only
            ones = torch.ones_like(x[:1, :1])
            total = F.avg_pool2d(_pad_same(x, self.hw, self.window, self.strides), self.window, self.strides)
            count = F.avg_pool2d(_pad_same(ones, self.hw, self.window, self.strides), self.window, self.strides)
            return total / count
        if self.same:
            x = _pad_same(x, self.hw, self.window, self.strides, value=float("-inf"))
        # the only activation a pool carries is the relu moved here from the Conv2D before it
        return self.max_pool(x, self.window, self.strides, relu=self.activation == "relu")


class GlobalPoolBlock(Block):
    def __init__(self, layer: Layer, in_shape):
        super().__init__()
        self.average = layer.kind == "GlobalAveragePooling2D"

    def forward(self, x):  # (N, C, H, W) -> (N, C)
        return x.mean(dim=(2, 3)) if self.average else x.amax(dim=(2, 3))


class FlattenBlock(Block):
    def forward(self, x):  # Keras flattens channels_last: (N, C, H, W) -> (N, H*W*C)
        if x.dim() == 4:
            x = x.permute(0, 2, 3, 1)
        return x.flatten(1)  # also for a batch of 0 examples


class DenseBlock(Block):
    def __init__(self, layer: Layer, in_shape):
        super().__init__()
        a = layer.args
        self.activation = a["activation"]
        self.on_grid = len(in_shape) == 3  # (H, W, C): applied at every position
        self.linear = nn.Linear(in_shape[-1], a["units"], bias=a["use_bias"])

    def forward(self, x):
        if self.on_grid:  # Keras: acts on the last (channel) axis at every position
            x = self.linear(x.movedim(1, -1)).movedim(-1, 1)
            return _activation(self.activation, x)
        return _activation(self.activation, self.linear(x))


class BatchNormBlock(Block):
    def __init__(self, layer: Layer, in_shape):
        super().__init__()
        a, c = layer.args, in_shape[-1]
        # Keras momentum m keeps m of the old statistics; torch's momentum is 1 - m.
        cls = nn.BatchNorm2d if len(in_shape) == 3 else nn.BatchNorm1d
        self.bn = cls(c, eps=a["epsilon"], momentum=1.0 - a["momentum"])

    def forward(self, x):
        return self.bn(x)


class DropoutBlock(Block):
    def __init__(self, layer: Layer, in_shape):
        super().__init__()
        self.dropout = nn.Dropout(layer.args["rate"])

    def forward(self, x):
        return self.dropout(x)


class ActivationBlock(Block):
    def __init__(self, layer: Layer, in_shape):
        super().__init__()
        self.activation = "relu" if layer.kind == "ReLU" else layer.args["activation"]

    def forward(self, x):
        return _activation(self.activation, x)


_BLOCKS = {
    "Conv2D": ConvBlock,
    "MaxPooling2D": PoolBlock,
    "AveragePooling2D": PoolBlock,
    "GlobalAveragePooling2D": GlobalPoolBlock,
    "GlobalMaxPooling2D": GlobalPoolBlock,
    "Flatten": lambda layer, shape: FlattenBlock(),
    "Dense": DenseBlock,
    "BatchNormalization": BatchNormBlock,
    "Dropout": DropoutBlock,
    "Activation": ActivationBlock,
    "ReLU": ActivationBlock,
}


def _block(layer: Layer, in_shape) -> Block:
    return _BLOCKS[layer.kind](layer, in_shape)


def _relu_after_max_pool(blocks: list[Block]) -> None:
    """Conv2D(activation='relu') then MaxPooling2D: apply the relu after the pooling.

    relu is monotonic, so max(relu(x)) == relu(max(x)) exactly; the relu then touches a
    quarter of the values (2x2 pools), which is a large share of a small model's step time.
    """
    for conv, pool in zip(blocks, blocks[1:]):
        if isinstance(conv, ConvBlock) and conv.activation == "relu" and isinstance(pool, PoolBlock) and not pool.average:
            conv.activation, pool.activation = None, "relu"


def _ends_with_softmax(blocks: list[Block]) -> bool:
    return bool(blocks) and blocks[-1].activation == "softmax" and isinstance(blocks[-1], (DenseBlock, ActivationBlock))
