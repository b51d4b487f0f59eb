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

A kernel may link to a library: onednn.c to oneDNN, from the onednn-devel-cpu-gomp
wheel (headers, and libdnnl built for GNU OpenMP) installed into this Python's prefix.

Where there is no compiler, the build fails, a library is missing, or CNNLAB_NATIVE=0 is set,
`load` returns None and says why in `unavailable_reason`; callers then use torch's operators.
No compiler is said once on stderr. On macOS, /usr/bin/cc without Apple's command line tools
is a stub that opens an install dialog, so it counts as no compiler. CNNLAB_ONEDNN=0 acts
as if the oneDNN wheel were absent (as on macOS and Windows, which have no such wheel).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import site
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from cnnlab.files import atomic_write
from cnnlab.home import cache_root

SOURCE_DIR = Path(__file__).parent
# the CPU the kernels are compiled for: this one, or e.g. CNNLAB_MARCH=haswell (AVX2, FMA) to
# build and measure what a laptop without AVX-512 runs
MARCH = os.environ.get("CNNLAB_MARCH", "native").strip() or "native"
if not MARCH.replace("-", "").replace("_", "").isalnum():
    MARCH = "native"  # a value gcc would not take as one -march word
FLAGS = ("-O3", f"-march={MARCH}", "-std=c99", "-shared", "-fPIC")
BUILD_TIMEOUT = 120.0  # s
BUILD_RECIPE = 2  # part of every library's name: bump when _build's command changes
_reasons: dict[str, str] = {}


def compiler() -> str | None:
    """$CC, else the first of cc, gcc, clang on PATH; None for Apple's stub without its tools."""
    if os.environ.get("CC"):
        return os.environ["CC"]
    found = next((path for name in ("cc", "gcc", "clang") if (path := shutil.which(name))), None)
    if found is not None and _apple_stub(found):
        return None
    return found


def _apple_stub(path: str) -> bool:
    """macOS's /usr/bin compilers are stubs until the command line tools are installed."""
    if platform.system() != "Darwin" or not path.startswith("/usr/bin/"):
        return False
    return not _apple_tools_installed()


@cache
def _apple_tools_installed() -> bool:
    try:
        done = subprocess.run(["xcode-select", "-p"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def no_compiler_reason() -> str:
    if platform.system() == "Darwin":
        return ("no C compiler (/usr/bin/cc is Apple's stub until the command line tools are "
                "installed: xcode-select --install)")
    return "no C compiler (cc, gcc or clang) on PATH"


def flag_sets(name: str | None = None) -> list[tuple[str, ...]]:
    """The flags to try for kernel `name`, best first: with OpenMP where torch ships libgomp,
    then serial; a kernel that links to a library gets its link flags (LibraryMissing if absent)."""
    flags = FLAGS + _OWN_FLAGS.get(name, ())
    if name in _LINKED:
        return [flags + _LINKED[name]()]
    return ([flags + ("-fopenmp",)] if _torch_ships_gnu_openmp() else []) + [flags]


def onednn_prefix() -> Path | None:
    """Where the onednn-devel-cpu-gomp wheel put include/ and lib/ (this Python's prefix);
    None where it is not installed, or with CNNLAB_ONEDNN=0."""
    if os.environ.get("CNNLAB_ONEDNN", "1").strip() == "0":
        return None
    for prefix in (sys.prefix, site.getuserbase()):
        root = Path(prefix)
        if (root / "include" / "oneapi" / "dnnl" / "dnnl.h").exists() and (root / "lib" / "libdnnl.so.3").exists():
            return root
    return None


class LibraryMissing(Exception):
    """A library a kernel links to is not installed; the message says how to install it."""


def _onednn_link_flags() -> tuple[str, ...]:
    root = onednn_prefix()
    if root is None:
        raise LibraryMissing("oneDNN is not installed (pip install onednn-devel-cpu-gomp)")
    return (f"-I{root / 'include'}", str(root / "lib" / "libdnnl.so.3"), f"-Wl,-rpath,{root / 'lib'}")


# kernels that link to a library, and the flags that do it
_LINKED = {"onednn": _onednn_link_flags}
# flags of one kernel: adam.c's loops vectorise only when sqrtf need not set errno (a negative
# input gives NaN either way)
_OWN_FLAGS = {"adam": ("-fno-math-errno",)}


def library_path(name: str, cc: str, flags: tuple[str, ...] = FLAGS) -> Path:
    source = (SOURCE_DIR / f"{name}.c").read_bytes()
    digest = hashlib.sha256()
    recipe = f"{BUILD_RECIPE} {' '.join(flags)}"
    for part in (source, recipe.encode(), cc.encode(), _cpu_signature().encode()):
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
        _reasons[name] = no_compiler_reason()
        _announce_no_compiler()
        return None
    try:
        candidates = flag_sets(name)
    except LibraryMissing as e:
        _reasons[name] = str(e)
        return None
    for flags in candidates:
        path = library_path(name, cc, flags)
        try:
            if path.exists():
                if _intact(path):  # a truncated or altered .so would crash the process when mapped
                    try:
                        return ctypes.CDLL(str(path))
                    except OSError:  # a cached build that no longer loads: build it again
                        pass
                path.unlink(missing_ok=True)
            _announce_build()
            _build(SOURCE_DIR / f"{name}.c", path, cc, flags)
            return ctypes.CDLL(str(path))
        except (OSError, subprocess.SubprocessError) as e:
            _reasons[name] = f"could not build {name}.c with {cc}: {_first_line(e)}"
    return None


def bound(name: str, signatures: dict[str, tuple[list, object]]) -> ctypes.CDLL | None:
    """`load(name)` with its functions' ctypes (argtypes, restype) set, once; None if unavailable."""
    lib = load(name)
    if lib is not None and not getattr(lib, "_cnnlab_bound", False):
        for function, (argtypes, restype) in signatures.items():
            getattr(lib, function).argtypes = argtypes
            getattr(lib, function).restype = restype
        lib._cnnlab_bound = True
    return lib


def unavailable_reason(name: str) -> str | None:
    return _reasons.get(name)


def _digest_path(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def _intact(library: Path) -> bool:
    """The cached library has the bytes recorded when cnnlab built it."""
    try:
        recorded = _digest_path(library).read_text(encoding="ascii").strip()
        return hashlib.sha256(library.read_bytes()).hexdigest() == recorded
    except (OSError, UnicodeDecodeError):
        return False


@cache
def _announce_build() -> None:
    """Say once per process why the first run pauses (several seconds of compiling)."""
    print(f"cnnlab: compiling cnnlab's CPU kernels, once: they are kept in {cache_root() / 'native'}",
          file=_notice_stream(), flush=True)


def _notice_stream():
    # Jupyter paints stderr as an error: in a notebook a notice goes with the cell's output
    return sys.stdout if type(sys.stderr).__module__.startswith("ipykernel") else sys.stderr


@cache
def _announce_no_compiler() -> None:
    """Say once per process that training runs on torch's operators, and why."""
    print(f"cnnlab: note: {no_compiler_reason()}; cnnlab uses torch's operators instead of its "
          "CPU kernels (the same results, slower for small models)", file=_notice_stream(), flush=True)


def _build(source: Path, target: Path, cc: str, flags: tuple[str, ...]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}-", suffix=".so")
    os.close(fd)
    try:
        # flags after the source: linker inputs must follow the objects that need them
        subprocess.run([cc, "-o", temp, str(source), *flags], check=True, capture_output=True,
                       text=True, timeout=BUILD_TIMEOUT)
        atomic_write(_digest_path(target), hashlib.sha256(Path(temp).read_bytes()).hexdigest() + "\n")
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
