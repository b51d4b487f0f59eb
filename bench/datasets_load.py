"""Dataset load speed against the targets of the datasets issue.

Claim: Fashion-MNIST from its .gz files (verify content sha256, decode IDX, write the .npy
cache) < 1 s; from the decoded cache < 0.2 s; a CIFAR-10-sized dataset from the decoded cache
< 0.5 s. Each row is the median (and best) of --runs runs in a fresh temporary CNNLAB_HOME.

Uses Debian's /usr/share/datasets/fashion-mnist (`apt-get install dataset-fashion-mnist`);
without it, the Fashion-MNIST rows are skipped. The CIFAR-10-sized row writes random arrays of
CIFAR-10's shapes through the real decoded-cache writer, then times load_dataset("cifar10").

    .venv/bin/python bench/datasets_load.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cnnlab.datasets import cache, load_dataset

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
TARGETS = {"fashion_mnist from .gz": 1.0, "fashion_mnist from decoded cache": 0.2,
           "cifar10-sized from decoded cache": 0.5}


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def fresh_home() -> tempfile.TemporaryDirectory:
    home = tempfile.TemporaryDirectory(prefix="cnnlab-bench-")
    os.environ["CNNLAB_HOME"] = home.name
    return home


def bench_fashion(runs: int) -> dict[str, list[float]]:
    cold, warm = [], []
    for _ in range(runs):
        with fresh_home():
            cold.append(timed(lambda: load_dataset("fashion_mnist", offline=True, progress=False)))
            warm.append(timed(lambda: load_dataset("fashion_mnist", offline=True, progress=False)))
    return {"fashion_mnist from .gz": cold, "fashion_mnist from decoded cache": warm}


def bench_cifar_sized(runs: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (50000, 32, 32, 3), dtype=np.uint8),
        "y_train": rng.integers(0, 10, (50000, 1), dtype=np.uint8),
        "x_test": rng.integers(0, 256, (10000, 32, 32, 3), dtype=np.uint8),
        "y_test": rng.integers(0, 10, (10000, 1), dtype=np.uint8),
    }
    times = []
    with fresh_home():
        cache.save_decoded("cifar10", arrays, {"dataset": "cifar10", "format": "bench (random arrays)"})
        for _ in range(runs):
            times.append(timed(lambda: load_dataset("cifar10", offline=True, progress=False)))
    return {"cifar10-sized from decoded cache": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    if DEBIAN.is_dir():
        results |= bench_fashion(args.runs)
    else:
        print(f"(skipping Fashion-MNIST rows: {DEBIAN} is absent; apt-get install dataset-fashion-mnist)")
    results |= bench_cifar_sized(args.runs)
    print(f"{'load':<34}{'median s':>10}{'best s':>9}{'target s':>10}  ok   (runs={args.runs}, cpus={os.cpu_count()})")
    for name, times in results.items():
        median, target = statistics.median(times), TARGETS[name]
        print(f"{name:<34}{median:>10.3f}{min(times):>9.3f}{target:>10.1f}  {'yes' if median < target else 'NO'}")


if __name__ == "__main__":
    main()
