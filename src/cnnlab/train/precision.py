"""Where training runs and in what precision: device, CPU features, autocast, threads.

`auto` picks bfloat16 autocast (fp32 master weights, fp32 loss) on CPUs whose flags show
native bf16 matrix instructions (AMX or AVX512-BF16) and on CUDA devices that support it;
fp32 everywhere else. `fp32` always works; `bf16` is refused where it would be emulated.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import lru_cache

from cnnlab.settings import ConfigError

BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The feature flags of the first CPU in /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_bf16() -> bool:
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def usable_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """The usable cores not busy with other work right now, at least one.

    torch's CPU kernels split each operation across threads and wait for all of them; when
    another job holds a core, every step waits for a descheduled thread, and two threads on a
    busy 2-core machine run several times slower than one. "Right now" is the number of
    runnable tasks (the 4th field of /proc/loadavg, this process excluded), the median of a
    few samples: the 1-minute load average would still count the run that just finished, and
    a lesson training its models one after another would slow itself down. Thread count also
    changes the last bits of fp32 results: it is recorded in config.json, `--threads` pins it.
    """
    cores = usable_cores()
    others = other_runnable_tasks()
    if others is None:
        return cores
    return max(1, min(cores, cores - others))


def other_runnable_tasks(samples: int = 5, read=None, own=None) -> int | None:
    """Runnable tasks besides this process and its children (median of `samples` looks); None
    if unknown. A child such as the painter loading matplotlib is this command's own work and
    soon idle: counted, it would halve the threads of the whole training run."""
    read = read or _read_proc_loadavg
    own = own or running_children
    counts = []
    for i in range(samples):
        text = read()
        if text is None:
            return None
        running = int(text.split()[3].split("/")[0])
        counts.append(max(0, running - 1 - own()))  # this process is running while it reads
        if i + 1 < samples:
            time.sleep(0.01)
    return sorted(counts)[len(counts) // 2]


def running_children() -> int:
    """How many of this process's child processes are running right now (0 where unknown)."""
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0
    pids = []
    for task in tasks:  # a child belongs to the thread that started it
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids += f.read().split()
        except OSError:
            continue
    running = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]  # after the name, which may hold spaces
        except (OSError, IndexError):
            continue
        running += state == "R"
    return running


def _read_proc_loadavg() -> str | None:
    try:
        with open("/proc/loadavg") as f:
            return f.read()
    except OSError:
        return None


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu" or "cuda"
    precision: str  # "fp32" or "bf16"
    threads: int

    def autocast(self) -> AbstractContextManager:
        import torch

        if self.precision == "bf16":
            return torch.autocast(self.device, dtype=torch.bfloat16)
        return nullcontext()

    def describe(self) -> str:
        plural = "s" if self.threads > 1 else ""
        where = self.device if self.device != "cpu" else f"cpu, {self.threads} thread{plural}"
        return f"{self.precision} on {where}"


def choose(precision: str = "auto", threads: int | None = None) -> Placement:
    """Resolve `auto` and set torch's thread count; ConfigError for an impossible request."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        bf16_native = torch.cuda.is_bf16_supported()
    else:
        bf16_native = cpu_has_bf16()
    if precision == "bf16" and not bf16_native:
        raise ConfigError(
            "--precision bf16 needs a CPU with AMX or AVX512-BF16 (or a CUDA GPU with bf16); "
            "this one has neither: use --precision fp32"
        )
    resolved = "bf16" if precision == "bf16" or (precision == "auto" and bf16_native) else "fp32"
    count = threads or default_threads()
    cores = usable_cores()
    if count > cores:  # more spinning threads than cores slows every step down
        print(f"cnnlab: note: {count} threads asked for, {cores} usable cores here: using {cores}",
              file=sys.stderr)
        count = cores
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return Placement(device=device, precision=resolved, threads=count)
