"""Python child processes that never import a file from the user's current folder.

`python -m`, `python -c` and multiprocessing's spawn put the current folder first on the
child's sys.path, so a learner's `random.py`, `json.py` or `code.py` lying there would be
imported, that is run, in place of the standard module: cnnlab promises it never runs a
model file it reads. Every child cnnlab starts goes through this module.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# `-c` puts '' (the current folder) first; dropping it before any other import closes the gap
# on every Python version, where `-P`/PYTHONSAFEPATH exist from 3.11 only.
_RUN_MODULE = (
    "import sys\n"
    "if sys.path and sys.path[0] == '': del sys.path[0]\n"
    "import runpy\n"
    "runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n"
)


def python_module_command(module: str) -> list[str]:
    """The command running `module` as `python -m` would, without the current folder on sys.path."""
    return [sys.executable, "-c", _RUN_MODULE.format(module=module)]


@contextmanager
def spawned_without_current_folder() -> Iterator[None]:
    """Within it, processes multiprocessing spawns leave the current folder off sys.path
    (PYTHONSAFEPATH, Python 3.11 and later); the caller's environment is restored after."""
    before = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = before
