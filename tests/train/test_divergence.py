"""A non-finite loss stops training with one message; the run folder says "diverged" and stays
readable; a sweep never ranks a diverged run."""

import json

from cnnlab.rundir import load_run

ARGS = ["--dataset", "digits", "--threads", "1", "--precision", "fp32", "--quiet"]


def test_lr_inf_stops_at_the_first_non_finite_loss(workdir, cli):
    code, out, err = cli("train", "tiny.txt", *ARGS, "--epochs", "3", "--lr", "inf", "--name", "r")
    assert code == 2
    assert err == ("cnnlab: error: training diverged in epoch 1, step 2: the training loss became nan. "
                   "Lower the learning rate (e.g. --lr 10 times smaller), or check the data for extreme values\n")
    run = workdir / "runs" / "r"
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "diverged" and config["epochs_done"] == 0
    assert not (run / "metrics.json").exists()
    assert load_run(run).notes[0].startswith("training diverged after 0 epochs")
    code, _, err = cli("report", str(run))
    assert code == 0, err


def test_a_sweep_never_ranks_a_diverged_run(workdir, cli):
    code, out, err = cli("sweep", "tiny.txt", "--dataset", "digits", "--precision", "fp32", "--set", "lr=1e-3,1e30", "--epochs", "2", "--name", "s")
    assert code == 0, err
    assert "lr=1e+30,seed=0  diverged (the loss became non-finite): not ranked" in out
    assert "Best setting: lr=0.001" in out
    assert "1 run diverged and is not ranked: lr=1e+30,seed=0" in out
    code, out, err = cli("sweep", "--resume", "runs/s")  # settings come from sweep.json
    assert code == 0, err
    assert "(2 finished before, 0 to run)" in out
