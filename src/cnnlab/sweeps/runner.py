"""The local backend of a sweep: its jobs one after another, or in parallel worker processes.

Workers are spawned processes (no fork: torch's threads do not survive
it), each with `threads = cores // workers` torch threads, so workers x threads <= cores.
A run whose folder says finished (or stopped early) is kept; any other folder of a grid
run is deleted and the run starts again. Ctrl-C: the running runs stop after their current
step (each run's own Ctrl-C handling), nothing new starts, and the sweep can be resumed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import shutil
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

from cnnlab.children import spawned_without_current_folder
from cnnlab.errors import CnnlabError
from cnnlab.files import folder_kind
from cnnlab.sweeps.jobs import INTERRUPTED, Job, Outcome, init_worker, run_job


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


def run_jobs(jobs: list[Job], workers: int, threads: int, on_outcome: Callable[[Outcome], None]) -> bool:
    """Run the jobs here; on_outcome after each. False if interrupted (the rest did not start)."""
    if not jobs:
        return True
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
    with spawned_without_current_folder(), \
            ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker,
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
