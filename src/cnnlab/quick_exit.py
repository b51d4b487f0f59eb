"""Ending a cnnlab process without the interpreter's teardown of every module it loaded.

After `import torch`, Python's normal exit spends longer freeing torch's thousand modules
and running libtorch's static destructors than a tiny `cnnlab train` spends training; a
learner waits for it at every command. `quick_exit` keeps what a normal exit does that
anybody can see — standard streams flushed, atexit handlers run (logging, multiprocessing,
temporary folders), non-daemon threads waited for, a profiler or tracer left to write its
results — and then ends the process at once.
Only the command line and cnnlab's own child processes use it: a Python caller of
`cnnlab.cli.main` keeps its interpreter.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

BROKEN_PIPE = 141  # the shell's code for a writer whose reader went away (128 + SIGPIPE)
WRITE_FAILED = 2  # cnnlab's code for an error, here output that could not be written
_FAILED: set[str] = set()  # the streams whose failure was said already


def quick_exit(code: int) -> NoReturn:
    """Exit with `code` once the streams are flushed and the atexit handlers have run."""
    if _threads_still_running():
        sys.exit(code)  # a normal exit waits for them; their work must not be cut short
    if sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)  # a profiler, debugger or coverage tool writes its results after this
    code = _flush_streams(code)
    run_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's; other Pythons exit normally
    if run_handlers is None:
        sys.exit(code)
    run_handlers()
    code = _flush_streams(code)
    _flush_c_streams()
    os._exit(code)


def _flush_c_streams() -> None:
    """What C code printed (a kernel library's printf) and is still in the C library's buffers:
    exit() flushes it, os._exit would not."""
    if "ctypes" not in sys.modules:  # nothing loaded C code that prints through it
        return
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library to ask (Windows): nothing to do
        pass


def _threads_still_running() -> bool:
    main = threading.main_thread()
    return any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate())


def _flush_streams(code: int) -> int:
    """Flush stdout and stderr; a closed reader (`cnnlab models | head -1`) ends quietly with 141,
    output the disk refused (full) is an error, said once, exit 2."""
    for name, stream in (("output", sys.stdout), ("error", sys.stderr)):
        if stream is None:
            continue
        try:
            stream.flush()
        except BrokenPipeError:
            code = code or BROKEN_PIPE
        except ValueError:  # a stream closed by the code that ran: nothing left to write
            pass
        except OSError as e:  # the interpreter's own exit would say so too (exit 120)
            if name not in _FAILED:
                _FAILED.add(name)
                _say(f"cnnlab: error: standard {name}: {e.strerror or e}; the output is cut short: "
                     "check the free disk space")
            code = code or WRITE_FAILED
    return code


def _say(message: str) -> None:
    """A line to stderr's file descriptor, past a buffer that may be the one failing."""
    try:
        os.write(2, (message + "\n").encode(errors="replace"))
    except OSError:
        pass
