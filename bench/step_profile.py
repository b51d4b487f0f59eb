"""Where a training step's time goes: each kernel of cnnlab's step program, per layer.

Times every operation of the step program (engine/native/step.py, one C call a step) with a
clock around each, plus what the trainer does around it (gathering the batch's images, the
optimizer's update), over `--steps` steps of the lesson's cifar_model after a warm-up.
Prints milliseconds per step and the share of the step, per operation and per layer, and
the convolutions' and products' GFLOP/s (2 per multiply-add; a backward convolution computes
the input and weight gradients, the first layer's only the weight gradient).

    .venv/bin/python bench/step_profile.py [--batch-size 32] [--precision fp32] [--threads 2]
    .venv/bin/python bench/step_profile.py --isa avx2     # oneDNN and ATen capped, kernels for Haswell

The clock calls add about a microsecond per operation (about 40 a step).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import defaultdict

import torch
from peer import code_version, load_average

from cnnlab.models.build import build
from cnnlab.models.presets import get_preset
from cnnlab.models.shapes import analyze
from cnnlab.train.precision import choose, cpu_name
from cnnlab.train.trainer import EpochState, Trainer

AVX2_ENV = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "CNNLAB_MARCH": "haswell",
            "CNNLAB_BENCH_ISA": "avx2"}
WARMUP_STEPS = 50


def flops(spec, batch_size: int) -> dict[tuple[str, str], int]:
    """Floating-point operations of each (section, kind) of weighted layers, per step."""
    out, first = {}, True
    for layer in analyze(spec, (32, 32, 3)).layers:
        if not layer.macs:
            continue
        name, one = layer.layer.name, 2 * layer.macs * batch_size
        kind = "conv" if layer.layer.kind == "Conv2D" else "matmul"
        out[(f"{name} forward", f"{kind} forward" if kind == "conv" else kind)] = one
        backward = (1 if first else 2) * one
        out[(f"{name} backward", "conv backward" if kind == "conv" else kind)] = backward
        first = False
    return out


def profile(batch_size: int, precision: str, threads: int | None, steps: int) -> tuple[dict, float, int]:
    """({(section, kind): seconds summed over the steps}, wall seconds of the steps, steps)."""
    placement = choose(precision, threads)
    torch.manual_seed(0)
    trainer = Trainer(build(get_preset("cifar_model").spec((32, 32, 3), 10)), placement, "adam", 1e-3)
    count = batch_size * max(steps, WARMUP_STEPS)
    x = torch.randint(0, 256, (count, 32, 32, 3), dtype=torch.uint8)  # (N, H, W, C)
    y = torch.randint(0, 10, (count,))
    trainer.train_epoch(x[: batch_size * WARMUP_STEPS], y[: batch_size * WARMUP_STEPS], EpochState(0), batch_size, 0)
    direct = trainer.direct
    program = direct._program(x[:batch_size].contiguous(), y[:batch_size]) if direct else None
    if program is None:
        raise SystemExit(f"no step program here: {trainer.step_kind}; "
                         f"{direct.program_unsupported() if direct else 'autograd'}")
    seconds = torch.zeros(len(program.ops), dtype=torch.float64)
    around: dict[tuple[str, str], float] = defaultdict(float)
    order = torch.randperm(count)
    started = time.perf_counter()
    for step in range(steps):
        t0 = time.perf_counter()
        lo = (step * batch_size) % (count - batch_size + 1)
        images, labels = torch.index_select(x, 0, order[lo:lo + batch_size]), y[order[lo:lo + batch_size]]
        t1 = time.perf_counter()
        program.run(images, labels, seconds)  # the step DirectStep runs, clocked
        t2 = time.perf_counter()
        trainer.optimizer.step()
        t3 = time.perf_counter()
        around[("trainer", "batch gather")] += t1 - t0
        around[("trainer", "python around the program")] += (t2 - t1)
        around[("optimizer", "adam update")] += t3 - t2
    wall = time.perf_counter() - started
    times: dict[tuple[str, str], float] = defaultdict(float)
    for operation, spent in zip(program.operations(), seconds.tolist()):
        times[operation] += spent
    in_program = sum(times.values())
    around[("trainer", "python around the program")] -= in_program
    times.update(around)
    return times, wall, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32")
    parser.add_argument("--threads", type=int, help="CPU threads (default: all usable cores)")
    parser.add_argument("--steps", type=int, default=300, help="timed steps (default 300)")
    parser.add_argument("--isa", choices=["native", "avx2"], default="native",
                        help="avx2: oneDNN and ATen capped to AVX2, C kernels built for Haswell")
    args = parser.parse_args()
    if args.isa == "avx2" and os.environ.get("CNNLAB_BENCH_ISA") != "avx2":
        raise SystemExit(subprocess.run([sys.executable, *sys.argv], env={**os.environ, **AVX2_ENV}).returncode)
    times, wall, steps = profile(args.batch_size, args.precision, args.threads, args.steps)
    work = flops(get_preset("cifar_model").spec((32, 32, 3), 10), args.batch_size)
    placement = choose(args.precision, args.threads)
    print(f"cifar_model step profile: batch {args.batch_size}, {placement.describe()}, {steps} steps, "
          f"isa {args.isa}; CPU: {cpu_name()}; code {code_version()}; load average {load_average()}")
    step_ms = 1000 * wall / steps
    print(f"step {step_ms:.3f} ms = {args.batch_size / (wall / steps):,.0f} img/s "
          f"(the clocks included)")
    print(f"{'section':<28}{'operation':<28}{'ms/step':>9}{'share':>8}{'GFLOP/s':>9}")
    for (section, kind), spent in times.items():
        ms = 1000 * spent / steps
        rate = f"{work[(section, kind)] / ms / 1e6:9.1f}" if (section, kind) in work and ms else ""
        print(f"{section:<28}{kind:<28}{ms:>9.3f}{ms / step_ms:>8.1%}{rate}")
    layers: dict[str, float] = defaultdict(float)
    for (section, _), spent in times.items():
        layers[section.removesuffix(" forward").removesuffix(" backward")] += spent
    print("per layer (forward + backward):")
    for layer, spent in sorted(layers.items(), key=lambda item: -item[1]):
        ms = 1000 * spent / steps
        print(f"  {layer:<26}{ms:>9.3f} ms{ms / step_ms:>8.1%}")


if __name__ == "__main__":
    main()
