"""The evaluation forward pass as a program: a model's logits without torch's per-call setup.

Evaluation (validation each epoch, `evaluate`, `predict`) runs the model forward only. Through
torch's operators every convolution sets up its oneDNN primitive again and each layer makes
fresh outputs, at whatever batch size is given; a large batch's activations then no longer
stay in the CPU's caches. `ForwardPass` runs the same layers as the training step program
does (engine/native/step.py, stages.py), forward only: a `Program` per batch shape of pixels
in, convolutions, pooling, products and activations over fixed buffers, logits out, in one C
call a batch, at a batch size small enough for its activations to stay in cache.

Dropout is left out (evaluation keeps every unit, as the model's eval mode does). Results are
the model's forward up to rounding (tests/engine/test_forward_pass.py). Used for fp32 models
whose every layer the step program covers, on the CPU, where the C kernels and oneDNN are
available; `ForwardPass.unsupported` says why not otherwise, and the caller runs the model.
"""

from __future__ import annotations

import torch

from cnnlab.engine.native import onednn, pixels
from cnnlab.engine.native import step as native_step
from cnnlab.engine.stages import block_unsupported, make_stage, remember
from cnnlab.models import build

# images per program run and per thread: big enough to keep the threads busy, small enough
# for a batch's activations to stay in the CPU's caches
BATCH_PER_THREAD = 16
_NO_LABELS = torch.zeros(1, dtype=torch.int64)  # the program computes no loss: labels are never read


class ForwardPass:
    """(N, classes) float32 logits of a KerasNet in eval mode, for uint8 or float32 images."""

    @staticmethod
    def unsupported(net: torch.nn.Module, device: str, precision: str) -> str | None:
        """Why `net`'s evaluation runs the model's own forward, or None if a ForwardPass can."""
        if device != "cpu":
            return f"written for the CPU, not {device}"
        if precision != "fp32":
            return f"precision {precision}"  # bf16 evaluation stays on autocast
        if not isinstance(net, build.KerasNet):
            return "not a cnnlab model"
        if not native_step.available():
            return native_step.unavailable_reason()
        if not onednn.dtype_works(torch.float32):
            return "oneDNN has no float32 kernels on this CPU"
        if len(net.input_shape) != 3:
            return "input is not images"
        for name, block in zip(net.layer_names, net.blocks):
            reason = block_unsupported(block)
            if reason:
                return f"layer {name}: {reason}"
        for name, stage in _named_stages(net):
            reason = stage.program_unsupported()
            if reason:
                return f"layer {name}: {reason}"
        return None

    def __init__(self, net: torch.nn.Module):
        reason = self.unsupported(net, "cpu", "fp32")
        if reason:
            raise ValueError(f"ForwardPass cannot run this model: {reason}")
        self.net = net
        self.stages = _named_stages(net)
        self.params = [p for _, stage in self.stages for p in stage.params]
        self.addresses: list[int] = []
        self.programs: dict = {}  # (batch shape, dtype) -> Program with its logits, or None

    def batch_size(self) -> int:
        return BATCH_PER_THREAD * max(1, torch.get_num_threads())

    def __call__(self, images: torch.Tensor) -> torch.Tensor | None:
        """Logits for (N, H, W, C) uint8 pixels (scaled by 1/255) or float32 values; None where
        these images cannot go through a program (another dtype or device, a model whose
        output is not (N, classes)): the caller then runs the model."""
        if images.device.type != "cpu" or images.dtype not in (torch.uint8, torch.float32) or images.dim() != 4:
            return None
        addresses = [p.data_ptr() for p in self.params]
        if addresses != self.addresses:  # `param.data = ...` somewhere: programs point at the old memory
            self.programs.clear()
            self.addresses = addresses
        size = self.batch_size()
        out = None
        for lo in range(0, len(images), size):
            batch = images[lo : lo + size].contiguous()
            key = (tuple(batch.shape), batch.dtype)
            built = remember(self.programs, key, lambda batch=batch: self._build(batch.shape, batch.dtype))
            if built is None:
                return None
            program, logits = built
            program.run(batch, _NO_LABELS)
            if out is None:
                out = torch.empty((len(images), logits.shape[1]), dtype=torch.float32)
            out[lo : lo + len(batch)] = logits
        return out

    def _build(self, shape, source: torch.dtype):
        """(the forward as a Program, its logits buffer), or None where a layer cannot be part
        of one for this shape."""
        program = native_step.Program()
        n, h, w, c = shape
        x = torch.empty((n, h, w, c), dtype=torch.float32).permute(0, 3, 1, 2)  # (N, C, H, W) channels_last
        program.section = "input"
        program.pixels(x, pixels.SCALE if source == torch.uint8 else 1.0, source)
        for name, stage in self.stages:
            program.section = f"{name} forward"
            x = stage.emit(program, x, *[p.detach() for p in stage.params])
            if x is None:
                return None
        if x.dim() != 2:
            return None  # logits are (batch, classes)
        return program.finish(), x


def _named_stages(net) -> list[tuple[str, object]]:
    """(layer name, stage) of each layer evaluation runs: all but Dropout, an identity in eval mode."""
    return [(name, make_stage(block, first=True)) for name, block in zip(net.layer_names, net.blocks)
            if not isinstance(block, build.DropoutBlock)]
