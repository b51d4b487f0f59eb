"""`cnnlab sweep --backend ray`: the same runs as Ray tasks, where the `ray` package is installed.

`ray.init()` joins the cluster named by RAY_ADDRESS (or a running local one), else starts a
local Ray instance. Each run is a task reserving `threads` CPUs; at most `--workers` run at
once. On a cluster of several machines the sweep folder must be on a filesystem they all
share (the tasks write the run folders) and every machine needs the dataset in its cache.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from cnnlab.sweeps.grid import SweepError
from cnnlab.sweeps.jobs import INTERRUPTED, Job, Outcome, init_worker, run_job


def require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise SweepError("--backend ray needs the ray package (pip install ray); the default backend "
                         "(--backend local) needs nothing extra") from None


def _task(job: Job, threads: int) -> Outcome:
    init_worker(threads)
    return run_job(job)


def run_on_ray(jobs: list[Job], workers: int, threads: int, on_outcome: Callable[[Outcome], None]) -> bool:
    import ray

    if not ray.is_initialized():
        ray.init(log_to_driver=False)
    task = ray.remote(num_cpus=threads)(_task)
    # tasks may start in another directory (or machine): give them absolute paths
    queue = [dataclasses.replace(job, sweep_dir=str(Path(job.sweep_dir).resolve())) for job in jobs]
    pending: dict = {}
    try:
        while queue or pending:
            while queue and len(pending) < workers:
                job = queue.pop(0)
                pending[task.remote(job, threads)] = job
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                pending.pop(ref)
                on_outcome(ray.get(ref))
    except KeyboardInterrupt:
        for ref, job in pending.items():
            ray.cancel(ref)  # the task gets a KeyboardInterrupt: its run stops, unfinished
            on_outcome(Outcome(job.name, INTERRUPTED, 0.0))
        return False
    return True
