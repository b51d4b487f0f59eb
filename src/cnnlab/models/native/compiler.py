"""Small C kernels, compiled on first use with the machine's C compiler and cached.

A kernel is one plain C file next to this module (no Python or torch headers, so it builds
in well under a second). The shared library goes to `<cnnlab home>/native/`, named by a
digest of the source, the flags, the compiler and this CPU's feature flags: it is built
with -march=native, and a library built for another CPU must never be loaded here.
Concurrent builds (sweep workers) each write a temporary file and rename it into place.

Kernels parallelise with OpenMP only where torch ships GNU OpenMP itself (torch/lib/
libgomp.so.1, as the Linux wheels do): the library then links to the runtime torch has
already loaded and runs on torch's thread pool. Anywhere else they are built serial, so a
second OpenMP runtime never competes with torch's threads.

Where there is no compiler, the build fails, or CNNLAB_NATIVE=0 is set, `load` returns
None and says why in `unavailable_reason`; callers then use torch's own operators.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from cnnlab.home import cache_root

SOURCE_DIR = Path(__file__).parent
FLAGS = ("-O3", "-march=native", "-std=c99", "-shared", "-fPIC")
BUILD_TIMEOUT = 120.0  # s
_reasons: dict[str, str] = {}


def compiler() -> str | None:
    """$CC, else the first of cc, gcc, clang on PATH."""
    if os.environ.get("CC"):
        return os.environ["CC"]
    return next((path for name in ("cc", "gcc", "clang") if (path := shutil.which(name))), None)


def flag_sets() -> list[tuple[str, ...]]:
    """The flags to try, best first: with OpenMP where torch ships libgomp, then serial."""
    return ([FLAGS + ("-fopenmp",)] if _torch_ships_gnu_openmp() else []) + [FLAGS]


def library_path(name: str, cc: str, flags: tuple[str, ...] = FLAGS) -> Path:
    source = (SOURCE_DIR / f"{name}.c").read_bytes()
    digest = hashlib.sha256()
    for part in (source, " ".join(flags).encode(), cc.encode(), _cpu_signature().encode()):
        digest.update(part + b"\0")
    return cache_root() / "native" / f"{name}-{digest.hexdigest()[:16]}.so"


@cache
def load(name: str) -> ctypes.CDLL | None:
    """The compiled library for `SOURCE_DIR/name.c`, built if needed; None if unavailable."""
    if os.environ.get("CNNLAB_NATIVE", "1").strip() == "0":
        _reasons[name] = "CNNLAB_NATIVE=0"
        return None
    cc = compiler()
    if cc is None:
        _reasons[name] = "no C compiler (cc, gcc or clang) on PATH"
        return None
    for flags in flag_sets():
        path = library_path(name, cc, flags)
        try:
            if not path.exists():
                _build(SOURCE_DIR / f"{name}.c", path, cc, flags)
            return ctypes.CDLL(str(path))
        except (OSError, subprocess.SubprocessError) as e:
            _reasons[name] = f"could not build {name}.c with {cc}: {_first_line(e)}"
    return None


def unavailable_reason(name: str) -> str | None:
    return _reasons.get(name)


def _build(source: Path, target: Path, cc: str, flags: tuple[str, ...]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".so")
    os.close(fd)
    try:
        subprocess.run([cc, *flags, "-o", temp, str(source)], check=True, capture_output=True,
                       text=True, timeout=BUILD_TIMEOUT)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _torch_ships_gnu_openmp() -> bool:
    import torch

    return platform.system() == "Linux" and (Path(torch.__file__).parent / "lib" / "libgomp.so.1").exists()


def _cpu_signature() -> str:
    features = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            features = next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return f"{platform.machine()} {platform.system()} {features.strip()}"


def _first_line(error: Exception) -> str:
    text = getattr(error, "stderr", None) or str(error)
    return (text.strip().splitlines() or ["unknown error"])[0]
