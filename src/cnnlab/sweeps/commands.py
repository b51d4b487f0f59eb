"""`cnnlab sweep`: the grid (settings x seeds) checked, run, summarised and reported.

    cnnlab sweep cifar_model_dropout --dataset fashion_mnist --set dropout=0.15,0.3,0.45 \\
        --seeds 3 --workers 2 --epochs 3 --train-subset 3000

Order matters for "nothing written on bad input": the dataset, the model, every --set
value and every grid point's model and data split are checked before the sweep folder is
created.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.rundir import check_run_name
from cnnlab.settings import TrainSettings, flag_names, setting_flags
from cnnlab.sweeps.grid import SweepError, parse_set
from cnnlab.sweeps.jobs import INTERRUPTED, LOGS, Outcome, remember_dataset
from cnnlab.sweeps.model_code import model_code
from cnnlab.sweeps.plan import SWEEP_FILE, Sweep, now
from cnnlab.sweeps.runner import clear_unfinished, run_jobs
from cnnlab.sweeps.summary import (
    DIVERGED,
    best_setting,
    read_result,
    run_done,
    run_finished,
    run_status,
    summarize,
    text_table,
)


def sweep(args) -> int:
    from cnnlab.train.distributed import launched_world
    from cnnlab.train.session import open_dataset, resolve_model

    if launched_world() is not None:
        raise SweepError("a sweep runs its own worker processes; start it with cnnlab sweep, not torchrun")
    if args.resume:
        _only_workers_with_resume(args)
        plan, stored = Sweep.read(args.resume)
        data = open_dataset(plan.dataset)
    else:
        if not args.model or not args.dataset:
            raise SweepError("sweep needs a MODEL and --dataset NAME, e.g. "
                             "cnnlab sweep cifar_model_dropout --dataset fashion_mnist --set dropout=0.2,0.5")
        settings = TrainSettings.from_sources(args.config, setting_flags(args, sweep=True))
        sets = [parse_set(text) for text in args.set or []]
        data = open_dataset(args.dataset)
        names = [n for n, _ in sets]
        code = model_code(args.model, names, data.input_shape, data.num_classes)
        spec = code or resolve_model(args.model, data)
        name = args.name or _default_name(spec.name, data.name, code.axis_names(names) if code else names)
        check_run_name(name)
        seeds = 1 if args.seeds is None else args.seeds
        plan = Sweep.create(Path(args.out) / name, args.model, spec, data.name, settings, sets,
                            seeds, args.metric or "val_loss")
        stored = _existing(plan)
    _check_points(plan, data)
    if args.backend == "ray":
        from cnnlab.sweeps.ray_backend import require_ray

        require_ray()
    workers, threads = _workers(args.workers, len(plan.points()), cluster=args.backend == "ray")
    return _run(plan, stored, data, workers, threads, args)


def _run(plan: Sweep, stored: dict | None, data, workers: int, threads: int, args) -> int:
    plan.path.mkdir(parents=True, exist_ok=True)
    record = {**plan.to_dict(), "backend": args.backend, "workers": workers, "threads_per_worker": threads,
              "command": stored.get("command") if stored else args.command_line,
              "created": stored.get("created") if stored else now(), "status": "running",
              "wall_time_seconds": stored.get("wall_time_seconds", 0.0) if stored else 0.0}
    _write_json(plan.path / SWEEP_FILE, record)
    points = {p.name: p for p in plan.points()}
    todo = clear_unfinished(plan.path, list(points), run_done)
    kept = len(points) - len(todo)
    print(f"Sweep {plan.path}: {plan.spec.name} on {plan.dataset}, "
          f"{len(plan.settings_groups())} settings x {len(plan.seeds)} seeds = {len(points)} runs"
          + (f" ({kept} finished before, {len(todo)} to run)" if kept else ""))
    print(f"{workers} worker{'s' if workers > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}"
          f"{' (Ray tasks)' if args.backend == 'ray' else ''}; "
          f"each run's output in {plan.path / LOGS}/", flush=True)
    remember_dataset(data)
    failed: list[Outcome] = []
    done = [kept]

    def report(outcome: Outcome) -> None:
        done[0] += 1
        line = f"[{done[0]:>{len(str(len(points)))}}/{len(points)}] {outcome.name}"
        if outcome.code == 0:
            result = read_result(plan.path / outcome.name, "", 0).values
            line += (f"  val_loss {result.get('final_val_loss', float('nan')):.4f}"
                     f"  val_accuracy {result.get('final_val_accuracy', float('nan')):.4f}  {outcome.seconds:.1f}s")
        elif outcome.code == INTERRUPTED:
            line += "  interrupted"
        elif run_status(plan.path / outcome.name) == DIVERGED:
            line += "  diverged (the loss became non-finite): not ranked"
        else:
            failed.append(outcome)
            line += f"  failed (exit {outcome.code}): see {plan.path / LOGS / outcome.name}.log"
        print(line, flush=True)

    started = time.perf_counter()
    jobs = [plan.job(points[name], threads) for name in todo]
    if jobs:
        (plan.path / LOGS).mkdir(exist_ok=True)
    if args.backend == "ray":
        from cnnlab.sweeps.ray_backend import run_on_ray

        complete = run_on_ray(jobs, workers, threads, report) if jobs else True
    else:
        complete = run_jobs(jobs, workers, threads, report)
    wall = record["wall_time_seconds"] + time.perf_counter() - started
    status = "interrupted" if not complete else ("failed" if failed else "finished")
    record.update(status=status, wall_time_seconds=round(wall, 1))
    _write_json(plan.path / SWEEP_FILE, record)
    return _summarise(plan, status, wall, failed)


def _summarise(plan: Sweep, status: str, wall: float, failed: list[Outcome]) -> int:
    from cnnlab.sweeps.report import best_sentence, write_report

    results = [read_result(plan.path / p.name, p.setting, p.seed) for p in plan.points()
               if run_finished(plan.path / p.name)]
    summaries = summarize(plan.settings_groups(), results)
    page = write_report(plan, summaries, status, wall)
    if summaries:
        print()
        print(text_table(summaries))
        print()
        if best_setting(summaries, plan.metric) is not None:
            print(best_sentence(summaries, plan.metric))
    diverged = [p.name for p in plan.points() if run_status(plan.path / p.name) == DIVERGED]
    if diverged:
        print(f"{len(diverged)} run{'s' if len(diverged) > 1 else ''} diverged and "
              f"{'are' if len(diverged) > 1 else 'is'} not ranked: {', '.join(diverged)}")
    print(f"Sweep {status} in {wall:.0f}s: {len(results)} of {len(plan.points())} runs finished. Report: {page}")
    if status == "interrupted":
        print(f"Continue with: cnnlab sweep --resume {plan.path}", file=sys.stderr)
        return INTERRUPTED
    if failed:
        print(f"{len(failed)} run{'s' if len(failed) > 1 else ''} failed; see {plan.path / LOGS}/",
              file=sys.stderr)
        return 1
    return 0


# --- checks ---------------------------------------------------------------------------------


def _existing(plan: Sweep) -> dict | None:
    """The stored sweep.json when this sweep continues an earlier one; None for a new one."""
    if not plan.path.exists():
        return None
    try:
        stored = json.loads((plan.path / SWEEP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise SweepError(f"{plan.path} exists and is not a sweep folder; pick another --name") from None
    if not plan.same_grid(stored):
        raise SweepError(f"{plan.path} holds a different sweep (other model, dataset, settings, --set or "
                         f"--seeds); pick another --name, or continue it with --resume {plan.path}")
    return stored


def _check_points(plan: Sweep, data) -> None:
    """Every setting's model fits the data and its settings split it; SweepError names it."""
    from cnnlab.train.session import prepare_data, resolve_model

    for point in plan.points():
        if point.seed != plan.seeds[0]:
            continue
        spec, settings = plan.config(point)
        try:
            resolve_model(spec, data)
            prepare_data(data, settings)
        except CnnlabError as e:
            raise SweepError(f"--set {point.setting}: {e}") from None


def _workers(workers: int, runs: int, cluster: bool = False) -> tuple[int, int]:
    """(worker processes, torch threads each) with workers x threads <= cores (this machine's;
    on a Ray cluster, Ray places the tasks where their threads are free)."""
    from cnnlab.train.precision import usable_cores

    cores = usable_cores()
    if workers < 1:
        raise SweepError(f"--workers {workers}: give at least 1")
    if workers > cores and not cluster:
        raise SweepError(f"--workers {workers} is more than the {cores} cores this process may use; "
                         f"give at most --workers {cores}")
    workers = min(workers, runs)
    return workers, max(1, cores // workers)


def _only_workers_with_resume(args) -> None:
    given = [f"--{n.replace('_', '-')}" for n in flag_names(sweep=True) if getattr(args, n) is not None]
    given += [flag for flag, value in (("MODEL", args.model), ("--dataset", args.dataset), ("--set", args.set),
                                       ("--config", args.config), ("--name", args.name),
                                       ("--seeds", args.seeds is not None), ("--metric", args.metric)) if value]
    if given:
        raise SweepError(f"--resume continues a sweep with its saved grid; {', '.join(given)} cannot be "
                         "given with it (only --workers and --backend)")


def _default_name(model: str, dataset: str, names: list[str]) -> str:
    return f"sweep-{model}-{dataset}-{'-'.join(n.replace('.', '_') for n in names) or 'seeds'}"


def _write_json(path: Path, data: dict) -> None:
    from cnnlab.files import atomic_write

    atomic_write(path, json.dumps(data, indent=2) + "\n")
