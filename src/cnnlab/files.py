"""Writing to disk without losing anything: atomic file writes and replacing only folders
cnnlab itself made.

- `atomic_write`: a temp file beside the target, fsync, then `os.replace`, so a reader never
  sees half a file and an interrupted write leaves the old file in place.
- `owned_folder` / `replace_owned_folder`: a folder cnnlab creates carries a marker file naming
  what wrote it; `--overwrite` replaces only such a folder, moving the old one aside and
  deleting it only once the new one is complete (restored if the new one fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cnnlab.errors import CnnlabError

MARKER = ".cnnlab-folder.json"  # {"kind": "lesson"}: written by cnnlab into folders it owns


def as_text(name: str) -> str:
    """A file-system name or path as valid text for a title or a page: bytes that are not
    UTF-8 (Python holds them as surrogates, which UTF-8 cannot encode) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def atomic_write(path: str | Path, data: bytes | memoryview | str) -> Path:
    """Write `data` to `path` through a temp file in the same folder, fsync, then rename."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _naming(path, e) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; give it the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _naming(path, e) from None
        raise
    return path


def _naming(path: Path, error: OSError) -> OSError:
    """The same error about `path`: the temp file it names is cnnlab's, not the user's."""
    return type(error)(error.errno, error.strerror, str(path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def real_subfolder(folder: Path, name: str) -> Path:
    """`folder/name`, created if missing; refused if it is a link (writing through it would put
    files outside `folder`) or not a folder."""
    sub = Path(folder) / name
    if sub.is_symlink() or (sub.exists() and not sub.is_dir()):
        raise CnnlabError(f"{sub} is a link or a file, not a folder of {folder}; cnnlab writes only inside "
                          f"the folder itself: remove {sub} and run again")
    sub.mkdir(parents=True, exist_ok=True)
    return sub


def folder_kind(folder: Path) -> str | None:
    """The kind of folder cnnlab wrote here ("lesson", ...), or None if cnnlab did not write it."""
    try:
        kind = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


def mark_owned(folder: Path, kind: str) -> None:
    """Create `folder` if needed and record that cnnlab wrote it, as a `kind` folder."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    atomic_write(Path(folder) / MARKER, json.dumps({"kind": kind}) + "\n")


def check_replaceable(folder: Path, kind: str, flag: str = "--overwrite") -> None:
    """Refuse, before anything is written, to replace a folder cnnlab did not write as `kind`."""
    folder = Path(folder)
    if not folder.exists() or (folder.is_dir() and not any(folder.iterdir())):
        return
    if not folder.is_dir():
        raise CnnlabError(f"{folder} is a file, not a folder; give another folder")
    here = Path.cwd().resolve()
    if folder.resolve() in (here, *here.parents):
        raise CnnlabError(f"{folder} holds the current folder; cnnlab never replaces it. "
                          "Give a new folder")
    if folder_kind(folder) != kind:
        raise CnnlabError(f"{folder} was not written by cnnlab {kind} (it has no {MARKER} marker), "
                          f"so {flag} will not replace it; give a new folder")


@contextlib.contextmanager
def replace_owned_folder(folder: Path, kind: str) -> Iterator[Path]:
    """Write a new `kind` folder at `folder`, replacing the old one only if the new one completes.

    The old folder (checked with `check_replaceable`) is moved aside to a hidden sibling; if
    the body raises, what it wrote is removed and the old folder moved back.
    """
    folder = Path(folder)
    check_replaceable(folder, kind)
    aside = None
    if folder.exists() and any(folder.iterdir()):  # an empty folder (even the current one) is used as it is
        aside = folder.with_name(f".{folder.name}.old-{secrets.token_hex(4)}")
        os.replace(folder, aside)
    try:
        mark_owned(folder, kind)
        yield folder
    except BaseException:
        if aside is not None:
            shutil.rmtree(folder, ignore_errors=True)  # only what this call just wrote
            os.replace(aside, folder)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
