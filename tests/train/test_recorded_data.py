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


def test_data_from_the_decoded_cache_is_hashed_once(monkeypatch):
    # the cache hashes each array to check it; the fingerprint is made of those hashes
    from cnnlab.datasets import api, cache

    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, 60000, dtype=np.uint8),
              "x_test": rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, 10000, dtype=np.uint8)}
    cache.save_decoded("mnist", arrays, {"format": "idx"})
    hashed, digest = [], cache.array_digest

    def counted(array):
        hashed.append(array.shape)
        return digest(array)

    monkeypatch.setattr(cache, "array_digest", counted)
    monkeypatch.setattr(api, "array_digest", counted)
    train, test, fingerprint = api.load_fingerprinted("mnist", offline=True)
    assert hashed == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]  # the cache's checks alone
    assert fingerprint == api.fingerprint(*train, *test)  # the same as hashing what was loaded
    changed = train[0].copy()
    changed[0, 0, 0] ^= 1
    assert api.fingerprint(changed, train[1], *test) != fingerprint


def test_runs_recorded_with_the_older_fingerprint_still_match_their_data(workdir, cli):
    # the older fingerprint hashed the values themselves; it is still recognised, and still refuses other data
    from cnnlab.datasets.api import _values_fingerprint, load_dataset

    data = write_folder(workdir / "pictures")
    code, _, err = cli("train", "dense_only", "--dataset", "./pictures", "--epochs", "1", "--name", "r",
                       "--quiet", *FAST)
    assert code == 0, err
    config_path = workdir / "runs" / "r" / "config.json"
    config = json.loads(config_path.read_text())
    (x_train, y_train), (x_test, y_test) = load_dataset(data)
    config["dataset"]["fingerprint"] = _values_fingerprint(x_train, y_train, x_test, y_test)
    config_path.write_text(json.dumps(config))
    code, _, err = cli("evaluate", "runs/r")
    assert code == 0, err
    config["dataset"]["fingerprint"] = _values_fingerprint(x_train[::-1], y_train, x_test, y_test)
    config_path.write_text(json.dumps(config))
    code, _, err = cli("evaluate", "runs/r")
    assert code == 2 and "is not what this run trained on" in err
