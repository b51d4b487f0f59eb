"""`cnnlab sweep --backend ray`: Ray tasks on a local Ray instance the test starts, where ray
is installed; one clear message where it is not."""

import importlib.util
import json

import pytest
from helpers.sweeps import FAST

RAY_MISSING = importlib.util.find_spec("ray") is None
SWEEP = ["sweep", "tiny.txt", "--dataset", "digits", "--set", "dropout=0.1,0.5", "--name", "r",
         "--workers", "2", "--backend", "ray", *FAST]


@pytest.mark.skipif(not RAY_MISSING, reason="ray is installed")
def test_without_ray_the_ray_backend_is_one_message(workdir, cli):
    code, out, err = cli(*SWEEP)
    assert code == 2
    assert err == ("cnnlab: error: --backend ray needs the ray package (pip install ray); the default "
                   "backend (--backend local) needs nothing extra\n")
    assert not (workdir / "runs").exists()


@pytest.mark.skipif(RAY_MISSING, reason="ray is not installed (pip install ray)")
def test_the_sweep_runs_as_ray_tasks_on_a_local_instance(workdir, cli):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        code, out, err = cli(*SWEEP)
    finally:
        ray.shutdown()
    assert code == 0, err
    assert "(Ray tasks)" in out
    sweep = workdir / "runs" / "r"
    assert json.loads((sweep / "sweep.json").read_text())["backend"] == "ray"
    for name in ("dropout=0.1,seed=0", "dropout=0.5,seed=0"):
        assert json.loads((sweep / name / "config.json").read_text())["status"] == "finished"
        assert (sweep / "logs" / f"{name}.log").read_text().startswith("Training ")
    assert (sweep / "index.html").is_file()
