"""A second process that draws some of a run's pictures while this one does the rest.

Importing matplotlib and drawing are most of what `cnnlab train` and `cnnlab report` spend
besides their work. A painter is started before this process imports torch or matplotlib,
so it loads matplotlib on another core meanwhile; it then waits for one job (a run folder
and the picture keys to draw there), draws them with the same code into the same files,
and exits. Where no second core is free, matplotlib is loaded already, the process cannot
start or the job fails, `start` gives None or `finish` gives False and the caller draws the
pictures itself: the files are the same either way.

    painter = Painter.start()          # first thing, before the heavy imports
    painter.draw(run_dir, REPORT_JOB, ("png",))   # as soon as the inputs are final
    ... draw the other pictures ...
    if not painter.finish(): ... draw them here ...

`cnnlab report` and `plot` give the job at once (a run folder's metrics are final), so the
painter draws as soon as matplotlib is loaded; `cnnlab train` gives the curves after the
last epoch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from cnnlab.children import python_module_command

DONE = "drawn"  # the painter's last line when every picture it was given is written
TIMEOUT = 600  # seconds to wait for a painter before drawing its pictures here
REPORT_JOB = ("confusion_matrix",)  # what a painter draws for a report: about as long as the rest


def spare_core(loadavg: str | None = None) -> bool:
    """True when a second core is free for this process right now: on a busy machine a
    painter would only load matplotlib twice. `loadavg`: /proc/loadavg's text (read if None)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if loadavg is None:
        try:
            with open("/proc/loadavg") as f:
                loadavg = f.read()
        except OSError:
            return cores >= 2  # no load figure (not Linux): the cores alone
    try:
        others = int(loadavg.split()[3].split("/")[0]) - 1  # runnable tasks now, this process excluded
    except (IndexError, ValueError):
        return cores >= 2
    return cores - others >= 2


class Painter:
    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.keys: list[str] = []
        self.done = False

    @classmethod
    def start(cls) -> Painter | None:
        """A painter loading matplotlib, or None where it would not save time."""
        if "matplotlib.figure" in sys.modules or not spare_core():
            return None
        return cls.launch()

    @classmethod
    def launch(cls) -> Painter | None:
        """A painter whether or not it saves time; None if the process cannot start."""
        try:
            process = subprocess.Popen(python_module_command("cnnlab.report.painter"), text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except (OSError, ValueError):  # no usable sys.executable (an embedded Python)
            return None
        return cls(process)

    def draw(self, run_dir: str | Path, keys: Sequence[str], formats: Sequence[str]) -> None:
        """Give the painter its one job; it draws while the caller goes on."""
        assert not self.keys, "a painter draws one job"
        self.keys = list(keys)
        job = {"run": str(run_dir), "keys": self.keys, "formats": list(formats)}
        stdin, self.process.stdin = self.process.stdin, None  # communicate() must not flush it again
        try:
            stdin.write(json.dumps(job) + "\n")
            stdin.close()
        except OSError:  # it has died already: finish() says so
            pass

    def finish(self) -> bool:
        """Wait for the job; True when the painter wrote every picture it was given."""
        try:
            out, _ = self.process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.close()
            return False
        self.done = True
        return self.process.returncode == 0 and out.splitlines()[-1:] == [DONE]

    def close(self) -> None:
        """Stop the painter if it still runs (no job, or a job no longer wanted)."""
        if self.done:
            return
        self.done = True
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()


def _serve() -> int:
    """The painter's side: load matplotlib, wait for the job, draw it."""
    import matplotlib.figure  # noqa: F401  (the point: loaded while the caller works)

    from cnnlab.report.run_pictures import draw_run_pictures
    from cnnlab.rundir import load_run

    line = sys.stdin.readline()
    if not line:
        return 0  # closed without a job
    job = json.loads(line)
    keys = job["keys"]
    pictures = draw_run_pictures(load_run(job["run"]), samples=False, mistakes=False,
                                 formats=tuple(job["formats"]), keys=keys)
    if sorted(p.key for p in pictures.pictures) != sorted(keys):
        return 1  # something it was asked for cannot be drawn: the caller finds out why
    print(DONE)
    return 0


if __name__ == "__main__":
    from cnnlab.quick_exit import quick_exit

    # the caller waits for this process to end; its files are written and closed
    quick_exit(_serve())
