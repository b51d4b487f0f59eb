"""`torchrun -m cnnlab train`: DistributedDataParallel on 2 local processes (gloo), checked
against a single-process run with the same global batch and seed, and bad launches."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from helpers.training import FAST, read_history
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file

from cnnlab.train.data import epoch_order, steps_per_epoch
from cnnlab.train.distributed import local_batch, shard_of

# 929 training images (after the validation split) in batches of 32: the last global batch has
# one example, so its shards are 1 and 0 (an empty step on rank 1)
TRAIN = ["train", "tiny.txt", "--dataset", "digits", "--train-subset", "1032", "--epochs", "2",
         "--batch-size", "32", "--quiet", *FAST]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(workdir, *args, nproc=2, env=None):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc),
               "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "cnnlab", *args]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    if os.path.exists("/sys/class/net/lo"):  # gloo on loopback, whatever the hostname resolves to
        environment.setdefault("GLOO_SOCKET_IFNAME", "lo")
    return subprocess.run(command, cwd=workdir, env=environment, capture_output=True, text=True, timeout=240)


def test_two_processes_keep_identical_weights_and_match_one_process(workdir, cli):
    (workdir / "sums").mkdir()
    done = torchrun(workdir, *TRAIN, "--name", "ddp", env={"CNNLAB_DDP_CHECKSUMS": str(workdir / "sums")})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Distributed: 2 processes (gloo), 16 examples each per step of the global batch 32" in done.stdout
    assert done.stdout.count("Run folder: runs/ddp") == 1  # rank 0 alone prints and writes
    assert sorted(p.name for p in (workdir / "runs").iterdir()) == ["ddp"]
    config = json.loads((workdir / "runs/ddp/config.json").read_text())
    assert config["status"] == "finished" and config["threads"] == 1
    assert config["distributed"] == {"world_size": 2, "processes_per_machine": 2, "backend": "gloo",
                                     "batch_per_process": 16}
    # both ranks held the same weights after every epoch
    rank0 = (workdir / "sums/rank0.txt").read_text().splitlines()
    assert [line.split()[0] for line in rank0] == ["1", "2"]
    assert (workdir / "sums/rank1.txt").read_text().splitlines() == rank0

    code, _, err = cli(*TRAIN, "--name", "single")  # one process, same global batch and seed
    assert code == 0, err
    ddp, single = (load_file(workdir / f"runs/{n}/model.safetensors") for n in ("ddp", "single"))
    assert ddp.keys() == single.keys()
    for key in ddp:
        torch.testing.assert_close(ddp[key], single[key], rtol=0, atol=1e-6)
    # the history is the global batch's: the same numbers as the single process's
    for a, b in zip(read_history(workdir / "runs/ddp"), read_history(workdir / "runs/single")):
        for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(a[column]) == pytest.approx(float(b[column]), rel=1e-6), column
    # its checkpoint is an ordinary one: one process continues it
    code, _, err = cli("train", "--resume", "runs/ddp", "--epochs", "3", "--quiet")
    assert code == 0, err
    assert [row["epoch"] for row in read_history(workdir / "runs/ddp")] == ["1", "2", "3"]


@settings(max_examples=200, deadline=None)
@given(count=st.integers(1, 300), size=st.integers(1, 8), per_process=st.integers(1, 9), seed=st.integers(0, 3))
def test_the_shards_of_a_step_are_exactly_that_global_batch(count, size, per_process, seed):
    batch_size = size * per_process
    order = epoch_order(count, seed, 0)
    shards = [shard_of(order, size, rank) for rank in range(size)]
    for step in range(steps_per_epoch(count, batch_size)):
        parts = [shard[slice(*local_batch(step, batch_size, size, len(shard)))] for shard in shards]
        assert sorted(np.concatenate(parts)) == sorted(order[step * batch_size:(step + 1) * batch_size])
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


def launched(monkeypatch, world_size, rank=0):
    monkeypatch.setenv("WORLD_SIZE", str(world_size))
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("LOCAL_RANK", str(rank))


@pytest.mark.parametrize("world, args, message", [
    (16, ["--train-subset", "10"], "torchrun started 16 processes but there are only 7 training images to "
     "share; use at most 7 processes or more data"),
    (3, [], "--batch-size 32 cannot be split evenly over 3 processes; give a multiple of 3 (it is the "
     "global batch: each process takes an equal part)"),
])
def test_a_launch_that_cannot_train_is_one_message_exit_2_nothing_written(workdir, cli, monkeypatch,
                                                                          world, args, message):
    launched(monkeypatch, world)  # checked before any process group is formed
    code, out, err = cli(*TRAIN, *args)
    assert code == 2
    assert err == f"cnnlab: error: {message}\n"
    assert not (workdir / "runs").exists()


def test_other_ranks_exit_2_silently_on_bad_input(workdir, cli, monkeypatch, capsys):
    launched(monkeypatch, 3, rank=1)
    with pytest.raises(SystemExit) as e:
        cli(*TRAIN)
    assert e.value.code == 2
    assert capsys.readouterr().err == ""


def test_resume_is_refused_under_torchrun(workdir, cli, monkeypatch):
    launched(monkeypatch, 2)
    code, _, err = cli("train", "--resume", "runs/x")
    assert code == 2
    assert err == ("cnnlab: error: --resume is not supported under torchrun; continue runs/x in one "
                   "process: cnnlab train --resume runs/x\n")
