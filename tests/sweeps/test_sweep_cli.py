"""`cnnlab sweep`: run folders, sweep.json, the report and table, resume, workers, bad input."""

import csv
import json
import statistics

import pytest
from helpers.sweeps import FAST

from cnnlab.train.precision import usable_cores

SWEEP = ["sweep", "tiny.txt", "--dataset", "digits", "--set", "dropout=0.1,0.5", "--seeds", "2",
         "--name", "s", *FAST]
RUNS = ["dropout=0.1,seed=0", "dropout=0.1,seed=1", "dropout=0.5,seed=0", "dropout=0.5,seed=1"]


def final_val_loss(run):
    with open(run / "history.csv", newline="") as f:
        return float(list(csv.DictReader(f))[-1]["val_loss"])


def test_sweep_runs_the_grid_and_reports_mean_and_std(workdir, cli):
    code, out, err = cli(*SWEEP)
    assert code == 0, err
    sweep = workdir / "runs" / "s"
    assert sorted(p.name for p in sweep.iterdir()) == sorted(
        [*RUNS, "index.html", "logs", "sweep.json", "sweep.png", "sweep.svg"])
    for name in RUNS:  # each a normal run folder with the grid point's model and seed
        config = json.loads((sweep / name / "config.json").read_text())
        assert config["status"] == "finished"
        assert config["seed"] == int(name[-1])
        assert config["model"]["layers"][1]["rate"] == float(name[8:11])
    stored = json.loads((sweep / "sweep.json").read_text())
    assert stored["status"] == "finished" and stored["seeds"] == [0, 1]
    assert stored["axes"] == [{"name": "dropout", "values": [0.1, 0.5], "changes": "rate of dropout"}]
    assert [r["name"] for r in stored["runs"]] == RUNS
    # the table's mean ± std are those of the runs' histories (sample std)
    losses = [final_val_loss(sweep / name) for name in RUNS[:2]]
    expected = f"{statistics.mean(losses):.4f} ± {statistics.stdev(losses):.4f}"
    row = next(line for line in out.splitlines() if line.startswith("dropout=0.1 "))
    assert row.split()[1] == "2" and expected in row
    assert "Best setting: dropout=" in out
    page = (sweep / "index.html").read_text()
    assert expected in page and "Best setting" in page and "data:image/png;base64," in page


def test_an_interrupted_sweep_keeps_finished_runs_and_restarts_the_rest(workdir, cli):
    assert cli(*SWEEP)[0] == 0
    sweep = workdir / "runs" / "s"
    before = {name: (sweep / name / "history.csv").read_text() for name in RUNS}
    kept_mtime = (sweep / RUNS[0] / "history.csv").stat().st_mtime_ns
    # as an interruption leaves it: one run stopped mid-way, one never started
    config = json.loads((sweep / RUNS[1] / "config.json").read_text())
    (sweep / RUNS[1] / "config.json").write_text(json.dumps({**config, "status": "interrupted"}))
    (sweep / RUNS[1] / "model.safetensors").unlink()
    for p in sorted((sweep / RUNS[3]).rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (sweep / RUNS[3]).rmdir()

    code, out, err = cli(*SWEEP)  # the same command again continues it
    assert code == 0, err
    assert "(2 finished before, 2 to run)" in out.splitlines()[0]
    assert [line.split()[1] for line in out.splitlines() if line.startswith("[")] == [RUNS[1], RUNS[3]]
    assert (sweep / RUNS[0] / "history.csv").stat().st_mtime_ns == kept_mtime
    for name in RUNS:  # fp32 and seeded: the rerun runs reproduce their first histories
        assert [r.split(",")[:5] for r in (sweep / name / "history.csv").read_text().splitlines()] == \
            [r.split(",")[:5] for r in before[name].splitlines()]

    code, out, err = cli("sweep", "--resume", "runs/s")
    assert code == 0, err
    assert "(4 finished before, 0 to run)" in out.splitlines()[0]


def test_workers_run_in_parallel_processes_sharing_the_cores(workdir, cli):
    code, out, err = cli("sweep", "tiny.txt", "--dataset", "digits", "--set", "lr=1e-3,3e-3",
                         "--workers", "2", "--name", "p", *FAST)
    if usable_cores() < 2:
        assert code == 2 and "--workers 2 is more than the 1 cores" in err
        return
    assert code == 0, err
    assert "2 workers x " in out
    for name in ("lr=0.001,seed=0", "lr=0.003,seed=0"):
        config = json.loads((workdir / "runs" / "p" / name / "config.json").read_text())
        assert config["status"] == "finished"
        assert config["threads"] * 2 <= usable_cores()
        assert (workdir / "runs" / "p" / "logs" / f"{name}.log").read_text().startswith("Training ")


NO_DROPOUT = "Conv2D(4, (3, 3))\nFlatten()\nDense(10)\n"


@pytest.mark.parametrize("args, message", [
    (["tiny.txt", "--set", "colour=1,2"], "--set colour: no training setting or layer argument is called 'colour'"),
    (["tiny.txt", "--set", "dropout=0.1,high"], "--set dropout=high: line 2: Dropout: rate='high' should be a number in [0, 1)"),
    (["tiny.txt", "--set", "batch_size=16,0.5"], "--set batch_size=0.5: batch_size=0.5 must be a positive integer"),
    (["tiny.txt", "--set", "dropout=0.1", "--seeds", "0"], "--seeds 0: a sweep needs at least one seed per setting"),
    (["tiny.txt"], "a sweep needs at least one --set NAME=VALUE,..., e.g. --set dropout=0.1,0.3,0.5"),
    (["plain.txt", "--set", "dropout=0.1"], "--set dropout: model 'sequential' has no Dropout layer; add one"),
    (["tiny.txt", "--set", "conv2d.kernel_size=3,9"], "--set conv2d.kernel_size=9: line 1: conv2d (Conv2D): the 9x9 kernel is larger"),
    (["tiny.txt", "--set", "train_subset=100,5000"], "--set train_subset=5000: --train-subset 5000 is more than the 1,438 training images"),
    (["tiny.txt", "--set", "dropout=0.1", "--workers", "99"], "--workers 99 is more than the"),
])
def test_bad_input_is_one_message_exit_2_and_nothing_written(workdir, cli, args, message):
    (workdir / "plain.txt").write_text(NO_DROPOUT)
    code, out, err = cli("sweep", *args, "--dataset", "digits", *FAST)
    assert code == 2
    assert err.startswith(f"cnnlab: error: {message}") and err.count("\n") == 1
    assert not (workdir / "runs").exists()


def test_resume_takes_only_workers(workdir, cli):
    code, out, err = cli("sweep", "--resume", "runs/s", "--seeds", "3", "--epochs", "2")
    assert code == 2
    assert err == ("cnnlab: error: --resume continues a sweep with its saved grid; --epochs, --seeds cannot "
                   "be given with it (only --workers and --backend)\n")


def test_a_different_grid_under_an_existing_name_is_refused(workdir, cli):
    assert cli(*SWEEP[:6], "--name", "s", *FAST)[0] == 0
    code, out, err = cli(*SWEEP)
    assert code == 2
    assert err == ("cnnlab: error: runs/s holds a different sweep (other model, dataset, settings, --set or "
                   "--seeds); pick another --name, or continue it with --resume runs/s\n")


def test_a_sweep_is_not_started_by_torchrun(workdir, cli, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    code, out, err = cli(*SWEEP)
    assert code == 2
    assert err == "cnnlab: error: a sweep runs its own worker processes; start it with cnnlab sweep, not torchrun\n"
    assert not (workdir / "runs").exists()
