"""Tampered run folders: each gives one clear message and exit 2, never a traceback or a crash."""

import json

import pytest
from helpers.training import FAST, TINY_MODEL
from safetensors import safe_open
from safetensors.torch import load_file, save_file


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch run, made once; each test tampers with a copy."""
    import os

    from cnnlab.cli import main

    root = tmp_path_factory.mktemp("trained")
    here = os.getcwd()
    os.chdir(root)
    try:
        (root / "tiny.txt").write_text(TINY_MODEL)
        assert main(["train", "tiny.txt", "--dataset", "digits", "--epochs", "1", "--name", "r", "--quiet", *FAST]) == 0
    finally:
        os.chdir(here)
    return root / "runs" / "r"


@pytest.fixture
def run(trained, tmp_path):
    import shutil

    return shutil.copytree(trained, tmp_path / "r")


def edit_config(run, change):
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(change(config)))


def edit_checkpoint(run, change_tensors=None, change_state=None):
    path = run / "checkpoint" / "last.safetensors"
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    if change_tensors:
        change_tensors(tensors)
    if change_state:
        metadata["state"] = change_state(metadata["state"])
    save_file(tensors, str(path), metadata=metadata)


def set_progress(state_text, **progress):
    state = json.loads(state_text)
    state["progress"] = {"epoch": 1, "step": 0, "seen": 0, "seconds": 0.0, **progress}
    return json.dumps(state)


def shrink_rng(tensors):
    tensors["rng/torch"] = tensors["rng/torch"][:10].clone()


def shrink_moment(tensors):
    key = next(k for k in tensors if k.endswith("exp_avg"))
    tensors[key] = tensors[key].flatten()[:1].clone()


def add_progress_tensors(tensors):
    import torch

    tensors["progress/loss_sum"] = torch.zeros((), dtype=torch.float64)
    tensors["progress/correct"] = torch.zeros((), dtype=torch.int64)


CASES = {
    "config.json without model": (lambda r: edit_config(r, lambda c: {k: v for k, v in c.items() if k != "model"}),
                                   "has no 'model' object"),
    "config.json is a list": (lambda r: (r / "config.json").write_text("[1, 2]"), "should hold a JSON object"),
    "one class name": (lambda r: edit_config(r, lambda c: {**c, "dataset": {**c["dataset"], "class_names": ["x"]}}),
                       "at least two class names"),
    "wrong-size RNG state": (lambda r: edit_checkpoint(r, shrink_rng), "random-number state"),
    "non-JSON checkpoint state": (lambda r: edit_checkpoint(r, change_state=lambda s: "{not json"), "is damaged"),
    "non-numeric history row": (
        lambda r: edit_checkpoint(r, change_state=lambda s: s.replace('"loss": ', '"loss": "x", "old": ', 1)),
        "is damaged"),
    "step counter 10**9": (
        lambda r: edit_checkpoint(r, add_progress_tensors, lambda s: set_progress(s, step=10**9, seen=10**9)),
        "is damaged"),
    "shrunk Adam moment": (lambda r: edit_checkpoint(r, shrink_moment), "exp_avg"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_tampered_run_is_one_message(case, run, cli):
    tamper, message = CASES[case]
    tamper(run)
    code, _, err = cli("train", "--resume", str(run), "--epochs", "2", "--quiet")
    assert code == 2, err
    assert err.startswith("cnnlab: error: ") and err.count("\n") == 1 and message in err, err


def test_a_run_killed_before_its_first_checkpoint_never_suggests_resume(run, cli):
    (run / "checkpoint" / "last.safetensors").unlink()
    (run / "model.safetensors").unlink()
    code, _, err = cli("evaluate", str(run))
    assert code == 2 and "train it again" in err and "--resume" not in err


def test_report_never_writes_through_a_linked_plots_folder(run, cli, tmp_path):
    import shutil

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(run / "plots")
    (run / "plots").symlink_to(elsewhere)
    code, _, err = cli("report", str(run))
    assert code == 2 and "is a link or a file" in err
    assert list(elsewhere.iterdir()) == []
