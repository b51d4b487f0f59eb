"""Helpers for the datasets tests: tiny files in the real formats and a loopback HTTP server
with fault injection (imported by the test modules; fixtures are in conftest.py)."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import socket
import struct
import tarfile
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from cnnlab.datasets import registry
from cnnlab.datasets.formats import encode_idx
from cnnlab.datasets.registry import Checksum, Source, SourceFile


# --- a loopback HTTP server with faults ------------------------------------------------------
class FaultServer:
    """Serves `files` ({url path: bytes}); `faults` ({url path: [fault, ...]}) are used up one
    per request: "404", "500", "truncate" (close after half the body), "reset" (RST mid-body),
    "stall" (send half, then go silent), "wrong" (same length, other bytes), "short" (a shorter
    body announced as complete), "silent" (no answer at all). `ranges=False` ignores Range headers."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = {}
        self.log: list[tuple[str, str | None]] = []
        self.ranges = True
        self.throttle = 0.0  # seconds to sleep per 64 KiB, to make downloads overlap
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer._serve(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def requests_for(self, path: str) -> list[str | None]:
        return [rng for p, rng in self.log if p == path]

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        rng = h.headers.get("Range")
        self.log.append((h.path, rng))
        queue = self.faults.get(h.path) or []
        fault = queue.pop(0) if queue else None
        body = self.files.get(h.path)
        if fault in ("endless", "drip"):  # a body that never ends, fast or a byte at a time
            h.send_response(200)
            h.end_headers()
            stop = time.monotonic() + 10.0  # bounded: the client must give up well before
            while time.monotonic() < stop:
                try:
                    h.wfile.write(b"\0" * (65536 if fault == "endless" else 1))
                    h.wfile.flush()
                except OSError:
                    return
                if fault == "drip":
                    time.sleep(0.05)
            h.close_connection = True
            return
        if fault == "silent":  # accept, then never answer
            time.sleep(2.5)
            h.close_connection = True
            return
        if fault in ("404", "500") or body is None:
            code = int(fault) if fault else 404
            h.send_response(code)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        start = 0
        if rng and self.ranges:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(body)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            h.send_response(200)
        payload = body[start:]
        if fault == "wrong":
            payload = bytes(b ^ 0xFF for b in payload[:64]) + payload[64:]
        if fault == "short":
            payload = payload[: len(payload) // 2]
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        half = max(1, len(payload) // 2)
        if fault == "truncate":
            h.wfile.write(payload[:half])
            h.wfile.flush()
            h.close_connection = True
            return
        if fault == "reset":
            h.wfile.write(payload[:half])
            h.wfile.flush()
            time.sleep(0.3)  # let the client read what was sent before the RST
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            return
        if fault == "stall":
            h.wfile.write(payload[:half])
            h.wfile.flush()
            time.sleep(2.5)  # past the tests' 1 s read timeout
            h.close_connection = True
            return
        for i in range(0, len(payload), 65536):
            try:
                h.wfile.write(payload[i:i + 65536])
            except OSError:
                return
            if self.throttle:
                time.sleep(self.throttle)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- tiny files in the real formats ----------------------------------------------------------
def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gz(data: bytes, *, mtime: int = 0, level: int = 9) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=mtime)


def idx_dataset(seed: int = 0, n_train: int = 30, n_test: int = 10, classes: int = 10):
    """Arrays and their IDX .gz files, named as upstream."""
    rng = np.random.default_rng(seed)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": (np.arange(n_train) % classes).astype(np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": (np.arange(n_test) % classes).astype(np.uint8),
    }
    raw = {
        "train-images-idx3-ubyte.gz": encode_idx(arrays["x_train"]),
        "train-labels-idx1-ubyte.gz": encode_idx(arrays["y_train"]),
        "t10k-images-idx3-ubyte.gz": encode_idx(arrays["x_test"]),
        "t10k-labels-idx1-ubyte.gz": encode_idx(arrays["y_test"]),
    }
    return arrays, raw


def idx_spec(base: registry.DatasetSpec, raw: dict[str, bytes], *, by: str, files: dict[str, bytes],
             discover: tuple[str, ...] = (), n_train: int = 30, n_test: int = 10) -> registry.DatasetSpec:
    """`base` with tiny sizes and one idx source whose checksums describe `files`:
    by="content" (sha256 of the raw IDX bytes) or by="file" (sha256 of the .gz as served)."""
    sfs = []
    for name, content in raw.items():
        digest = sha256(content) if by == "content" else sha256(files[name])
        sfs.append(SourceFile(name, len(files[name]), (Checksum("sha256", digest, by, "test fixture"),)))
    source = Source(format="idx", files=tuple(sfs), mirrors=("http://127.0.0.1:9/never/",), discover=discover)
    return replace(base, train_size=n_train, test_size=n_test, sources=(source,))


def cifar_arrays(seed: int, n: int, classes: int, label_bytes: int):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = np.stack([rng.integers(0, classes if i == label_bytes - 1 else 20, n) for i in range(label_bytes)],
                      axis=1).astype(np.uint8)
    return x, labels


def cifar_record_bytes(x: np.ndarray, labels: np.ndarray) -> bytes:
    planes = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # R plane, G plane, B plane
    return np.concatenate([labels, planes], axis=1).astype(np.uint8).tobytes()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def cifar10_binary_archive(per_batch: int = 4, seed: int = 0):
    """A cifar-10-binary.tar.gz with 5 train batches and a test batch of `per_batch` images."""
    members, xs, ys = {}, [], []
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        x, labels = cifar_arrays(seed + i, per_batch, 10, 1)
        members[f"cifar-10-batches-bin/{name}"] = cifar_record_bytes(x, labels)
        xs.append(x)
        ys.append(labels)
    members["cifar-10-batches-bin/batches.meta.txt"] = b"airplane\nautomobile\n"
    arrays = {"x_train": np.concatenate(xs[:5]), "y_train": np.concatenate(ys[:5]),
              "x_test": xs[5], "y_test": ys[5]}
    return arrays, tar_gz(members)


def cifar_python_batch(x: np.ndarray, label_columns: dict[str, np.ndarray], protocol: int = 2) -> bytes:
    """A batch as CIFAR's python version holds it: bytes keys (Python 2 str), (N, 3072) data."""
    batch = {b"batch_label": b"testing batch", b"data": x.transpose(0, 3, 1, 2).reshape(len(x), -1),
             b"filenames": [b"img_%d.png" % i for i in range(len(x))]}
    for key, labels in label_columns.items():
        batch[key.encode()] = [int(v) for v in labels]
    return pickle.dumps(batch, protocol=protocol)


def cifar10_python_archive(per_batch: int = 4, seed: int = 0):
    members, xs, ys = {}, [], []
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        x, labels = cifar_arrays(seed + i, per_batch, 10, 1)
        members[f"cifar-10-batches-py/{name}"] = cifar_python_batch(x, {"labels": labels[:, 0]})
        xs.append(x)
        ys.append(labels)
    arrays = {"x_train": np.concatenate(xs[:5]), "y_train": np.concatenate(ys[:5]),
              "x_test": xs[5], "y_test": ys[5]}
    return arrays, tar_gz(members)


def archive_spec(base: registry.DatasetSpec, fmt: str, name: str, data: bytes, *, n_train: int,
                 n_test: int) -> registry.DatasetSpec:
    sf = SourceFile(name, len(data), (Checksum("sha256", sha256(data), "file", "test fixture"),))
    source = Source(format=fmt, files=(sf,), mirrors=("http://127.0.0.1:9/never/",))
    return replace(base, train_size=n_train, test_size=n_test, sources=(source,))


def serve(server: FaultServer, dataset: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        server.files[f"/{dataset}/{name}"] = data


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder
