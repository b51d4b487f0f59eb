"""What other platforms' code paths train at, measured on this machine.

A Mac has no oneDNN wheel (it is built for Linux only), and without Apple's command line tools
no C compiler either; Windows has neither by default. cnnlab then trains on fewer of its own
kernels. This script times the lesson's cifar_model at batch 32 on random CIFAR-shaped data
along the three paths, each in a fresh process:

- all kernels: this Linux machine (oneDNN primitives, one C call per step);
- no oneDNN (CNNLAB_ONEDNN=0): a Mac or Windows machine with a compiler: torch's convolutions,
  cnnlab's C kernels for the rest, layer by layer;
- torch only (CNNLAB_NATIVE=0): a Mac without the command line tools.

It measures the code path, not a Mac's CPU: the ratios between the paths are the claim.

    .venv/bin/python bench/platforms.py [--steps 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from peer import code_version, load_average

PATHS = {"all kernels": {}, "no oneDNN": {"CNNLAB_ONEDNN": "0"}, "torch only": {"CNNLAB_NATIVE": "0"}}
WARMUP_STEPS = 30

MEASURE = """
import json, sys, time
import torch
from cnnlab.models.build import build
from cnnlab.models.presets import get_preset
from cnnlab.train.precision import choose
from cnnlab.train.trainer import EpochState, Trainer
steps, threads, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
trainer = Trainer(build(get_preset("cifar_model").spec((32, 32, 3), 10)), choose("fp32", threads), "adam", 1e-3)
x = torch.randint(0, 256, (32 * (steps + warmup), 32, 32, 3), dtype=torch.uint8)
y = torch.randint(0, 10, (len(x),))
trainer.train_epoch(x[: 32 * warmup], y[: 32 * warmup], EpochState(0), 32, 0)
started = time.perf_counter()
trainer.train_epoch(x[32 * warmup:], y[32 * warmup:], EpochState(1), 32, 0)
seconds = time.perf_counter() - started
print(json.dumps({"images_per_second": 32 * steps / seconds, "step": trainer.step_kind}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per path (default 300)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    args = parser.parse_args()
    print(f"cifar_model, batch 32, fp32, {args.threads} threads; code {code_version()}, load average "
          f"{load_average()}")
    first = None
    for name, env in PATHS.items():
        done = subprocess.run([sys.executable, "-c", MEASURE, str(args.steps), str(args.threads), str(WARMUP_STEPS)],
                              env={**os.environ, **env}, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name} failed:\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rate = result["images_per_second"]
        first = first or rate
        print(f"  {name:<12}{rate:9,.0f} img/s  {rate / first:5.2f}x  ({result['step']})")


if __name__ == "__main__":
    main()
