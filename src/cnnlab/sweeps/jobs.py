"""One job of a sweep: a grid point's run as plain data, and running it in this process.

Each run is a normal `cnnlab train` run folder (`train_run`), its output in
`logs/<run>.log`. Both backends (runner.py's local processes, ray_backend.py's Ray tasks)
run jobs with `init_worker` and `run_job`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import time
import traceback
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError

LOGS = "logs"
INTERRUPTED = 130


@dataclasses.dataclass(frozen=True)
class Job:
    """Everything a worker needs for one run, as plain data (it crosses a process boundary)."""

    name: str
    model: dict[str, Any]  # ModelSpec.to_dict()
    dataset: str
    settings: dict[str, Any]  # TrainSettings.to_dict()
    sweep_dir: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    name: str
    code: int  # 0 finished, 130 interrupted, 2 refused, 1 crashed
    seconds: float


# --- in a worker ------------------------------------------------------------------------------

_DATASETS: dict[str, Any] = {}  # name -> session.Dataset, loaded once per process


def remember_dataset(dataset) -> None:
    """Give this process's runs a dataset already in memory (the sweep checked it)."""
    _DATASETS[dataset.name] = dataset


def run_job(job: Job) -> Outcome:
    """Train one run into `sweep_dir/name`, its output into `sweep_dir/logs/name.log`."""
    from cnnlab.models.layers import ModelSpec
    from cnnlab.settings import TrainSettings
    from cnnlab.train.commands import train_run
    from cnnlab.train.session import open_dataset

    started = time.perf_counter()
    log = Path(job.sweep_dir) / LOGS / f"{job.name}.log"
    with open(log, "w", encoding="utf-8") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            if job.dataset not in _DATASETS:
                _DATASETS[job.dataset] = open_dataset(job.dataset)
            code, _ = train_run(ModelSpec.from_dict(job.model), _DATASETS[job.dataset],
                                TrainSettings.from_dict(job.settings), job.sweep_dir, job.name, quiet=True)
        except CnnlabError as e:
            print(f"cnnlab: error: {e}")
            code = 2
        except KeyboardInterrupt:
            code = INTERRUPTED
        except Exception:
            traceback.print_exc()
            code = 1
    return Outcome(job.name, code, time.perf_counter() - started)


def init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    # between runs a Ctrl-C must not kill the worker; during a run train_run handles it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
