"""Where dataset files live: the cache root, other folders that may already hold copies
(Debian's package, Keras's cache, a folder filled by hand), the per-dataset lock, and the
decoded arrays kept as .npy next to the sources so the next load is near-instant."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.registry import DatasetSpec, Source, SourceFile
from cnnlab.files import atomic_write
from cnnlab.home import cache_root

if TYPE_CHECKING:
    from filelock import FileLock

DECODED_VERSION = 2  # bump when decoding or the manifest changes, so old .npy files are rebuilt
LOCK_TIMEOUT = 3600.0  # s; another process may be downloading 170 MB on a slow link


def dataset_dir(name: str) -> Path:
    return cache_root() / name


def keras_datasets_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser() / "datasets"


def search_dirs(spec: DatasetSpec, source: Source) -> list[Path]:
    """Folders searched for a source's files, in order: our cache, $CNNLAB_DATA_DIR (and its
    <name> subfolder), then the source's known places (Debian, Keras's cache)."""
    dirs = [dataset_dir(spec.name)]
    if os.environ.get("CNNLAB_DATA_DIR"):
        user = Path(os.environ["CNNLAB_DATA_DIR"]).expanduser()
        dirs += [user / spec.name, user]
    for place in source.discover:
        if place.startswith("~/.keras/datasets"):
            dirs.append(keras_datasets_dir() / place.removeprefix("~/.keras/datasets").lstrip("/"))
        else:
            dirs.append(Path(place).expanduser())
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def candidates(file: SourceFile, dirs: list[Path]) -> list[Path]:
    """Existing files that may be `file` (by its name or an alias), in search order."""
    found = []
    for d in dirs:
        for name in (file.name, *file.aliases):
            p = d / name
            if p.is_file():
                found.append(p)
    return found


def is_ours(path: Path, spec: DatasetSpec) -> bool:
    """Files in our own cache folder may be deleted when bad; other folders are read-only."""
    try:
        return path.resolve().is_relative_to(dataset_dir(spec.name).resolve())
    except OSError:
        return False


def dataset_lock(name: str) -> FileLock:
    d = dataset_dir(name)
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(f"cannot create the cache folder {d} ({e.strerror}); set CNNLAB_HOME "
                           "to a writable folder") from None
    # imported only where a lock is taken: most loads are from the decoded cache
    from filelock import FileLock

    return FileLock(str(d / ".lock"), timeout=LOCK_TIMEOUT)


def locked(name: str):
    """Context manager: hold the dataset's lock (one download/decode at a time across processes)."""
    lock = dataset_lock(name)

    class _Held:
        def __enter__(self):
            from filelock import Timeout

            try:
                lock.acquire()
            except Timeout:
                raise DatasetError(f"another process has held {lock.lock_file} for over {LOCK_TIMEOUT:.0f} s; "
                                   "if none is running, delete that file") from None
            return lock

        def __exit__(self, *exc):
            lock.release()

    return _Held()


# --- decoded arrays --------------------------------------------------------------------------
def decoded_dir(name: str) -> Path:
    return dataset_dir(name) / "decoded"


def load_decoded(name: str, digests: dict[str, str] | None = None) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when absent, stale or damaged (then they are rebuilt).
    `digests` receives each array's array_digest, computed here to verify it."""
    folder = decoded_dir(name)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("version") != DECODED_VERSION:
            return None
        arrays = {}
        for key, meta in manifest["arrays"].items():
            path = folder / f"{key}.npy"
            if path.stat().st_size != meta["bytes"]:
                return None
            array = np.load(path, allow_pickle=False)
            if list(array.shape) != meta["shape"] or array.dtype.str != meta["dtype"]:
                return None
            if array_digest(array) != meta["sha256"]:  # changed since it was decoded from verified files
                return None
            arrays[key] = array
        if digests is not None:
            digests.update((key, meta["sha256"]) for key, meta in manifest["arrays"].items())
        return arrays
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def decoded_info(name: str) -> dict | None:
    try:
        return json.loads((decoded_dir(name) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def array_digest(array: np.ndarray) -> str:
    """sha256 of an array's values in C order (a fraction of the time np.load takes)."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(array)).cast("B")).hexdigest()


def save_decoded(name: str, arrays: dict[str, np.ndarray], provenance: dict) -> None:
    """Write arrays as .npy (each atomically), then the manifest that vouches for them."""
    folder = decoded_dir(name)
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / "manifest.json"
    manifest_path.unlink(missing_ok=True)  # nothing is trusted while the arrays change
    entries = {}
    for key, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        final = atomic_write(folder / f"{key}.npy", buffer.getbuffer())
        entries[key] = {"shape": list(array.shape), "dtype": array.dtype.str, "bytes": final.stat().st_size,
                        "sha256": array_digest(array)}
    atomic_write(manifest_path, json.dumps({"version": DECODED_VERSION, "arrays": entries, **provenance}, indent=1))


def disk_usage(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0
