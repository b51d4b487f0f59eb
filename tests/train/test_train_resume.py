"""Interrupted runs continue exactly: `kill -9` and Ctrl-C of a real `cnnlab train` process,
then `--resume`, end with the history of an uninterrupted run (fp32, same seed)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers.training import metric_columns, read_history

# Dropout makes the RNG state part of what must be restored; batch 1 makes an epoch
# (1,295 steps) long enough to be caught in the middle.
MODEL = "Conv2D(8, (3, 3), activation='relu')\nDropout(0.3)\nFlatten()\nDense(10)\n"
ARGS = ["--dataset", "digits", "--epochs", "3", "--batch-size", "1", "--threads", "1",
        "--precision", "fp32", "--quiet"]


@pytest.fixture
def reference(workdir, cli):
    (workdir / "drop.txt").write_text(MODEL)
    code, _, err = cli("train", "drop.txt", *ARGS, "--name", "ref")
    assert code == 0, err
    return metric_columns(read_history(workdir / "runs" / "ref"))


def start_training(workdir, name):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "cnnlab", "train", "drop.txt", *ARGS, "--name", name],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_first_epoch(workdir, name, process, timeout=120.0):
    history = workdir / "runs" / name / "history.csv"
    deadline = time.monotonic() + timeout
    while not (history.exists() and len(read_history(workdir / "runs" / name)) >= 1):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first epoch did not finish in time"
        time.sleep(0.02)
    first_epoch = float(read_history(workdir / "runs" / name)[0]["seconds"])
    time.sleep(0.4 * first_epoch)  # well into epoch 2, whatever this machine's speed


def test_kill_9_mid_epoch_then_resume_matches_uninterrupted(workdir, cli, reference):
    process = start_training(workdir, "k")
    wait_for_first_epoch(workdir, "k", process)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    run = workdir / "runs" / "k"
    assert len(read_history(run)) == 1  # killed during epoch 2
    assert json.loads((run / "config.json").read_text())["status"] == "running"
    code, out, err = cli("train", "--resume", "runs/k", "--threads", "1", "--quiet")
    assert code == 0, err
    assert out.startswith("Resuming runs/k at epoch 2\n")
    assert metric_columns(read_history(run)) == reference


def test_ctrl_c_saves_mid_epoch_checkpoint_and_resume_matches(workdir, cli, reference):
    process = start_training(workdir, "c")
    wait_for_first_epoch(workdir, "c", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Interrupted in epoch 2 at step " in err
    assert err.strip().endswith("checkpoint saved. Continue with: cnnlab train --resume runs/c")
    run = workdir / "runs" / "c"
    assert json.loads((run / "config.json").read_text())["status"] == "interrupted"
    step = int(err.split("at step ")[1].split(";")[0])
    assert 0 < step < 1295
    code, out, err = cli("train", "--resume", "runs/c", "--threads", "1", "--quiet")
    assert code == 0, err
    assert out.startswith(f"Resuming runs/c at epoch 2, step {step}\n")
    assert metric_columns(read_history(run)) == reference
    assert json.loads((run / "config.json").read_text())["status"] == "finished"


def test_resume_of_a_finished_run_asks_for_more_epochs(workdir, cli, reference):
    code, _, err = cli("train", "--resume", "runs/ref", "--threads", "1")
    assert code == 2
    assert err == ("cnnlab: error: runs/ref has finished its 3 epochs; give --epochs N with N > 3 to "
                   "train further\n")
    code, _, err = cli("train", "--resume", "runs/ref", "--epochs", "4", "--threads", "1", "--quiet")
    assert code == 0, err
    assert len(read_history(workdir / "runs" / "ref")) == 4
