"""The command line's exit skips the interpreter's teardown but nothing anybody can see:
buffered output, atexit handlers, running threads, the exit code, a closed pipe."""

import json
import os
import subprocess
import sys


def run_python(code: str, cwd, shell_tail: str = "") -> subprocess.CompletedProcess:
    """`code` run as a script, its output buffered as a pipe has it by default."""
    script = cwd / "script.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    argv = ["bash", "-c", f"{sys.executable} {script} {shell_tail}"] if shell_tail else [sys.executable, str(script)]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_buffered_output_and_atexit_handlers_survive_and_the_code_is_kept(tmp_path):
    done = run_python(
        "import atexit, sys\n"
        "from cnnlab.quick_exit import quick_exit\n"
        "atexit.register(lambda: print('handler ran'))\n"
        "print('x' * 50_000)\n"  # a pipe: block-buffered, not yet written
        "sys.stderr.write('to stderr')\n"
        "quick_exit(3)\n",
        tmp_path,
    )
    assert done.returncode == 3
    assert done.stdout == "x" * 50_000 + "\nhandler ran\n"
    assert done.stderr == "to stderr"


def test_what_c_code_printed_is_flushed_too(tmp_path):
    done = run_python(
        "import ctypes\n"
        "from cnnlab.quick_exit import quick_exit\n"
        "ctypes.CDLL(None).printf(b'from C\\n')\n"  # a pipe: stays in the C library's buffer
        "quick_exit(0)\n",
        tmp_path,
    )
    assert done.returncode == 0 and done.stdout == "from C\n", done


def test_a_thread_still_working_is_waited_for(tmp_path):
    done = run_python(
        "import threading, time, pathlib\n"
        "from cnnlab.quick_exit import quick_exit\n"
        "def work():\n"
        "    time.sleep(0.3)\n"
        "    pathlib.Path('written').write_text('done')\n"
        "threading.Thread(target=work).start()\n"
        "quick_exit(0)\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "written").read_text() == "done"


def test_a_closed_pipe_ends_quietly_with_141(tmp_path):
    done = run_python(
        "import time\n"
        "from cnnlab.quick_exit import quick_exit\n"
        "print('still in the buffer')\n"
        "time.sleep(1)\n"  # the reader has gone by now: the flush meets a closed pipe
        "quick_exit(0)\n",
        tmp_path, shell_tail="| true; echo ${PIPESTATUS[0]}",
    )
    assert done.stdout.strip() == "141"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_cnnlab_train_from_the_command_line_leaves_a_complete_run(tmp_path):
    (tmp_path / "tiny.txt").write_text("Conv2D(4, (3, 3), activation='relu')\nFlatten()\nDense(10)\n")
    done = subprocess.run(
        [sys.executable, "-m", "cnnlab", "train", "tiny.txt", "--dataset", "digits", "--epochs", "1",
         "--quiet", "--threads", "1", "--name", "r"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("Saved runs/r/")
    run = tmp_path / "runs" / "r"
    assert json.loads((run / "config.json").read_text())["status"] == "finished"
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] > 0
    png = (run / "plots" / "training_curves.png").read_bytes()
    assert png.startswith(b"\x89PNG") and png.endswith(b"IEND\xaeB`\x82")


def test_a_profiler_still_gets_to_write_its_results(tmp_path):
    (tmp_path / "main.py").write_text("from cnnlab.quick_exit import quick_exit\nquick_exit(0)\n")
    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", "out.prof", "main.py"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.prof").stat().st_size > 0
