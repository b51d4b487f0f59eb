"""The training step without autograd: forward and backward written out for the lesson's layers.

At batch 32 on a CPU, a large share of a small model's autograd step is machinery rather
than arithmetic: autograd records a node per operator and walks them back in its engine,
autocast casts every weight to bfloat16 on every call and every weight gradient back, and
gradients are accumulated one parameter at a time.
`DirectStep` does the same arithmetic without that machinery, in one of three ways:

- with torch's operators (no oneDNN or C compiler): the aten operators autograd calls, in
  the same order, precision and memory layout, so losses and gradients are bit for bit
  autograd's (tests/engine/test_direct.py trains both ways and compares the weights);
- layer by layer with oneDNN primitives created once per shape (engine/native/onednn.py),
  which torch's operators set up again on every call, and the pool kernel, each kept with
  its buffers per input shape (stages.py); they match torch's up to a rounding step in
  bf16 (tests/engine/test_onednn.py);
- as a step program (engine/native/step.py): the same kernels, listed once per batch shape
  and run in one C call a step (reading uint8 pixels or float32 images, one program each),
  with activations, padding, bias gradients, the loss,
  dropout's mask (drawn by torch) and the bf16 weight copies done in C. Used where every
  layer can be part of one (not with overlapping pooling windows, a 1x1 convolution with
  strides, or layers other than Flatten before the first weights). Step times before and
  after are in docs/performance.md.

Covered: Conv2D (valid or same padding), MaxPooling2D, Flatten, Dense on flat input, Dropout,
and the activations relu, sigmoid, tanh and linear, on the CPU, in fp32 or bf16. Anything else
(BatchNormalization, average or global pooling, Dense on 4-D input, a softmax inside the model,
CUDA) trains through autograd; `DirectStep.unsupported` says why, and the run records it.
"""

from __future__ import annotations

import ctypes
import platform
from functools import cache

import torch

from cnnlab.engine.native import onednn, pixels
from cnnlab.engine.native import step as native_step
from cnnlab.engine.stages import Flatten, block_unsupported, make_stage, remember
from cnnlab.models import build

aten = torch.ops.aten
_MEAN = 1  # torch's Reduction::Mean
_IGNORE_INDEX = -100  # F.cross_entropy's default


class DirectStep:
    """Loss, accuracy and gradients of one batch for a KerasNet, written into `param.grad`."""

    @staticmethod
    def unsupported(net: torch.nn.Module, device: str, precision: str) -> str | None:
        """Why `net` must train through autograd, or None if a DirectStep can train it."""
        if device != "cpu":
            return f"written for the CPU, not {device}"
        if precision not in ("fp32", "bf16"):
            return f"precision {precision}"
        if not isinstance(net, build.KerasNet):
            return "not a cnnlab model"
        if not all(p.requires_grad for p in net.parameters()):
            return "frozen parameters"
        for name, block in zip(net.layer_names, net.blocks):
            reason = block_unsupported(block)
            if reason:
                return f"layer {name}: {reason}"
        return None

    def __init__(self, net: torch.nn.Module, precision: str, *, programs: bool = True, native: bool = True):
        """`programs` False: always layer by layer; `native` False: torch's operators, no oneDNN."""
        reason = self.unsupported(net, "cpu", precision)
        if reason:
            raise ValueError(f"DirectStep cannot train this model: {reason}")
        self.stages, self.layer_names = [], list(net.layer_names)
        for block in net.blocks:  # the first Conv2D or Dense needs no input gradient
            first = not any(stage.params for stage in self.stages)
            self.stages.append(make_stage(block, first=first, native=native))
        self.params = [p for stage in self.stages for p in stage.params]
        self.dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        self.programs: dict = {}  # images' shape -> step Program, or None where there is none
        self.use_programs = programs and native
        self._use_weights_where_they_are()
        # autocast casts to bf16 at the first Conv2D or Dense: layers before it run in fp32
        self.cast_at = next((i for i, stage in enumerate(self.stages) if stage.params), 0)
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.seed_grad = torch.ones((), dtype=torch.float32)  # d loss / d loss
        _keep_freed_memory()

    def _use_weights_where_they_are(self) -> None:
        """The weights the arithmetic uses: bf16 copies (refreshed each step) or the weights
        themselves, wherever their memory now is; programs point at it, so they go."""
        self.addresses = [p.data_ptr() for p in self.params]
        if self.dtype == torch.float32:
            self.compute = [p.detach() for p in self.params]
        else:
            self.compute = [torch.empty_like(p, dtype=self.dtype) for p in self.params]
        weights = iter(self.compute)  # each layer's share, in order
        self.stage_weights = [tuple(next(weights) for _ in stage.params) for stage in self.stages]
        self.programs.clear()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images: (B, H, W, C) uint8 pixels (scaled by 1/255) or float32 values (taken as
        given); y: (B,) labels -> (mean loss, correct count)."""
        if [p.data_ptr() for p in self.params] != self.addresses:
            self._use_weights_where_they_are()  # `param.data = ...` somewhere (cnnlab copies in place)
        program = self._program(images, y)
        if program is not None:
            loss, correct = program.run(images, y)
        else:
            loss, correct = self._layer_by_layer(images, y)
        for param, buffer in zip(self.params, self.grads):
            if param.grad is not buffer:
                param.grad = buffer
        return loss, correct

    def program_unsupported(self) -> str | None:
        """Why this model's steps run layer by layer rather than as a step Program, or None."""
        if not native_step.available():
            return native_step.unavailable_reason()
        if not onednn.dtype_works(self.dtype):
            return f"oneDNN has no {str(self.dtype).removeprefix('torch.')} kernels on this CPU"
        if not all(isinstance(s, Flatten) for s in self.stages[: self.cast_at]):
            return "layers before the first weights"
        for name, stage in zip(self.layer_names, self.stages):
            reason = stage.program_unsupported()
            if reason:
                return f"layer {name}: {reason}"
        return None

    def _program(self, images: torch.Tensor, y: torch.Tensor):
        """The step `Program` for this batch shape (engine/native/step.py), or None."""
        plain_input = (images.dtype in (torch.uint8, torch.float32) and images.is_contiguous()
                       and images.device.type == "cpu")
        plain_labels = y.dtype == torch.int64 and y.is_contiguous() and y.device.type == "cpu" and y.dim() == 1
        if not (self.use_programs and plain_input and plain_labels and len(y) == len(images)):
            return None
        key = tuple(images.shape) if images.dtype == torch.uint8 else (*images.shape, "float32")
        return remember(self.programs, key, lambda: self._build_program(images.shape, images.dtype))

    def _build_program(self, shape, source=torch.uint8):
        """The whole step as a Program, or None where a layer cannot be part of one
        (overlapping pooling, a layer without oneDNN or the pool kernel) or the C code is
        unavailable; the step then runs layer by layer."""
        if self.program_unsupported():
            return None
        program = native_step.Program()
        program.section = "weight copies"
        if self.dtype != torch.float32:  # bf16 copies of this step's weights
            for param, compute in zip(self.params, self.compute):
                program.cast(param.detach(), compute)
        n, h, w, c = shape
        x = torch.empty((n, h, w, c), dtype=self.dtype).permute(0, 3, 1, 2)  # (N, C, H, W) channels_last
        # uint8 pixels scaled by 1/255 or float32 images as given; bf16 before a Flatten is
        # bf16 after it: the same bits
        program.section = "input"
        program.pixels(x, pixels.SCALE if source == torch.uint8 else 1.0, source)
        for name, stage, weights in zip(self.layer_names, self.stages, self.stage_weights):
            program.section = f"{name} forward"
            x = stage.emit(program, x, *weights)
            if x is None:
                return None
        if x.dim() != 2:
            return None  # logits are (batch, classes)
        program.section = "loss"
        grad = program.cross_entropy(x)
        grads: list[torch.Tensor] = []
        for name, stage in reversed(list(zip(self.layer_names, self.stages))[self.cast_at :]):
            program.section = f"{name} backward"
            grad, stage_grads = stage.emit_backward(program, grad)
            grads[:0] = stage_grads
        program.section = "gradient copies"
        for source, target in zip(grads, self.grads):
            if source.shape != target.shape or source.stride() != target.stride():
                return None
            program.cast(source, target)
        return program.finish()

    def _layer_by_layer(self, images: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = pixels.to_input(images, self.dtype if self.cast_at == 0 else torch.float32)
        if self.dtype != torch.float32:
            torch._foreach_copy_(self.compute, [p.detach() for p in self.params])
        for i, (stage, weights) in enumerate(zip(self.stages, self.stage_weights)):
            if i == self.cast_at:
                x = x.to(self.dtype)
            x = stage.forward(x, *weights)
        logits = x.float()
        log_probs = aten._log_softmax(logits, 1, False)
        loss, total_weight = aten.nll_loss_forward(log_probs, y, None, _MEAN, _IGNORE_INDEX)
        grad = aten.nll_loss_backward(self.seed_grad, log_probs, y, None, _MEAN, _IGNORE_INDEX, total_weight)
        grad = aten._log_softmax_backward_data(grad, log_probs, 1, torch.float32).to(x.dtype)
        grads: list[torch.Tensor] = []
        for stage in reversed(self.stages[self.cast_at :]):  # earlier layers have no weights
            grad, stage_grads = stage.backward(grad)
            grads[:0] = stage_grads
        torch._foreach_copy_(self.grads, grads)
        return loss, (logits.argmax(dim=1) == y).sum()


@cache
def _keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the kernel.

    A step allocates and frees the same few megabytes of activations every time. With glibc's
    defaults, large blocks are mmapped and unmapped, and the heap top is trimmed, so a step can
    touch fresh pages every time (page faults cost as much as the arithmetic), so this guards
    against it.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest allowed value
    libc.mallopt(m_trim_threshold, 64 << 20)
