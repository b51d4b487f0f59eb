"""Hostile review of the command line's quick exit: output that cannot be written is not
reported as a success."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")


def buffered_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def test_output_lost_to_a_full_disk_is_an_error_said_once(tmp_path):
    (tmp_path / "script.py").write_text(
        "import atexit\n"
        "from cnnlab.quick_exit import quick_exit\n"
        "atexit.register(lambda: print('more'))\n"
        "print('still in the buffer')\n"
        "quick_exit(0)\n")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, env=buffered_env(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == ("cnnlab: error: standard output: No space left on device; the output is cut "
                           "short: check the free disk space\n")


def test_cnnlab_models_into_a_full_disk_exits_2(tmp_path):
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "cnnlab", "models"], cwd=tmp_path, env=buffered_env(),
                              stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr


def test_importing_cnnlab_main_from_python_runs_no_command_and_ends_nothing(tmp_path):
    # a documentation or test tool that imports every module must get control back
    done = subprocess.run(
        [sys.executable, "-c", "import importlib\nimportlib.import_module('cnnlab.__main__')\nprint('back')"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "back\n"), done.stderr


def test_python_dash_m_cnnlab_still_runs_the_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cnnlab", "--version"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "cnnlab 0.1.0\n"), done.stderr
