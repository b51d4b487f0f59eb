"""Byte formats: gzip, IDX, CIFAR binary, CIFAR python (restricted unpickling), tar extraction.

Every reader rejects bad bytes with a DatasetError that names the file and what is wrong.
"""

from __future__ import annotations

import gzip
import importlib
import io
import math
import pickle
import struct
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from cnnlab.datasets.errors import DatasetError


class FormatError(DatasetError):
    """Bytes that are not what the format promises (truncated, wrong magic, bad header...)."""


# --- gzip ------------------------------------------------------------------------------------
GZIP_MAGIC = b"\x1f\x8b"


MAX_CONTENT = 1 << 30  # bytes a gzip file may expand to: every dataset file here is far smaller


def gunzip_if_needed(data: bytes, *, what: str, limit: int = MAX_CONTENT) -> bytes:
    """The content of `data`: decompressed if it is gzip (never past `limit` bytes: a small
    file can expand to gigabytes), as it is otherwise."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            content = f.read(limit + 1)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        raise FormatError(f"{what}: damaged gzip data ({e}); delete the file so it is fetched again") from e
    if len(content) > limit:
        raise FormatError(f"{what}: expands to more than {limit:,} bytes, far more than any dataset file; "
                          "delete it so it is fetched again")
    return content


def read_content(path: Path) -> bytes:
    """A file's bytes, gunzipped if it is gzip."""
    return gunzip_if_needed(Path(path).read_bytes(), what=str(path))


# --- IDX (MNIST's format) --------------------------------------------------------------------
# magic = 0x00 0x00 <dtype code> <number of dimensions>, then one big-endian uint32 per dimension
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def parse_idx(data: bytes, *, what: str = "IDX data") -> np.ndarray:
    """Decode IDX bytes into an array (native byte order, writeable); FormatError otherwise."""
    if len(data) < 4:
        raise FormatError(f"{what}: {len(data)} bytes is too short for an IDX header (4 bytes)")
    if data[0] != 0 or data[1] != 0:
        raise FormatError(f"{what}: not an IDX file (magic number starts {data[:2].hex()}, expected 0000)")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        raise FormatError(f"{what}: unknown IDX dtype code 0x{code:02x} (known: 08 09 0b 0c 0d 0e)")
    if ndim == 0:
        raise FormatError(f"{what}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise FormatError(f"{what}: truncated IDX header ({len(data)} bytes, the {ndim} dimensions need {header})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = IDX_DTYPES[code]
    expected = header + math.prod(dims) * dtype.itemsize
    if len(data) != expected:
        shape = "x".join(map(str, dims))
        raise FormatError(
            f"{what}: {len(data)} bytes, but an IDX array of shape {shape} and dtype {dtype.name} "
            f"takes {expected}: the file is {'truncated' if len(data) < expected else 'too long'}")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def encode_idx(array: np.ndarray) -> bytes:
    """IDX bytes for `array` (the inverse of parse_idx; used by tests and tools)."""
    array = np.asarray(array)
    codes = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None or array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"cannot encode dtype {array.dtype} with {array.ndim} dimensions as IDX")
    big = array.astype(IDX_DTYPES[code], copy=False)
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + big.tobytes()


# --- CIFAR binary ----------------------------------------------------------------------------
CIFAR_PIXELS = 32 * 32 * 3  # one image: 1024 red, then 1024 green, then 1024 blue bytes


def parse_cifar_binary(data: bytes, *, label_bytes: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Records of <label_bytes labels><3072 pixels> -> x (N, 32, 32, 3), labels (N, label_bytes)."""
    record = label_bytes + CIFAR_PIXELS
    if len(data) == 0 or len(data) % record:
        raise FormatError(f"{what}: {len(data)} bytes is not a whole number of {record}-byte CIFAR records")
    rows = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    labels = rows[:, :label_bytes].copy()
    x = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()  # (N, H, W, C)
    return x, labels


# --- CIFAR python: pickles, through a restricted unpickler ------------------------------------
def _numpy_attr(module: str, name: str):
    # numpy >= 2 moved numpy.core to numpy._core; old pickles name the old module
    modern = module.replace("numpy.core", "numpy._core", 1)
    try:
        return getattr(importlib.import_module(modern), name)
    except ImportError:  # numpy < 2
        return getattr(importlib.import_module(module), name)


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # what protocol-2 pickles from Python 3 use for bytes; nothing but latin1 is admitted
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise FormatError(f"pickle asked for _codecs.encode with {encoding!r}: refused")
    return text.encode("latin1")


_PICKLE_ALLOWED = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_attr("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_attr("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): lambda: _numpy_attr("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): lambda: _numpy_attr("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"): lambda: _numpy_attr("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): lambda: _numpy_attr("numpy.core.numeric", "_frombuffer"),
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits numpy arrays, dtypes and plain containers; refuses every other global."""

    def __init__(self, file, *, what: str):
        super().__init__(file, encoding="bytes")
        self.what = what

    def find_class(self, module: str, name: str):
        factory = _PICKLE_ALLOWED.get((module, name))
        if factory is None:
            raise FormatError(
                f"{self.what}: refusing to unpickle {module}.{name}: CIFAR batches contain only "
                "numpy arrays, lists and dicts; this file is not a genuine CIFAR batch")
        return factory()


def restricted_unpickle(data: bytes, *, what: str):
    """Unpickle data that may only hold numpy arrays and plain containers; no object arrays."""
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), what=what).load()
    except FormatError:
        raise
    except Exception as e:  # noqa: BLE001 - any failure inside pickle is a bad file
        raise FormatError(f"{what}: not a readable pickle ({type(e).__name__}: {e})") from e
    _refuse_object_arrays(obj, what)
    return obj


def _refuse_object_arrays(obj, what: str) -> None:
    if isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        raise FormatError(f"{what}: pickle holds an object array; refused")
    if isinstance(obj, dict):
        for value in obj.values():
            _refuse_object_arrays(value, what)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            if isinstance(value, (np.ndarray, dict, list, tuple)):
                _refuse_object_arrays(value, what)


def parse_cifar_python_batch(data: bytes, *, label_keys: tuple[str, ...], what: str) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR python batch -> x (N, 32, 32, 3), labels (N, len(label_keys))."""
    batch = restricted_unpickle(data, what=what)
    if not isinstance(batch, dict):
        raise FormatError(f"{what}: expected a dict of arrays, got {type(batch).__name__}")
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    missing = [k for k in ("data", *label_keys) if k not in batch]
    if missing:
        raise FormatError(f"{what}: CIFAR batch lacks {', '.join(missing)} (has {', '.join(map(str, batch))})")
    pixels = np.asarray(batch["data"])
    if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.shape[1] != CIFAR_PIXELS:
        raise FormatError(f"{what}: 'data' is {pixels.dtype} {pixels.shape}, expected uint8 (N, {CIFAR_PIXELS})")
    columns = []
    for key in label_keys:
        labels = np.asarray(batch[key])
        if labels.shape != (pixels.shape[0],) or labels.dtype.kind not in "iu":
            raise FormatError(f"{what}: '{key}' has shape {labels.shape}, expected ({pixels.shape[0]},) integers")
        if labels.size and (labels.min() < 0 or labels.max() > 255):
            raise FormatError(f"{what}: '{key}' holds values outside 0..255")
        columns.append(labels.astype(np.uint8))
    x = pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
    return x, np.stack(columns, axis=1)


# --- tar archives ----------------------------------------------------------------------------
def _unsafe_reason(member: tarfile.TarInfo) -> str | None:
    path = PurePosixPath(member.name)
    if path.is_absolute() or member.name.startswith(("/", "\\")) or ":" in path.parts[0]:
        return "an absolute path"
    if ".." in path.parts:
        return "a '..' component"
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        base = path.parent if member.issym() else PurePosixPath()
        if target.is_absolute() or ".." in (base / target).parts:
            return f"a link to {member.linkname} outside the archive folder"
    if member.isdev() or member.isfifo():
        return "a device or pipe"
    return None


def extract_tar(archive: Path, dest: Path) -> None:
    """Extract `archive` into `dest` with the stdlib 'data' filter, after refusing any member
    with an absolute path, a '..' component, a link out, or a device."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                reason = _unsafe_reason(member)
                if reason:
                    raise FormatError(f"{archive}: member {member.name!r} has {reason}; refusing to extract")
            tar.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as e:
        raise FormatError(f"{archive}: unsafe member refused by the tar data filter ({e})") from e
    except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
        raise FormatError(f"{archive}: damaged tar archive ({e}); delete it so it is fetched again") from e
