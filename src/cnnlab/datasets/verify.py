"""Checking a file against the checksums of its SourceFile spec."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.formats import gunzip_if_needed
from cnnlab.datasets.registry import SourceFile

CHUNK = 1 << 20


@dataclass
class Verdict:
    ok: bool
    why: str  # which checksum matched, or why none did
    content: bytes | None = None  # the gunzipped bytes when they were computed (saves a pass)


def _file_digests(path: Path, algos: set[str]) -> dict[str, str]:
    hashers = {a: hashlib.new(a) for a in algos}
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def verify_file(path: Path, spec: SourceFile) -> Verdict:
    """Does `path` hold the bytes `spec` describes? Content hashes are tried first (they pass
    re-compressed copies), then the hashes of the file as published."""
    path = Path(path)
    content = None
    content_sums = [c for c in spec.checksums if c.of == "content"]
    if content_sums:
        try:
            content = gunzip_if_needed(path.read_bytes(), what=str(path))
        except DatasetError as e:
            return Verdict(False, str(e))
        digests = {a: hashlib.new(a, content).hexdigest() for a in {c.algo for c in content_sums}}
        for c in content_sums:
            if digests[c.algo] == c.digest:
                return Verdict(True, f"content {c.algo} matches ({c.source})", content)
    file_sums = [c for c in spec.checksums if c.of == "file"]
    size = path.stat().st_size
    if not content_sums and spec.size is not None and size != spec.size:
        return Verdict(False, f"wrong size: {size} bytes, expected {spec.size}")
    if file_sums:
        digests = _file_digests(path, {c.algo for c in file_sums})
        for c in file_sums:
            if digests[c.algo] == c.digest:
                return Verdict(True, f"file {c.algo} matches ({c.source})", content)
    return Verdict(False, f"wrong bytes: no known checksum matches ({size} bytes; upstream has {spec.size})")
