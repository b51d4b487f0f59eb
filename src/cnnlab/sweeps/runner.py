"""Running a sweep's runs: one after another, or in parallel worker processes.

Each run is a normal `cnnlab train` run folder (`train_run`), its output in
`logs/<run>.log`. Workers are spawned processes (no fork: torch's threads do not survive
it), each with `threads = cores // workers` torch threads, so workers x threads <= cores.
A run whose folder says finished (or stopped early) is kept; any other folder of a grid
run is deleted and the run starts again. Ctrl-C: the running runs stop after their current
step (each run's own Ctrl-C handling), nothing new starts, and the sweep can be resumed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import shutil
import signal
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError
from cnnlab.files import folder_kind

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
    from cnnlab.config import TrainSettings
    from cnnlab.models.layers import ModelSpec
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


# --- in the sweep process -------------------------------------------------------------------------


def clear_unfinished(sweep_dir: Path, names: list[str], finished: Callable[[Path], bool]) -> list[str]:
    """Delete the folders of runs that did not finish; the names still to run, in order."""
    todo = []
    for name in names:
        run_dir = sweep_dir / name
        if finished(run_dir):
            continue
        if run_dir.exists():
            if folder_kind(run_dir) != "run" and any(run_dir.iterdir()):
                raise CnnlabError(f"{run_dir} is a grid point's folder but cnnlab did not write it; "
                                  "move it out of the sweep folder and run the sweep again")
            shutil.rmtree(run_dir)
        todo.append(name)
    return todo


def run_jobs(jobs: list[Job], workers: int, threads: int, on_outcome: Callable[[Outcome], None],
             backend: str = "local") -> bool:
    """Run the jobs; on_outcome after each. False if interrupted (the rest did not start)."""
    if not jobs:
        return True
    (Path(jobs[0].sweep_dir) / LOGS).mkdir(exist_ok=True)
    if backend == "ray":
        from cnnlab.sweeps.ray_backend import run_on_ray

        return run_on_ray(jobs, workers, threads, on_outcome)
    if workers == 1:
        for job in jobs:
            outcome = run_job(job)
            on_outcome(outcome)
            if outcome.code == INTERRUPTED:
                return False
        return True
    return _run_parallel(jobs, workers, threads, on_outcome)


def _run_parallel(jobs, workers, threads, on_outcome) -> bool:
    context = multiprocessing.get_context("spawn")
    pending: set[Future] = set()
    queue = list(jobs)
    complete = True
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
                             initargs=(threads,)) as pool:
        try:
            while queue or pending:
                # keep exactly `workers` runs in flight, so nothing queued starts after a Ctrl-C
                while queue and len(pending) < workers:
                    pending.add(pool.submit(run_job, queue.pop(0)))
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = future.result()
                    on_outcome(outcome)
                    if outcome.code == INTERRUPTED:
                        complete, queue = False, []
        except KeyboardInterrupt:
            complete, queue = False, []
            for future in pending:  # the workers got the Ctrl-C too: they stop at the next step
                with contextlib.suppress(Exception):
                    on_outcome(future.result())
    return complete
