"""A run remembers the data it trained on: an image folder by its absolute path and a
fingerprint of its contents; resume, evaluate and report refuse data that changed."""

import json
import shutil

import numpy as np
from helpers.training import FAST
from PIL import Image


def write_folder(root, seed=0):
    rng = np.random.default_rng(seed)
    for split, count in (("train", 12), ("test", 4)):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            for k in range(count):
                Image.fromarray(rng.integers(0, 256, (10, 10), dtype=np.uint8)).save(root / split / c / f"{k}.png")
    return root


def test_a_folder_is_recorded_by_path_and_fingerprint(workdir, cli, monkeypatch):
    data = write_folder(workdir / "fashion_mnist")  # the name of a built-in dataset
    code, _, err = cli("train", "dense_only", "--dataset", "./fashion_mnist", "--epochs", "1", "--name", "r",
                       "--quiet", *FAST)
    assert code == 0, err
    record = json.loads((workdir / "runs" / "r" / "config.json").read_text())["dataset"]
    assert record["source"] == str(data.resolve()) and len(record["fingerprint"]) == 64
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the folder is found by its path, not by name in the new directory
    code, out, err = cli("evaluate", str(workdir / "runs" / "r"))
    assert code == 0, err

    # the same folder, other images: every command that would use it refuses
    shutil.rmtree(data)
    write_folder(data, seed=1)
    for argv in (["evaluate", str(workdir / "runs" / "r")],
                 ["train", "--resume", str(workdir / "runs" / "r"), "--epochs", "2"]):
        code, _, err = cli(*argv)
        assert code == 2, argv
        assert "is not what this run trained on" in err and str(data.resolve()) in err
    from cnnlab.rundir import load_run

    code, _, err = cli("report", str(workdir / "runs" / "r"))
    assert code == 0, err
    assert "changed since this run trained" in err
    assert load_run(workdir / "runs" / "r").config["dataset"]["source"] == str(data.resolve())
