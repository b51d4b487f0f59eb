"""Data-parallel training on torch.distributed: `torchrun --nproc-per-node N -m cnnlab train ...`.

torchrun starts N copies of `cnnlab train` with WORLD_SIZE, RANK and LOCAL_RANK set;
`train_run` sees them and comes here. Every process holds the whole dataset in memory and
the same initial weights; DistributedDataParallel (gloo on CPU, nccl on CUDA) averages the
gradients after every step, so all processes keep identical weights.

The global batch is the one asked for (--batch-size, Keras's 32): each process takes
batch_size / N examples of it. Step k of an epoch trains on exactly the examples a single
process would: the epoch's shuffled order (`epoch_order(seed, epoch)`, the same everywhere)
is dealt out strided, process r taking positions r, r+N, r+2N, ... (DistributedSampler's
sharding, with the epoch playing set_epoch), so the k-th local batches of all processes
together are the k-th global batch. No example is repeated to pad: in the last, smaller
batch the shards differ by up to one example (a process with none runs a zero-weighted
stand-in example to stay in DDP's all-reduce), and each process weights its summed loss
by N / (examples in the global batch), so DDP's average is the global batch's mean
gradient whatever the shard sizes. In fp32 the weights then follow the
single-process run's up to rounding. Dropout masks differ per process (seeded by rank).

Loss and accuracy are all-reduced at the end of every epoch, so history.csv holds the
global batch's numbers; validation and test logits are computed on strided shards and
gathered, so every process sees the same val_loss (early stopping decides alike
everywhere). Only rank 0 prints and writes the run folder.

Not supported under torchrun: --resume (resume the folder single-process instead) and a
graceful Ctrl-C (torchrun ends all processes; the checkpoint of the last finished epoch
stays). BatchNormalization normalises by each process's own batch statistics, as DDP does;
its running statistics are rank 0's (DDP broadcasts them before each step, and so does the
end of every epoch).

Debug hook: with CNNLAB_DDP_CHECKSUMS=DIR, every process appends "epoch sha256-of-weights"
to DIR/rank<R>.txt after each epoch (the tests compare the ranks' files).
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F

from cnnlab.errors import CnnlabError
from cnnlab.settings import TrainSettings
from cnnlab.train.data import epoch_order, steps_per_epoch
from cnnlab.train.trainer import REFRESH_SECONDS, EpochState, Trainer, dropout_seed, flush_denormals

CHECKSUMS_ENV = "CNNLAB_DDP_CHECKSUMS"


class DistributedError(CnnlabError):
    """A distributed launch that cannot train as asked."""


@dataclasses.dataclass(frozen=True)
class World:
    size: int  # processes in all
    rank: int  # this process, 0 .. size-1; rank 0 writes the run folder
    local_rank: int  # this process on its machine (its GPU, when there are GPUs)
    local_size: int  # processes on this machine (they share its cores)

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_world(environ=None) -> World | None:
    """The torchrun world from WORLD_SIZE / RANK / LOCAL_RANK; None when not distributed."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return None
    try:
        size, rank = int(env["WORLD_SIZE"]), int(env["RANK"])
        local_rank = int(env.get("LOCAL_RANK", rank))
        local_size = int(env.get("LOCAL_WORLD_SIZE", size))
    except ValueError:
        raise DistributedError(f"WORLD_SIZE={env['WORLD_SIZE']!r} / RANK={env['RANK']!r} are not "
                               "integers; start distributed training with torchrun") from None
    if size <= 1:
        return None  # one process: the ordinary path
    return World(size, rank, local_rank, local_size)


def check_world(world: World, settings: TrainSettings, train_size: int) -> None:
    """The global batch splits evenly and every process gets training data."""
    if settings.batch_size % world.size:
        raise DistributedError(
            f"--batch-size {settings.batch_size} cannot be split evenly over {world.size} processes; give "
            f"a multiple of {world.size} (it is the global batch: each process takes an equal part)"
        )
    if world.size > train_size:
        raise DistributedError(
            f"torchrun started {world.size} processes but there are only {train_size} training images "
            f"to share; use at most {train_size} processes or more data"
        )


def shard_of(order, size: int, rank: int):
    """This process's part of the epoch's order: positions rank, rank + size, ..."""
    return order[rank::size]


def local_batch(step: int, batch_size: int, size: int, shard_len: int) -> tuple[int, int]:
    """[lo, hi) of this process's shard at `step`: its part of global batch `step`; empty
    (lo >= hi) when the last global batch has fewer examples than processes."""
    local = batch_size // size
    return min(step * local, shard_len), min((step + 1) * local, shard_len)


# --- the run ---------------------------------------------------------------------------------


def train_run_distributed(world: World, model, dataset, settings: TrainSettings, out: str = "runs",
                          name: str | None = None, quiet: bool = False, command=None):
    """`train_run` in one process of a torchrun launch; (exit code, run folder or None)."""
    finished = False
    try:
        result = _train(world, model, dataset, settings, out, name, quiet, command)
        finished = True
        return result
    except CnnlabError:
        if world.is_main:
            raise  # rank 0 prints the one message; the others only exit with the same code
        raise SystemExit(2) from None
    finally:
        if dist.is_initialized():
            _leave(finished)


def _leave(finished: bool) -> None:
    """Tear the process group down in order: a DDP model still alive at exit (its reducer
    holds the group) made gloo abort the process about one exit in five in our tests."""
    gc.collect()  # the trainer and its DDP wrapper are unreachable by now; free them first
    if finished:
        dist.barrier()  # nobody leaves while another still talks
    dist.destroy_process_group()


def _train(world, model, dataset, settings, out, name, quiet, command):
    from cnnlab.models.build import build
    from cnnlab.rundir import RunFolder
    from cnnlab.train.precision import choose, usable_cores
    from cnnlab.train.run import default_run_name, run_config, train_and_finish
    from cnnlab.train.session import open_dataset, prepare_data, resolve_model

    # everything is checked, identically in every process, before any process talks or writes
    data = dataset if not isinstance(dataset, str) else open_dataset(dataset)
    spec = resolve_model(model, data)
    splits = prepare_data(data, settings)
    check_world(world, settings, len(splits.train))
    if settings.threads is None:  # the processes on a machine share its cores
        settings = dataclasses.replace(settings, threads=max(1, usable_cores() // world.local_size))
    placement = choose(settings.precision, settings.threads)
    backend = "nccl" if placement.device == "cuda" else "gloo"
    if placement.device == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group(backend)
    torch.manual_seed(settings.seed)  # the same initial weights everywhere
    trainer = DistributedTrainer(build(spec), placement, settings.optimizer, settings.learning_rate,
                                 world, data.num_classes)
    if not world.is_main:
        return _follow(trainer, splits, settings), None

    run, problem = None, None
    try:
        run = RunFolder.create(out, name or default_run_name(out, spec.name, data.name))
    except CnnlabError as e:
        problem = str(e)
    dist.broadcast_object_list([problem])  # the others learn whether to go on
    if problem:
        raise DistributedError(problem)
    config = run_config(model if isinstance(model, str) else spec.name, command, spec, data,
                        splits, settings, trainer)
    config["distributed"] = {
        "world_size": world.size, "processes_per_machine": world.local_size, "backend": backend,
        "batch_per_process": settings.batch_size // world.size,
    }
    run.write_config(config)
    print(f"Distributed: {world.size} processes ({backend}), {settings.batch_size // world.size} examples "
          f"each per step of the global batch {settings.batch_size}", flush=True)
    code = train_and_finish(run, config, trainer, splits, settings, [], None, quiet)
    return code, run.path


def _follow(trainer: DistributedTrainer, splits, settings: TrainSettings) -> int:
    """Ranks > 0: the same collective steps as rank 0's run, writing nothing."""
    from cnnlab.train.callbacks import EarlyStopping
    from cnnlab.train.loop import run_epochs

    problem = [None]
    dist.broadcast_object_list(problem)
    if problem[0]:
        raise DistributedError(problem[0])
    callbacks = [EarlyStopping(settings.early_stopping)] if settings.early_stopping else []
    run_epochs(trainer, splits.train, splits.validation, settings, callbacks)
    trainer.evaluate(splits.test.x, splits.test.y)  # rank 0's test metrics gather from every rank
    return 0


# --- the trainer ------------------------------------------------------------------------------


class DistributedTrainer(Trainer):
    """A Trainer whose epochs train this process's shard of each global batch under DDP."""

    def __init__(self, net, placement, optimizer: str, lr: float, world: World, classes: int):
        super().__init__(net, placement, optimizer, lr, step="autograd")  # DDP's hooks need autograd
        self.world = world
        self.classes = classes
        device_ids = [torch.cuda.current_device()] if placement.device == "cuda" else None
        self.ddp = torch.nn.parallel.DistributedDataParallel(self.net, device_ids=device_ids)

    def _shard_step(self, xb, yb, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, backward (DDP all-reduces the gradients) and update for this shard of a
        global batch; its summed loss is multiplied by `scale` before backward."""
        with self.placement.autocast():
            logits = self.ddp(xb)  # (b, classes)
        logits = logits.float()
        loss_sum = F.cross_entropy(logits, yb, reduction="sum")
        self.optimizer.zero_grad(set_to_none=True)
        (loss_sum * scale).backward()
        self.optimizer.step()
        return loss_sum.detach().double(), (logits.detach().argmax(dim=1) == yb).sum()

    def train_epoch(self, x, y, state: EpochState, batch_size: int, seed: int, on_progress=None) -> bool:
        """Train the whole epoch (this process's shard); loss and accuracy all-reduced."""
        with flush_denormals():
            return self._train_shard_epoch(x, y, state, batch_size, seed, on_progress)

    def _train_shard_epoch(self, x, y, state: EpochState, batch_size: int, seed: int, on_progress) -> bool:
        assert state.step == 0, "a distributed epoch cannot continue mid-way"
        size, rank = self.world.size, self.world.rank
        count = len(x)
        steps = steps_per_epoch(count, batch_size)
        shard = torch.from_numpy(shard_of(epoch_order(count, seed, state.epoch), size, rank))
        x_shard, y_shard = x[shard], y[shard].to(self.placement.device)  # (n_r, H, W, C), (n_r,)
        torch.manual_seed(dropout_seed(seed, state.epoch) + rank)
        self.net.train()
        started = time.perf_counter()
        last_refresh = started
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.placement.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.placement.device)
        for step in range(steps):
            lo, hi = local_batch(step, batch_size, size, len(shard))
            global_count = min(batch_size, count - step * batch_size)
            # DDP averages over processes: size * sum / count, averaged, is the global batch mean
            scale = size / global_count
            if hi > lo:
                loss, hits = self._shard_step(self._to_input(x_shard[lo:hi]), y_shard[lo:hi], scale)
                loss_sum += loss
                correct += hits
            else:  # none of this (last) global batch is ours: a zero-weighted stand-in keeps
                # this process in DDP's all-reduce (a model cannot run on an empty batch)
                self._shard_step(self._to_input(x_shard[:1]), y_shard[:1], 0.0)
            if on_progress is not None:
                now = time.perf_counter()
                if now - last_refresh >= REFRESH_SECONDS or step + 1 == steps:
                    last_refresh = now
                    seen = max(min(hi, len(shard)), 1)
                    on_progress(step + 1, steps, loss_sum.item() / seen, correct.item() / seen)
        for buffer in self.net.buffers():  # BatchNorm statistics: rank 0's everywhere, as DDP
            dist.broadcast(buffer, 0)       # does before each forward
        totals = torch.stack([loss_sum, correct.double()]).cpu()
        dist.all_reduce(totals)  # the global batch's epoch sums
        state.step, state.seen = steps, count
        state.loss_sum, state.correct = totals[0].clone(), totals[1].round().long()
        state.seconds += time.perf_counter() - started
        self._write_checksum(state.epoch)
        return True

    def logits(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """(N, classes) logits of all of x, each process computing a strided shard."""
        size, rank = self.world.size, self.world.rank
        mine = super().logits(x[rank::size], batch_size)  # (ceil or floor of N / size, classes)
        width = -(-len(x) // size)
        padded = torch.zeros(width, self.classes, dtype=torch.float32)
        if len(mine):
            padded[: len(mine)] = mine
        parts = [torch.empty_like(padded) for _ in range(size)]
        dist.all_gather(parts, padded)
        out = torch.empty(len(x), self.classes, dtype=torch.float32)
        for r, part in enumerate(parts):
            out[r::size] = part[: len(range(r, len(x), size))]
        return out

    def _write_checksum(self, epoch: int) -> None:
        folder = os.environ.get(CHECKSUMS_ENV)
        if not folder:
            return
        digest = hashlib.sha256()
        for name, tensor in sorted(self.net.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        with open(Path(folder) / f"rank{self.world.rank}.txt", "a", encoding="ascii") as f:
            f.write(f"{epoch + 1} {digest.hexdigest()}\n")
