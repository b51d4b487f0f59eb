"""Child processes cnnlab starts never import a file from the user's current folder."""

import multiprocessing
import os
import subprocess
import sys

import pytest

from cnnlab.children import python_module_command, spawned_without_current_folder


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


@pytest.mark.skipif(sys.version_info < (3, 11), reason="PYTHONSAFEPATH exists from Python 3.11")
def test_spawned_workers_skip_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    context = multiprocessing.get_context("spawn")
    markers = [plant(tmp_path, name) for name in ("random", "tempfile", "socket", "pickle")]

    def spawn_one() -> int:
        process = context.Process(target=os.getpid)
        process.start()
        process.join(60)
        return process.exitcode

    spawn_one()  # may fail: the planted modules lack what the real ones hold
    assert any(m.exists() for m in markers)  # the control: plain spawn imports one of them
    for m in markers:
        m.unlink(missing_ok=True)
    before = os.environ.get("PYTHONSAFEPATH")
    with spawned_without_current_folder():
        assert spawn_one() == 0
    assert not any(m.exists() for m in markers)
    assert os.environ.get("PYTHONSAFEPATH") == before
