"""Time to accuracy: the lesson's cifar_model on real Fashion-MNIST, cnnlab against Keras.

Claim (issue 4): with the lesson's settings (10 epochs, batch 32, Adam, validation on the
test set) cnnlab reaches Keras's final test accuracy within 0.5 percentage points in at most
a third of Keras's wall time; and bf16 (what `--precision auto` picks on this CPU) is within
0.5 points of fp32, or `auto` should pick fp32. Evidence: this script's output, both stacks
in one run (Keras in its own interpreter), with machine, load and code version printed.

Two times are printed for each stack. Wall time is the whole 10-epoch `fit` call, per-epoch
validation included, on both sides. Time to target is the training-plus-validation time of
the epochs up to the first whose test accuracy is within 0.5 points of Keras's final one
(the sum of per-epoch seconds, so setup is left out on both sides), as time-to-accuracy
benchmarks such as DAWNBench count it; the target is judged on it against Keras's wall time.

Needs real Fashion-MNIST: Debian's dataset-fashion-mnist (`make system-deps`), or a cached
download (`cnnlab datasets download fashion_mnist`).

    .venv/bin/python bench/time_to_accuracy.py [--epochs 10] [--seeds 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from peer import code_version, find_peer, load_average, run_peer

import cnnlab
from cnnlab.train.precision import choose, cpu_name


def cnnlab_run(data, epochs: int, batch_size: int, precision: str, seed: int) -> dict:
    (x_train, y_train), (x_test, y_test) = data
    started = time.perf_counter()
    history = cnnlab.fit("cifar_model", (x_train, y_train), validation_data=(x_test, y_test),
                         epochs=epochs, batch_size=batch_size, precision=precision, seed=seed,
                         verbose=False)
    wall = time.perf_counter() - started
    return {"test_accuracy": history.history["val_accuracy"][-1], "wall_seconds": wall,
            "curve": history.history["val_accuracy"], "epoch_seconds": [row["seconds"] for row in history.rows]}


def time_to_target(run: dict, target: float) -> tuple[float, int] | None:
    """(seconds, epochs) until the first epoch with test accuracy >= target; None if never."""
    curve = run["curve"] if "curve" in run else run["history"]["val_accuracy"]
    for epoch, accuracy in enumerate(curve, start=1):
        if accuracy >= target:
            return sum(run["epoch_seconds"][:epoch]), epoch
    return None


def summary(runs: list[dict]) -> tuple[float, float, float]:
    accuracies = [r["test_accuracy"] for r in runs]
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    return statistics.mean(accuracies), spread, statistics.mean(r["wall_seconds"] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=1, help="runs per stack (mean and std)")
    parser.add_argument("--peer-python", help="interpreter with keras + tensorflow (default .venv-bench)")
    args = parser.parse_args()

    data = cnnlab.load_dataset("fashion_mnist")
    peer_python, peer_env, peer_name = find_peer(args.peer_python)
    auto = choose("auto")
    print(f"cifar_model on Fashion-MNIST, {args.epochs} epochs, batch {args.batch_size}, validation on "
          f"the test set, {args.seeds} seed(s)")
    print(f"cnnlab {auto.describe()} (auto) and fp32; peer: {peer_name}")
    print(f"CPU: {cpu_name()}; load average before: {load_average()}; code {code_version()}", flush=True)

    results: dict[str, list[dict]] = {"keras": [], "cnnlab auto": [], "cnnlab fp32": []}
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "fashion_mnist.npz"
        (x_train, y_train), (x_test, y_test) = data
        np.savez(npz, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        for seed in range(args.seeds):
            results["keras"].append(run_peer(peer_python, peer_env, "accuracy", "--data", str(npz),
                                             "--epochs", str(args.epochs), "--batch-size",
                                             str(args.batch_size), "--seed", str(seed)))
            results["cnnlab auto"].append(cnnlab_run(data, args.epochs, args.batch_size, "auto", seed))
            results["cnnlab fp32"].append(cnnlab_run(data, args.epochs, args.batch_size, "fp32", seed))

    keras_acc, _, keras_wall = summary(results["keras"])
    print(f"{'stack':<14} {'test accuracy':>16} {'wall s':>8} {'time vs keras':>14}")
    for name, runs in results.items():
        acc, spread, wall = summary(runs)
        print(f"{name:<14} {acc:>9.4f} ± {spread:.4f} {wall:>8.1f} {wall / keras_wall:>13.2f}x")
    auto_acc, _, auto_wall = summary(results["cnnlab auto"])
    fp32_acc, _, _ = summary(results["cnnlab fp32"])
    target = keras_acc - 0.005
    print(f"time to test accuracy >= {target:.4f} (Keras's final - 0.5 points), first seed:")
    reached = {}
    for name, runs in results.items():
        reached[name] = time_to_target(runs[0], target)
        print(f"  {name:<12} " + ("never" if reached[name] is None else
              f"{reached[name][0]:6.1f} s (epoch {reached[name][1]}), {reached[name][0] / keras_wall:.2f}x Keras's wall time"))
    print(f"accuracy: cnnlab auto {auto_acc - keras_acc:+.4f} vs Keras (target >= -0.0050): "
          f"{'met' if auto_acc >= keras_acc - 0.005 else 'MISSED'}")
    print(f"whole run: cnnlab auto takes {auto_wall / keras_wall:.2f}x Keras's wall time")
    auto_reached = reached["cnnlab auto"]
    ratio = auto_reached[0] / keras_wall if auto_reached else float("inf")
    print(f"time to accuracy: cnnlab auto {ratio:.2f}x Keras's wall time (target <= 0.33x): "
          f"{'met' if ratio <= 1 / 3 else 'MISSED'}")
    if auto.precision == "bf16":
        verdict = "bf16 is fine for auto" if auto_acc >= fp32_acc - 0.005 else "bf16 costs accuracy: auto should pick fp32"
        print(f"bf16 vs fp32: {auto_acc - fp32_acc:+.4f} ({verdict})")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
