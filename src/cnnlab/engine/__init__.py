"""The speed engine: everything in cnnlab that exists only to train faster on a CPU.

A reader can skip this package: `models/` builds plain torch modules that train correctly
through autograd, and `train/` would run them so. The engine makes the same arithmetic
cheaper and its public names are all `train/` uses:

- `DirectStep` (direct.py): a training step without autograd, one stage per layer
  (stages.py), run layer by layer or as one C "step program" (native/step.py);
- `ForwardPass` (forward.py): evaluation's forward only, as one C program per batch;
- `LeanAdam` (lean_adam.py): torch's fused Adam with a shorter step (native/adam.c);
- `use_kernels(net)`: the max-pooling C kernel in a model's forward (native/maxpool.c);
- `to_input`: uint8 NHWC pixels to float NCHW in one pass (native/pixels.c);
- `set_flush_denormal`: subnormal floats flushed on torch's threads too (native/fpenv.c);
- `kernels_used`: what ran the hot spots, for the run's config.json.

The C files are compiled on first use (native/compiler.py); where there is no compiler, no
oneDNN wheel or `CNNLAB_NATIVE=0`, each piece falls back to torch's own operators with the
same results.
"""

from __future__ import annotations

import torch

from cnnlab.engine.direct import DirectStep
from cnnlab.engine.forward import ForwardPass
from cnnlab.engine.lean_adam import LeanAdam
from cnnlab.engine.native import adam, maxpool, onednn
from cnnlab.engine.native.fpenv import set_flush_denormal
from cnnlab.engine.native.pixels import to_input

__all__ = ["DirectStep", "ForwardPass", "LeanAdam", "kernels_used", "set_flush_denormal", "to_input", "use_kernels"]


def use_kernels(net: torch.nn.Module) -> None:
    """Max pooling in `net`'s forward through the C kernel (bit-identical to torch's)."""
    from cnnlab.models.build import PoolBlock

    for module in net.modules():
        if isinstance(module, PoolBlock):
            module.max_pool = maxpool.max_pool2d


def kernels_used(direct: DirectStep | None, optimizer, net: torch.nn.Module, device: str,
                 precision: str) -> dict[str, str]:
    """What ran the hot spots: C kernels or torch, one C call or layer by layer, and why."""
    lean_adam = isinstance(optimizer, LeanAdam) and device == "cpu"
    program = direct.program_unsupported() if direct is not None else "autograd"
    forward = ForwardPass.unsupported(net, device, precision)
    return {
        "step_program": "one C call per step" if program is None else f"layer by layer ({program})",
        "convolution": onednn.status() if direct is not None else "torch",
        "max_pooling": maxpool.kernel_status(),  # bit-identical to torch's either way
        "optimizer_update": adam.status() if lean_adam else "torch",  # bit-identical too
        "evaluation": "one C call per batch" if forward is None else f"the model's forward ({forward})",
    }
