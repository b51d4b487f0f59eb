"""Two processes loading the same dataset at once end with one good copy (file lock)."""

import hashlib
import os
import pickle
import subprocess
import sys
import textwrap
import time

import numpy as np
from helpers.datasets import gz, idx_dataset, idx_spec, serve

from cnnlab.datasets import cache, load_dataset, registry

CHILD = textwrap.dedent("""
    import hashlib, pickle, sys
    from cnnlab.datasets import registry, load_dataset
    with open(sys.argv[1], "rb") as f:
        spec = pickle.load(f)  # written by the test itself
    registry.DATASETS[spec.name] = spec
    (a, b), (c, d) = load_dataset(spec.name, progress=False)
    print(hashlib.sha256(a.tobytes() + b.tobytes() + c.tobytes() + d.tobytes()).hexdigest())
""")


def test_two_processes_share_one_download(mirrored, tmp_path):
    arrays, raw = idx_dataset(seed=9, n_train=2000, n_test=10)
    files = {name: gz(data, level=1) for name, data in raw.items()}
    serve(mirrored, "mnist", files)
    mirrored.throttle = 0.01  # about half a second per process: the two overlap
    spec = idx_spec(registry.MNIST, raw, by="file", files=files, n_train=2000, n_test=10)
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    (tmp_path / "child.py").write_text(CHILD)
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    procs = [subprocess.Popen([sys.executable, str(tmp_path / "child.py"), str(tmp_path / "spec.pkl")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    expected = hashlib.sha256(b"".join(arrays[k].tobytes() for k in ("x_train", "y_train", "x_test", "y_test")))
    assert [out.strip() for out, _ in outputs] == [expected.hexdigest()] * 2
    for name in files:
        assert len(mirrored.requests_for(f"/mnist/{name}")) == 1, name
    folder = cache.dataset_dir("mnist")
    assert sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != ".lock") == sorted(files)


def test_a_killed_download_leaves_nothing_trusted_and_resumes(mirrored, tmp_path, install):
    arrays, raw = idx_dataset(seed=10, n_train=3000, n_test=10)
    files = {name: gz(data, level=1) for name, data in raw.items()}
    serve(mirrored, "mnist", files)
    mirrored.throttle = 0.05  # ~2.5 s for the images: time to kill the process mid-file
    spec = install(idx_spec(registry.MNIST, raw, by="file", files=files, n_train=3000, n_test=10))
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    (tmp_path / "child.py").write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(tmp_path / "child.py"), str(tmp_path / "spec.pkl")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    part = cache.dataset_dir("mnist") / "train-images-idx3-ubyte.gz.part"
    deadline = time.monotonic() + 30
    while not (part.exists() and part.stat().st_size > 100_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.kill()  # SIGKILL: no cleanup, and the lock dies with the process
    child.wait()
    assert part.exists() and not (cache.dataset_dir("mnist") / "train-images-idx3-ubyte.gz").exists()
    mirrored.throttle = 0.0
    (x_train, _), _ = load_dataset("mnist", progress=False)
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    ranges = mirrored.requests_for("/mnist/train-images-idx3-ubyte.gz")
    assert ranges[0] is None and ranges[-1].startswith("bytes=")
