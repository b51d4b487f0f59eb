import io
import os
import socket
import time

import pytest
from helpers.datasets import sha256

from cnnlab.datasets import fetch
from cnnlab.datasets.fetch import FetchError, fetch_file, mirrors_for
from cnnlab.datasets.registry import Checksum, Source, SourceFile

DATA = os.urandom(300_000)
NAME = "blob.bin"


def _spec(data=DATA, name=NAME):
    return SourceFile(name, len(data), (Checksum("sha256", sha256(data), "file", "test"),))


def _mirrors(server, *names):
    return tuple(f"{server.url}/{n}/" for n in names)


def test_downloads_verifies_and_renames(server, tmp_path, capsys):
    server.files[f"/a/{NAME}"] = DATA
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path)
    assert path == tmp_path / NAME and path.read_bytes() == DATA
    assert not (tmp_path / f"{NAME}.part").exists()
    err = capsys.readouterr().err
    assert f"downloading {NAME} (0.3 MB)" in err and f"{NAME}: done, 0.3 MB" in err


@pytest.mark.parametrize("fault", ["404", "500", "wrong", "short"])
def test_fails_over_to_the_next_mirror(server, tmp_path, fault):
    server.files[f"/a/{NAME}"] = DATA
    server.files[f"/b/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = [fault] * 5
    path = fetch_file(_spec(), _mirrors(server, "a", "b"), tmp_path, progress=False)
    assert path.read_bytes() == DATA
    assert len(server.requests_for(f"/b/{NAME}")) == 1


def test_every_mirror_failing_lists_each_failure(server, tmp_path):
    server.files[f"/b/{NAME}"] = DATA
    server.faults[f"/b/{NAME}"] = ["wrong"]
    with pytest.raises(FetchError) as info:
        fetch_file(_spec(), _mirrors(server, "a", "b"), tmp_path, progress=False)
    message = str(info.value)
    assert f"{server.url}/a/{NAME}: HTTP 404" in message
    assert f"{server.url}/b/{NAME}: wrong bytes" in message
    assert not (tmp_path / NAME).exists() and not (tmp_path / f"{NAME}.part").exists()


@pytest.mark.parametrize("fault", ["truncate", "reset"])
def test_a_dropped_connection_resumes_with_a_range_request(server, tmp_path, fault):
    server.files[f"/a/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = [fault]
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert path.read_bytes() == DATA
    first, second = server.requests_for(f"/a/{NAME}")
    assert first is None and second is not None and second.startswith("bytes=")
    assert 0 < int(second[6:-1]) < len(DATA)


def test_a_stalled_mirror_times_out_and_resumes(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = ["stall"]
    t0 = time.monotonic()
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert time.monotonic() - t0 < 2.4  # the 1 s read timeout fired, not the 2.5 s stall
    assert path.read_bytes() == DATA
    assert server.requests_for(f"/a/{NAME}")[1].startswith("bytes=")


def test_a_stall_on_every_attempt_moves_on(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    server.files[f"/b/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = ["stall"] * 5
    path = fetch_file(_spec(), _mirrors(server, "a", "b"), tmp_path, progress=False)
    assert path.read_bytes() == DATA
    assert len(server.requests_for(f"/a/{NAME}")) == fetch.ATTEMPTS_PER_MIRROR


def test_a_silent_server_times_out_and_the_next_mirror_serves(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    server.files[f"/b/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = ["silent"]
    t0 = time.monotonic()
    path = fetch_file(_spec(), _mirrors(server, "a", "b"), tmp_path, progress=False)
    assert time.monotonic() - t0 < 2.4
    assert path.read_bytes() == DATA


def test_a_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    server.ranges = False
    (tmp_path / f"{NAME}.part").write_bytes(DATA[:1000])
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert path.read_bytes() == DATA


def test_a_stale_part_file_with_wrong_bytes_is_discarded(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    (tmp_path / f"{NAME}.part").write_bytes(b"\0" * 1000)  # resumed, then the hash fails
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert path.read_bytes() == DATA
    assert server.requests_for(f"/a/{NAME}") == ["bytes=1000-", None]


def test_a_complete_part_is_verified_without_downloading_again(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    (tmp_path / f"{NAME}.part").write_bytes(DATA)  # killed between the last byte and the rename
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert path.read_bytes() == DATA
    assert server.requests_for(f"/a/{NAME}") == [f"bytes={len(DATA)}-"]


def test_a_part_longer_than_the_file_is_restarted(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    (tmp_path / f"{NAME}.part").write_bytes(b"\0" * (len(DATA) + 5))
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert path.read_bytes() == DATA


def test_an_interrupted_download_leaves_no_trusted_file(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = ["truncate"] * 5
    with pytest.raises(FetchError, match="connection closed after"):
        fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert not (tmp_path / NAME).exists()
    assert 0 < (tmp_path / f"{NAME}.part").stat().st_size < len(DATA)


def test_an_unreachable_host_fails_fast(tmp_path):
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="cannot connect"):
        fetch_file(_spec(), (f"http://127.0.0.1:{port}/",), tmp_path, progress=False)
    assert time.monotonic() - t0 < 2


def test_a_host_that_gave_no_connection_is_not_tried_again(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead: set[str] = set()
    with pytest.raises(FetchError):
        fetch_file(_spec(), (f"http://127.0.0.1:{port}/a/",), tmp_path, progress=False, unreachable=dead)
    assert dead == {f"127.0.0.1:{port}"}
    with pytest.raises(FetchError, match=f"skipped, 127.0.0.1:{port} gave no connection"):
        fetch_file(_spec(), (f"http://127.0.0.1:{port}/b/",), tmp_path, progress=False, unreachable=dead)


def test_redirects_are_followed(server, tmp_path, monkeypatch):
    server.files[f"/b/{NAME}"] = DATA
    original = server._serve

    def redirecting(h):
        if h.path.startswith("/a/"):
            h.send_response(302)
            h.send_header("Location", h.path.replace("/a/", "/b/"))
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        original(h)

    monkeypatch.setattr(server, "_serve", redirecting)
    path = fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert path.read_bytes() == DATA


def test_mirrors_env_replaces_the_builtin_list(monkeypatch):
    source = Source("idx", (), mirrors=("https://example.invalid/x/",))
    assert mirrors_for(source, "mnist") == ("https://example.invalid/x/",)
    monkeypatch.setenv("CNNLAB_MIRRORS", "http://127.0.0.1:1/{dataset}, http://127.0.0.1:2/d/")
    assert mirrors_for(source, "mnist") == ("http://127.0.0.1:1/mnist/", "http://127.0.0.1:2/d/")


@pytest.mark.parametrize("value", ["abc", "-1", "0"])
def test_bad_timeout_settings_are_explained(monkeypatch, value):
    monkeypatch.setenv("CNNLAB_READ_TIMEOUT", value)
    with pytest.raises(fetch.DatasetError, match="CNNLAB_READ_TIMEOUT"):
        fetch.timeouts()


def test_progress_bar_draws_in_place_on_a_terminal():
    from cnnlab.datasets.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    bar = Progress("f.gz", 1000, stream=out)
    bar.last -= 1  # due for a redraw
    bar.update(500)
    bar.close(True)
    text = out.getvalue()
    assert "\rf.gz [###############               ]  50%" in text
    assert text.endswith("f.gz: done, 0.0 MB in 0.0 s\n")


def test_an_endless_body_is_cut_at_the_files_size(server, tmp_path):
    server.files[f"/a/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = ["endless"]
    server.files[f"/b/{NAME}"] = DATA
    path = fetch_file(_spec(), _mirrors(server, "a", "b"), tmp_path, progress=False)
    assert path.read_bytes() == DATA  # the next mirror served it
    assert not (tmp_path / f"{NAME}.part").exists()


def test_a_drip_feed_ends_at_its_deadline(server, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_DOWNLOAD_DEADLINE", "0.5")
    server.files[f"/a/{NAME}"] = DATA
    server.faults[f"/a/{NAME}"] = ["drip"] * 3
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="too slow"):
        fetch_file(_spec(), _mirrors(server, "a"), tmp_path, progress=False)
    assert time.monotonic() - t0 < 8  # three attempts of 0.5 s, not the 10 s the server would drip
