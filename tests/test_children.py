"""Child processes cnnlab starts never import a file from the user's current folder."""

import os
import subprocess
import sys

import pytest

from cnnlab.children import python_module_command


def plant(folder, module: str):
    """A `module.py` in `folder` that leaves a file behind when it is imported; that file."""
    marker = folder / f"{module}-was-run"
    (folder / f"{module}.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    return marker


def test_the_painter_command_skips_the_current_folder(tmp_path):
    marker = plant(tmp_path, "json")
    # the painter imports json; `python -m` would take the planted one (the control shows it)
    subprocess.run([sys.executable, "-m", "json.tool", os.devnull], cwd=tmp_path, capture_output=True)
    assert marker.exists()
    marker.unlink()
    done = subprocess.run(python_module_command("cnnlab.report.painter"), cwd=tmp_path, input="",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


def test_the_painter_command_runs_the_module_as_main(tmp_path):
    out = subprocess.run(python_module_command("json.tool"), cwd=tmp_path, input='{"a": 1}',
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and '"a": 1' in out.stdout


SPAWN_ONE = """\
import multiprocessing, os, sys
from cnnlab.children import spawned_without_current_folder

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    def spawn():
        process = context.Process(target=os.getpid)
        process.start()
        process.join(60)
        return process.exitcode
    if sys.argv[1] == "safe":
        with spawned_without_current_folder():
            print(spawn())
    else:
        print(spawn())
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="PYTHONSAFEPATH exists from Python 3.11")
def test_spawned_workers_skip_the_current_folder(tmp_path):
    script = tmp_path / "spawn_one.py"
    script.write_text(SPAWN_ONE)
    names = ("random", "tempfile", "socket", "pickle")

    def run(mode):
        # each in its own folder and process: multiprocessing's helper processes end with it
        folder = tmp_path / mode
        folder.mkdir()
        markers = [plant(folder, name) for name in names]
        done = subprocess.run([sys.executable, str(script), mode], cwd=folder, capture_output=True,
                              text=True, timeout=120)
        return done, [m for m in markers if m.exists()]

    _, planted_run = run("plain")
    assert planted_run  # the control: a plain spawn imports one of them
    done, planted_run = run("safe")
    assert done.stdout.strip() == "0", done.stderr
    assert planted_run == []
