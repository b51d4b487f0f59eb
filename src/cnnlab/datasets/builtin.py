"""Loading a registry dataset: decoded cache -> verified local copies -> download, under the
dataset's lock; then decode, check against the spec, and keep the arrays as .npy."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnnlab.datasets import cache
from cnnlab.datasets.decoders import ArraysByName, decode
from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.fetch import FetchError, fetch_file, mirrors_for
from cnnlab.datasets.registry import DatasetSpec, Source, SourceFile
from cnnlab.datasets.verify import Verdict, verify_file


def offline_requested(offline: bool | None) -> bool:
    if offline is not None:
        return offline
    return os.environ.get("CNNLAB_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


@dataclass
class Search:
    """What one load looked at, for the error message and `datasets info`."""

    verdicts: dict[Path, Verdict] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)

    def verified(self, file: SourceFile, spec: DatasetSpec, source: Source) -> tuple[Path, bytes | None] | None:
        for path in cache.candidates(file, cache.search_dirs(spec, source)):
            if path not in self.verdicts:
                self.verdicts[path] = verify_file(path, file)
            verdict = self.verdicts[path]
            if verdict.ok:
                return path, verdict.content
            self.rejected.append(f"{path} ({verdict.why})")
            if cache.is_ours(path, spec):
                path.unlink(missing_ok=True)  # a damaged cached copy: fetched again below
        return None


def find_local(spec: DatasetSpec, search: Search) -> tuple[Source, dict] | None:
    """The first source whose files are all present and verified somewhere on this machine."""
    for source in spec.sources:
        found = {}
        for file in source.files:
            hit = search.verified(file, spec, source)
            if hit is None:
                break
            found[file.name] = hit
        else:
            return source, found
    return None


def download(spec: DatasetSpec, search: Search, *, progress: bool) -> tuple[Source, dict]:
    """Sources in order; within one, files already here are kept and the rest fetched."""
    failures: list[str] = []
    unreachable: set[str] = set()  # hosts that gave no connection: not tried again (fail fast)
    for source in spec.sources:
        found = {}
        try:
            for file in source.files:
                hit = search.verified(file, spec, source)
                if hit is None:
                    path = fetch_file(file, mirrors_for(source, spec.name), cache.dataset_dir(spec.name),
                                      progress=progress, unreachable=unreachable)
                    hit = (path, None)
                found[file.name] = hit
            return source, found
        except FetchError as e:
            failures += e.failures
    raise DatasetError(f"could not download {spec.name}: " + "; ".join(failures) + ". " + manual_fix(spec))


def manual_fix(spec: DatasetSpec) -> str:
    """Where to put which files, and where to get them on another machine."""
    source = spec.sources[0]
    names = ", ".join(f.name for f in source.files)
    urls = " or ".join(mirrors_for(source, spec.name)[:2])
    text = (f"To fix: get {names} from {urls} (or run `cnnlab datasets download {spec.name}` on a "
            f"machine with internet and copy its {cache.dataset_dir(spec.name).name}/ folder), then put "
            f"them in {cache.dataset_dir(spec.name)} or in the folder named by CNNLAB_DATA_DIR")
    if any(d.startswith("/usr/share/datasets/") for d in source.discover):
        text += f"; on Debian/Ubuntu: apt-get install dataset-{spec.name.replace('_', '-')}"
    return text + "."


def offline_error(spec: DatasetSpec, search: Search) -> DatasetError:
    looked = []
    for source in spec.sources:
        names = ", ".join(f.name for f in source.files)
        dirs = ", ".join(str(d) for d in cache.search_dirs(spec, source))
        looked.append(f"{names} in {dirs}")
    rejected = f" Rejected: {'; '.join(search.rejected)}." if search.rejected else ""
    return DatasetError(f"{spec.name} is not on this machine and downloads are off (offline). "
                        f"Looked for {'; or '.join(looked)}.{rejected} {manual_fix(spec)}")


def check_arrays(spec: DatasetSpec, arrays: ArraysByName, origin: str) -> None:
    """The decoded arrays must be what the spec promises (shapes, dtype, label range)."""
    h, w, c = spec.input_shape
    image = (h, w) if c == 1 else (h, w, c)
    for split, n in (("train", spec.train_size), ("test", spec.test_size)):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        want_y = (n, 1) if spec.label_column else (n,)
        problems = []
        if x.dtype != np.uint8 or x.shape != (n, *image):
            problems.append(f"x_{split} is {x.dtype} {x.shape}, expected uint8 {(n, *image)}")
        if y.dtype != np.uint8 or y.shape != want_y:
            problems.append(f"y_{split} is {y.dtype} {y.shape}, expected uint8 {want_y}")
        elif y.size and int(y.max()) >= spec.num_classes:
            problems.append(f"y_{split} holds label {int(y.max())}, but there are {spec.num_classes} classes")
        if problems:
            raise DatasetError(f"{spec.name} from {origin}: " + "; ".join(problems))


def _shape_labels(spec: DatasetSpec, arrays: ArraysByName) -> ArraysByName:
    for key in list(arrays):
        if key.startswith("y_"):
            y = arrays[key].astype(np.uint8, copy=False)
            arrays[key] = y.reshape(-1, 1) if spec.label_column else y.reshape(-1)
    return arrays


def fetch_and_decode(spec: DatasetSpec, *, offline: bool, progress: bool) -> ArraysByName:
    """Find or fetch the sources, decode, check, and cache. Caller holds the lock."""
    search = Search()
    located = find_local(spec, search)
    if located is None:
        if offline:
            raise offline_error(spec, search)
        located = download(spec, search, progress=progress)
    source, found = located
    paths = {name: p for name, (p, _) in found.items()}
    contents = {name: c for name, (_, c) in found.items()}
    scratch = cache.dataset_dir(spec.name) / f".extract-{os.getpid()}"
    arrays = _shape_labels(spec, decode(source.format, paths, contents, scratch))
    origin = ", ".join(str(p) for p in paths.values())
    check_arrays(spec, arrays, origin)
    provenance = {"dataset": spec.name, "format": source.format,
                  "sources": {n: str(p) for n, p in paths.items()}}
    cache.save_decoded(spec.name, arrays, provenance)
    return arrays


def load_arrays(spec: DatasetSpec, *, offline: bool | None = None, progress: bool = True,
                digests: dict[str, str] | None = None) -> ArraysByName:
    """All arrays of a registry dataset, from the decoded cache when it is there (then
    `digests` receives their cache.array_digest, which the cache checked)."""
    arrays = _cached(spec, digests)
    if arrays is not None:
        return arrays
    with cache.locked(spec.name):
        arrays = _cached(spec, digests)  # another process may have built it meanwhile
        if arrays is None:
            arrays = fetch_and_decode(spec, offline=offline_requested(offline), progress=progress)
    return arrays


def _cached(spec: DatasetSpec, digests: dict[str, str] | None = None) -> ArraysByName | None:
    found: dict[str, str] = {}
    arrays = cache.load_decoded(spec.name, found)
    if arrays is None:
        return None
    try:
        check_arrays(spec, arrays, "the decoded cache")
    except (DatasetError, KeyError):
        return None  # stale or foreign: rebuilt from the sources
    if digests is not None:
        digests.update(found)
    return arrays
