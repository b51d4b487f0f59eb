"""One model, its optimizer and its placement: a training epoch and an evaluation pass.

The hot loop is written for batch 32 on a CPU, where a CIFAR-10 epoch is 1,563 steps and
Python overhead per step counts as much as the arithmetic:
- each batch's uint8 images are gathered from the shuffled order as the batch starts (one
  shuffled copy of all images per epoch cost more: its fresh memory is page-faulted in);
- a batch is scaled to float and handed over channels_last (NHWC memory seen as NCHW);
- the lesson's layers train through the engine's `DirectStep` (engine/direct.py), without
  autograd; other models through autograd and autocast;
- loss and accuracy accumulate as tensors; they are read (a sync) only when the progress
  display refreshes, about ten times a second;
- subnormal floats are flushed to zero during the epoch (`flush_denormals`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from cnnlab import engine
from cnnlab.errors import CnnlabError
from cnnlab.train.data import epoch_order, steps_per_epoch
from cnnlab.train.optimizers import make_optimizer
from cnnlab.train.precision import Placement

REFRESH_SECONDS = 0.1  # how often running loss/accuracy are read during an epoch
EVAL_BATCH = 256  # evaluation batch size: no gradients, so bigger is just faster


@dataclass
class EpochState:
    """How far the current epoch has come: enough to continue it exactly after a stop."""

    epoch: int  # 0-based
    step: int = 0  # batches done
    loss_sum: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.float64))
    correct: torch.Tensor = field(default_factory=lambda: torch.zeros((), dtype=torch.int64))
    seen: int = 0  # examples done
    seconds: float = 0.0  # training time spent in this epoch so far

    def means(self) -> tuple[float, float]:
        if self.seen == 0:
            return float("nan"), float("nan")
        return self.loss_sum.item() / self.seen, self.correct.item() / self.seen


@contextmanager
def flush_denormals() -> Iterator[None]:
    """Subnormal floats (below 1.2e-38) count as zero while training, as in TensorFlow's CPU threads.

    Adam's first moments of units whose gradient stays zero decay into subnormals, which CPUs
    handle in microcode. The setting is per thread: it is made on this thread and on torch's
    OpenMP workers (engine/native/fpenv.c; this thread only where that is not built), and
    undone afterwards.
    """
    flushing = engine.set_flush_denormal(True)  # False where the CPU cannot
    try:
        yield
    finally:
        if flushing:
            engine.set_flush_denormal(False)


class Diverged(CnnlabError):
    """Training produced a non-finite loss: the weights are no longer numbers worth keeping."""

    def __init__(self, epoch: int, step: int | None, what: str, value: float):
        self.epoch, self.step, self.what, self.value = epoch, step, what, value
        where = f"epoch {epoch + 1}" + (f", step {step}" if step is not None else "")
        super().__init__(f"training diverged in {where}: {what} became {value}. Lower the learning rate "
                         "(e.g. --lr 10 times smaller), or check the data for extreme values")


def _check_finite(losses: list[torch.Tensor], epoch: int, last_step: int) -> None:
    """Raise Diverged naming the first step of `losses` (which ends at `last_step`) that is not finite."""
    if not losses:
        return
    values = torch.stack([loss.detach().float().reshape(()) for loss in losses])
    bad = (~torch.isfinite(values)).nonzero()
    if len(bad):
        first = int(bad[0, 0])
        raise Diverged(epoch, last_step - len(losses) + first + 1, "the training loss", float(values[first]))


def dropout_seed(seed: int, epoch: int) -> int:
    """The torch seed for one epoch's dropout masks: a pure function of (seed, epoch)."""
    return int(np.random.SeedSequence([seed, epoch, 7]).generate_state(1)[0])


STEPS = ("auto", "autograd", "layers", "torch-ops")


class Trainer:
    def __init__(
        self, net: torch.nn.Module, placement: Placement, optimizer: str | None = None, lr: float = 0.0,
        *, step: str = "auto", keras_formulas: bool = False,
    ):
        """`optimizer` None: for evaluation and prediction only.

        `step`: "auto" trains through the engine's DirectStep where the model allows it;
        "autograd" always through autograd; "layers" and "torch-ops" force the DirectStep's
        layer-by-layer path (no step program), the latter with torch's operators for every
        layer (see engine/direct.py). `keras_formulas`: Adam and RMSprop step as Keras 3 does
        (train/optimizers.py).
        """
        assert step in STEPS, step
        self.placement = placement
        self.net = net.to(placement.device, memory_format=torch.channels_last)
        engine.use_kernels(self.net)
        self.optimizer = (
            make_optimizer(optimizer, self.net.parameters(), lr, placement.device, keras_formulas=keras_formulas)
            if optimizer else None
        )
        # forward and backward without autograd where the model allows it (autograd's results,
        # to the bit with torch's operators, up to rounding with the oneDNN primitives)
        self.step_kind = self._direct_reason(step)
        self.direct = None
        if self.step_kind == "direct":
            self.direct = engine.DirectStep(self.net, placement.precision, programs=step == "auto",
                                            native=step != "torch-ops")
        self.forward_pass = None  # evaluation's engine.ForwardPass, or why there is none; made on first use
        self.stop_requested = False  # set from a signal handler; checked after every step
        # a non-finite training loss: "raise" Diverged (cnnlab's runs), "continue" (Keras's fit
        # trains on), or "stop" the epoch after that step (keras.callbacks.TerminateOnNaN)
        self.nonfinite = "raise"

    # --- one batch ----------------------------------------------------------------
    def _to_input(self, x_u8: torch.Tensor) -> torch.Tensor:
        """(B, H, W, C) uint8 -> (B, C, H, W) float in [0, 1], channels_last memory."""
        return engine.to_input(x_u8.to(self.placement.device, non_blocking=True), torch.float32)

    def _direct_reason(self, step: str) -> str:
        """'direct' or 'autograd (why not direct)', for run records."""
        if self.optimizer is None or step == "autograd":
            return "autograd"
        reason = engine.DirectStep.unsupported(self.net, self.placement.device, self.placement.precision)
        return f"autograd ({reason})" if reason else "direct"

    def _train_step(self, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One update from a (B, H, W, C) uint8 batch; (mean loss, correct count)."""
        if self.direct is not None:
            loss, correct = self.direct(xb, yb)
            self.optimizer.step()
            return loss, correct
        xb = self._to_input(xb)
        with self.placement.autocast():
            logits = self.net(xb)  # (B, classes)
        logits = logits.float()
        loss = F.cross_entropy(logits, yb)  # from logits, mean over the batch, as Keras
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        correct = (logits.detach().argmax(dim=1) == yb).sum()
        return loss.detach(), correct

    # --- one epoch ----------------------------------------------------------------
    def train_epoch(
        self,
        x: torch.Tensor,  # (N, H, W, C) uint8, all training images
        y: torch.Tensor,  # (N,) int64
        state: EpochState,
        batch_size: int,
        seed: int,
        on_progress: Callable[[int, int, float, float], None] | None = None,
    ) -> bool:
        """Train from `state.step` to the end of the epoch; False if stopped early by request.

        `state` is updated in place. The data order is `epoch_order(seed, epoch)`; dropout
        is seeded per epoch, unless the caller restored the RNG to continue mid-epoch.
        """
        count = len(x)
        steps = steps_per_epoch(count, batch_size)
        order = torch.from_numpy(epoch_order(count, seed, state.epoch))
        # the labels in epoch order at once; the images batch by batch (a shuffled copy of all
        # images would be fresh memory to page in every epoch)
        y_epoch = y[order].to(self.placement.device)
        if state.step == 0:
            torch.manual_seed(dropout_seed(seed, state.epoch))
        self.net.train()
        with flush_denormals():
            step = self._train_steps(x, order, y_epoch, state, batch_size, steps, on_progress)
        return step == steps

    def _train_steps(self, x, order, y_epoch, state: EpochState, batch_size: int, steps: int, on_progress):
        """Steps `state.step` .. `steps` - 1 of the epoch (fewer on a stop request); the step reached."""
        count = len(order)
        started = time.perf_counter()
        last_refresh = started
        loss_sum = state.loss_sum.to(self.placement.device)
        correct = state.correct.to(self.placement.device)
        step = state.step
        unchecked: list[torch.Tensor] = []  # the losses since the last finiteness check
        while step < steps and not self.stop_requested:
            lo, hi = step * batch_size, min((step + 1) * batch_size, count)
            loss, hits = self._train_step(torch.index_select(x, 0, order[lo:hi]), y_epoch[lo:hi])
            loss_sum += loss.double() * (hi - lo)
            correct += hits
            step += 1
            if self.nonfinite == "raise":
                unchecked.append(loss)
            elif self.nonfinite == "stop" and not bool(torch.isfinite(loss)):
                break  # the caller sees a non-finite loss in `state` with `state.step` at this step
            now = time.perf_counter()
            if now - last_refresh >= REFRESH_SECONDS or step == steps:
                last_refresh = now
                _check_finite(unchecked, state.epoch, step)  # reading losses syncs: only ~10 times a second
                unchecked.clear()
                if on_progress is not None:
                    seen = hi if step < steps else count
                    on_progress(step, steps, loss_sum.item() / seen, correct.item() / seen)
        _check_finite(unchecked, state.epoch, step)
        state.step = step
        state.seen = min(step * batch_size, count)
        state.loss_sum, state.correct = loss_sum.cpu(), correct.cpu()
        state.seconds += time.perf_counter() - started
        return step

    # --- evaluation ---------------------------------------------------------------
    @torch.inference_mode()
    def logits(self, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> torch.Tensor:
        """(N, classes) float32 logits for (N, H, W, C) uint8 images, in eval mode.

        Through the engine's ForwardPass where the model allows it (its own batch size), else
        the model's forward `batch_size` images at a time."""
        self.net.eval()
        if self.forward_pass is None:
            reason = engine.ForwardPass.unsupported(self.net, self.placement.device, self.placement.precision)
            self.forward_pass = reason or engine.ForwardPass(self.net)
        if not isinstance(self.forward_pass, str):
            fast = self.forward_pass(x)
            if fast is not None:
                return fast
        out = []
        for lo in range(0, len(x), batch_size):
            with self.placement.autocast():
                out.append(self.net(self._to_input(x[lo : lo + batch_size])).float())
        return torch.cat(out).cpu() if out else torch.zeros(0)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, torch.Tensor]:
        """(mean loss, accuracy, predicted labels) over all of x."""
        logits = self.logits(x)
        loss = F.cross_entropy(logits, y, reduction="sum").item() / len(y)
        predicted = logits.argmax(dim=1)
        return loss, (predicted == y).double().mean().item(), predicted
