"""Downloading one file: mirrors in order, bounded connect/read timeouts, HTTP Range resume,
verification, then an atomic rename. A failed or killed download leaves only a `.part` file,
which nothing trusts (it is only resumed, then verified). The caller holds the dataset lock."""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.parse
from pathlib import Path

from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.progress import Progress
from cnnlab.datasets.registry import Source, SourceFile
from cnnlab.datasets.verify import verify_file

CONNECT_TIMEOUT = 10.0  # s to open a connection; env CNNLAB_CONNECT_TIMEOUT
READ_TIMEOUT = 30.0  # s without a byte before a mirror counts as stalled; env CNNLAB_READ_TIMEOUT
MIN_RATE = 10_000  # bytes/s on average below which a download gives up (its deadline); env CNNLAB_MIN_RATE
DEADLINE_SLACK = 120.0  # s added to every file's deadline for connecting and slow starts
UNKNOWN_SIZE_CAP = 1 << 31  # bytes accepted for a file whose size the registry does not give
ATTEMPTS_PER_MIRROR = 3  # resumes after a drop/stall, as long as each attempt got some bytes
MAX_REDIRECTS = 5
CHUNK = 1 << 18
USER_AGENT = "cnnlab-datasets/0.1 (python http.client)"


class MirrorFailure(Exception):
    """One attempt at one mirror failed; `progressed` says bytes arrived (worth resuming)."""

    def __init__(self, reason: str, *, progressed: bool = False, unreachable: bool = False):
        super().__init__(reason)
        self.progressed = progressed
        self.unreachable = unreachable  # no connection at all: skip this host for the rest of the load


class FetchError(DatasetError):
    def __init__(self, name: str, failures: list[str]):
        self.failures = failures
        super().__init__(f"could not download {name}: " + "; ".join(failures))


def _env_seconds(var: str, default: float) -> float:
    raw = os.environ.get(var)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise DatasetError(f"{var}={raw!r} is not a number of seconds; set e.g. {var}=10") from None
    if value <= 0:
        raise DatasetError(f"{var}={raw!r} must be positive; set e.g. {var}=10")
    return value


def timeouts() -> tuple[float, float]:
    return (_env_seconds("CNNLAB_CONNECT_TIMEOUT", CONNECT_TIMEOUT),
            _env_seconds("CNNLAB_READ_TIMEOUT", READ_TIMEOUT))


def mirrors_for(source: Source, dataset: str) -> tuple[str, ...]:
    """The mirror base URLs to try. $CNNLAB_MIRRORS (comma/space separated, `{dataset}` is
    replaced by the dataset name) replaces the built-in list, e.g. for a local mirror."""
    override = os.environ.get("CNNLAB_MIRRORS", "").replace(",", " ").split()
    mirrors = override or list(source.mirrors)
    return tuple(m.replace("{dataset}", dataset).rstrip("/") + "/" for m in mirrors)


# --- one HTTP GET ----------------------------------------------------------------------------
def _open(url: str, start: int, connect_s: float, read_s: float):
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise MirrorFailure(f"not an http(s) URL: {url}")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(parts.hostname, parts.port, timeout=connect_s)
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise MirrorFailure(f"no connection within {connect_s:g} s", unreachable=True) from None
        except OSError as e:  # DNS, refused, unreachable network, TLS handshake
            conn.close()
            raise MirrorFailure(f"cannot connect ({e})", unreachable=True) from None
        try:
            conn.sock.settimeout(read_s)  # from now on: the longest wait for the next bytes
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
            if start:
                headers["Range"] = f"bytes={start}-"
            conn.request("GET", target, headers=headers)
            resp = conn.getresponse()
        except TimeoutError:
            conn.close()
            raise MirrorFailure(f"no answer within {read_s:g} s") from None
        except OSError as e:  # reset or closed before answering
            conn.close()
            raise MirrorFailure(f"connection lost before an answer ({e})") from None
        except http.client.HTTPException as e:
            conn.close()
            raise MirrorFailure(f"bad HTTP response ({type(e).__name__})") from None
        if resp.status in (301, 302, 303, 307, 308) and resp.getheader("Location"):
            url = urllib.parse.urljoin(url, resp.getheader("Location"))
            resp.close()
            conn.close()
            continue
        return conn, resp
    raise MirrorFailure(f"more than {MAX_REDIRECTS} redirects")


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


def deadline_for(size: int | None) -> float:
    """Seconds one attempt at a file may take in all: an endless trickle must end too
    ($CNNLAB_DOWNLOAD_DEADLINE sets it outright)."""
    if os.environ.get("CNNLAB_DOWNLOAD_DEADLINE"):
        return _env_seconds("CNNLAB_DOWNLOAD_DEADLINE", 0.0)
    rate = _env_seconds("CNNLAB_MIN_RATE", MIN_RATE)
    return DEADLINE_SLACK + (size or UNKNOWN_SIZE_CAP // 16) / rate


def download_to(url: str, part: Path, *, size_hint: int | None = None, label: str = "",
                progress: bool = True) -> None:
    """Append the rest of `url` to `part` (resuming with a Range request when `part` has bytes;
    starting over when the server ignores the range). MirrorFailure on any problem, also when
    the server sends more than the file's known size or too slowly to finish in time."""
    connect_s, read_s = timeouts()
    limit = size_hint or UNKNOWN_SIZE_CAP
    deadline = time.monotonic() + deadline_for(size_hint)
    start = part.stat().st_size if part.exists() else 0
    conn, resp = _open(url, start, connect_s, read_s)
    if resp.status == 416 and start:  # our .part is as long as (or longer than) the file
        complete = (resp.getheader("Content-Range") or "") == f"bytes */{start}"
        resp.close()
        conn.close()
        if complete:
            return  # every byte is here already; the caller verifies them
        part.unlink()
        start = 0
        conn, resp = _open(url, start, connect_s, read_s)
    try:
        if resp.status == 206 and start:
            m = _CONTENT_RANGE.match(resp.getheader("Content-Range") or "")
            if not m or int(m[1]) != start:
                part.unlink()
                raise MirrorFailure("server answered the resume with a different range", progressed=True)
            total = int(m[3]) if m[3] != "*" else None
            mode = "ab"
        elif resp.status == 200:
            start, mode = 0, "wb"
            length = resp.getheader("Content-Length")
            total = int(length) if length and length.isdigit() else None
        else:
            raise MirrorFailure(f"HTTP {resp.status} {resp.reason}".strip())
        length = resp.getheader("Content-Length")
        remaining = int(length) if length and length.isdigit() else None
        _copy_body(resp, part, mode, start, remaining, total or size_hint, label or url, progress, read_s,
                   limit, deadline)
    finally:
        resp.close()
        conn.close()


def _copy_body(resp, part: Path, mode: str, start: int, remaining: int | None, total: int | None,
               label: str, progress: bool, read_s: float, limit: int, deadline: float) -> None:
    bar = Progress(label, total, start=start, enabled=progress)
    received, ok = 0, False
    try:
        with open(part, mode) as f:
            try:
                while chunk := resp.read1(CHUNK):  # what has arrived: nothing is lost on a drop
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if start + received > limit:
                        raise MirrorFailure(f"sent more than the file's {limit:,} bytes; not kept")
                    if time.monotonic() > deadline:
                        raise MirrorFailure(f"too slow: {start + received:,} bytes before its deadline "
                                            "(CNNLAB_MIN_RATE sets the slowest rate accepted)",
                                            progressed=received > 0)
            except TimeoutError:
                raise MirrorFailure(f"stalled: no data for {read_s:g} s after {start + received} bytes",
                                    progressed=received > 0) from None
            except (http.client.HTTPException, OSError) as e:
                raise MirrorFailure(f"connection dropped after {start + received} bytes ({type(e).__name__})",
                                    progressed=received > 0) from None
            finally:
                f.flush()
                os.fsync(f.fileno())
        if remaining is not None and received < remaining:
            raise MirrorFailure(f"connection closed after {start + received} of {start + remaining} bytes",
                                progressed=received > 0)
        ok = True
    finally:
        bar.close(ok)


# --- one file, all mirrors -------------------------------------------------------------------
def fetch_file(spec: SourceFile, mirrors: tuple[str, ...], dest_dir: Path, *, progress: bool = True,
               unreachable: set[str] | None = None) -> Path:
    """Download `spec` into dest_dir from the first mirror that gives verified bytes. Failover
    on HTTP errors, timeouts, drops (after resuming) and wrong bytes; FetchError lists why.
    `unreachable` collects hosts that gave no connection; they are not tried again."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / spec.name
    part = dest_dir / f"{spec.name}.part"
    unreachable = set() if unreachable is None else unreachable
    failures: list[str] = []
    for mirror in mirrors:
        url = mirror + spec.name
        host = urllib.parse.urlsplit(url).netloc
        if host in unreachable:
            failures.append(f"{url}: skipped, {host} gave no connection just before")
            continue
        for _attempt in range(ATTEMPTS_PER_MIRROR):
            resumed = part.exists() and part.stat().st_size > 0
            try:
                download_to(url, part, size_hint=spec.size, label=spec.name, progress=progress)
            except MirrorFailure as e:
                failures.append(f"{url}: {e}")
                if spec.size and part.exists() and part.stat().st_size > spec.size:
                    part.unlink()  # more than the file holds: nothing in it is worth resuming
                if e.unreachable:
                    unreachable.add(host)
                if e.progressed:
                    continue  # resume from where it stopped
                break
            verdict = verify_file(part, spec)
            if verdict.ok:
                os.replace(part, final)
                return final
            failures.append(f"{url}: {verdict.why}")
            part.unlink(missing_ok=True)
            if not resumed:
                break  # fresh bytes were wrong: this mirror serves something else
            # a stale .part may have spoiled it: once more from the start
    raise FetchError(spec.name, failures)
