"""Flushing subnormal floats to zero on every thread torch computes on (fpenv.c).

torch.set_flush_denormal sets the calling thread only; torch's OpenMP workers keep their own
setting and go on computing subnormals slowly. The C function sets this thread and, through
a parallel region of the same (GNU OpenMP) runtime torch uses, each worker of its pool.
Without a compiler, or on a CPU without the setting, torch's own call is used.
"""

from __future__ import annotations

import ctypes

import torch

from cnnlab.engine.native import compiler


def set_flush_denormal(on: bool) -> bool:
    """Flush (or stop flushing) subnormals on this thread and torch's workers; False if impossible."""
    lib = library()
    if lib is not None and lib.set_flush_denormal(int(on)):
        return True
    return torch.set_flush_denormal(on)


def library():
    return compiler.bound("fpenv", {"set_flush_denormal": ([ctypes.c_int], ctypes.c_int)})
