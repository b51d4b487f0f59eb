import io
import os
import pickle
import struct
import tarfile

import numpy as np
import pytest
from helpers.datasets import cifar_arrays, cifar_python_batch, cifar_record_bytes, gz
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.formats import (
    FormatError,
    encode_idx,
    extract_tar,
    gunzip_if_needed,
    parse_cifar_binary,
    parse_cifar_python_batch,
    parse_idx,
    restricted_unpickle,
)

# --- IDX -------------------------------------------------------------------------------------


def test_idx_decodes_mnist_layout():
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    data = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2, 3, 4) + images.tobytes()
    out = parse_idx(data)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, images)
    out[0, 0, 0] = 7  # keras.datasets arrays are writeable; so are ours


def test_idx_big_endian_int32_becomes_native():
    values = np.array([1, -2, 70000], dtype=">i4")
    out = parse_idx(bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes())
    assert out.dtype == np.dtype("=i4")
    assert out.tolist() == [1, -2, 70000]


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00", "too short"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX dtype code 0x07"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "truncated IDX header"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00" * 4, "the file is truncated"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00" * 6, "the file is too long"),
])
def test_idx_rejects_malformed_headers(data, message):
    with pytest.raises(FormatError, match=message):
        parse_idx(data, what="x.idx")


_idx_arrays = st.one_of(*(
    hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5))
    for dtype in (np.uint8, np.int8, np.dtype(">i2"), np.dtype(">i4"), np.dtype(">f4"), np.dtype(">f8"))
))


@settings(max_examples=200, deadline=None)
@given(_idx_arrays)
def test_idx_round_trips_any_array(array):
    out = parse_idx(encode_idx(array))
    assert out.shape == array.shape
    np.testing.assert_array_equal(out, array.astype(array.dtype.newbyteorder("=")))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_idx_random_bytes_decode_consistently_or_raise_format_error(data):
    try:
        out = parse_idx(data)
    except FormatError:
        return
    # accepted only when the header accounts for every byte
    assert 4 + 4 * out.ndim + out.size * out.dtype.itemsize == len(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_idx_mutated_files_never_fail_otherwise(data):
    array = data.draw(hnp.arrays(np.uint8, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)))
    raw = bytearray(encode_idx(array))
    action = data.draw(st.sampled_from(["flip", "truncate", "append"]))
    if action == "flip":
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] ^= data.draw(st.integers(1, 255))
    elif action == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=8))
    try:
        out = parse_idx(bytes(raw))
    except FormatError:
        return
    assert 4 + 4 * out.ndim + out.size * out.dtype.itemsize == len(raw)


def test_format_error_is_a_dataset_error():
    assert issubclass(FormatError, DatasetError)


# --- gzip ------------------------------------------------------------------------------------


def test_gunzip_passes_plain_bytes_and_rejects_damaged_gzip():
    assert gunzip_if_needed(b"plain", what="f") == b"plain"
    assert gunzip_if_needed(gz(b"hello" * 100), what="f") == b"hello" * 100
    damaged = gz(os.urandom(4000))[:-100]
    with pytest.raises(FormatError, match="damaged gzip"):
        gunzip_if_needed(damaged, what="f.gz")


# --- CIFAR binary ----------------------------------------------------------------------------


def test_cifar_binary_planes_become_channels_last():
    x, labels = cifar_arrays(0, 3, 10, 1)
    out_x, out_labels = parse_cifar_binary(cifar_record_bytes(x, labels), label_bytes=1, what="b")
    np.testing.assert_array_equal(out_x, x)
    np.testing.assert_array_equal(out_labels, labels)
    # the first 1024 pixel bytes of a record are the red plane, row by row
    record = cifar_record_bytes(x[:1], labels[:1])
    assert record[1:1025] == x[0, :, :, 0].tobytes()


def test_cifar_binary_rejects_partial_records():
    x, labels = cifar_arrays(0, 2, 10, 1)
    with pytest.raises(FormatError, match="not a whole number of 3073-byte"):
        parse_cifar_binary(cifar_record_bytes(x, labels)[:-1], label_bytes=1, what="b")


# --- CIFAR python: restricted unpickling -------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_python_batch_loads_through_restricted_unpickler(protocol):
    x, labels = cifar_arrays(1, 5, 10, 1)
    data = cifar_python_batch(x, {"labels": labels[:, 0]}, protocol=protocol)
    out_x, out_y = parse_cifar_python_batch(data, label_keys=("labels",), what="batch")
    np.testing.assert_array_equal(out_x, x)
    np.testing.assert_array_equal(out_y, labels)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({b"data": _Exploit(marker)}, protocol=2)
    with pytest.raises(FormatError, match=r"refusing to unpickle (posix|os|nt)\.system"):
        parse_cifar_python_batch(payload, label_keys=("labels",), what="data_batch_1")
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("builtins", "getattr"),
                                          ("subprocess", "Popen"), ("numpy", "load")])
def test_restricted_unpickler_refuses_any_other_global(module, name):
    payload = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"q\x00."
    with pytest.raises(FormatError, match=f"refusing to unpickle {module}.{name}"):
        restricted_unpickle(payload, what="p")


def test_restricted_unpickler_refuses_object_arrays():
    payload = pickle.dumps(np.array([1, "a"], dtype=object), protocol=2)
    with pytest.raises(FormatError, match="object array"):
        restricted_unpickle(payload, what="p")


def test_restricted_unpickler_refuses_codecs_other_than_latin1():
    import codecs

    class _Rot:
        def __reduce__(self):
            return (codecs.encode, ("x", "rot13"))

    with pytest.raises(FormatError, match="rot13"):
        restricted_unpickle(pickle.dumps(_Rot(), protocol=2), what="p")


def test_garbage_is_not_a_pickle():
    with pytest.raises(FormatError, match="not a readable pickle"):
        restricted_unpickle(b"\x80\x02garbage", what="p")


def test_cifar_python_batch_checks_its_contents():
    data = pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]}, protocol=2)
    with pytest.raises(FormatError, match=r"expected uint8 \(N, 3072\)"):
        parse_cifar_python_batch(data, label_keys=("labels",), what="b")
    data = pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}, protocol=2)
    with pytest.raises(FormatError, match="lacks labels"):
        parse_cifar_python_batch(data, label_keys=("labels",), what="b")


# --- tar extraction --------------------------------------------------------------------------


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def test_extract_tar_extracts_regular_members(tmp_path):
    archive = _tar(tmp_path / "ok.tar.gz", [_file("top/a.bin", b"abc"), _file("top/b.bin", b"de")])
    extract_tar(archive, tmp_path / "out")
    assert (tmp_path / "out/top/a.bin").read_bytes() == b"abc"


@pytest.mark.parametrize("member, reason", [
    (_file("../evil.txt"), r"'\.\.' component"),
    (_file("top/../../evil.txt"), r"'\.\.' component"),
    (_file("/tmp/evil.txt"), "absolute path"),
    (_link("top/link", "/etc/passwd"), "link to /etc/passwd outside"),
    (_link("top/link", "../../evil.txt"), "outside"),
    (_link("top/hard", "../evil.txt", tarfile.LNKTYPE), "outside"),
])
def test_extract_tar_refuses_members_escaping_the_target(tmp_path, member, reason):
    archive = _tar(tmp_path / "bad.tar.gz", [_file("top/ok.bin"), member])
    out = tmp_path / "deep" / "out"
    with pytest.raises(FormatError, match=reason):
        extract_tar(archive, out)
    assert not (tmp_path / "deep" / "evil.txt").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert not (out / "top" / "ok.bin").exists()  # refused before anything was written


def test_extract_tar_reports_a_damaged_archive(tmp_path):
    archive = _tar(tmp_path / "ok.tar.gz", [_file("top/a.bin", os.urandom(50000))])
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(archive.read_bytes()[:-2000])
    with pytest.raises(FormatError, match="damaged tar archive"):
        extract_tar(damaged, tmp_path / "out")


def test_a_gzip_bomb_is_refused_before_it_fills_memory():
    import gzip

    from cnnlab.datasets.formats import FormatError, gunzip_if_needed

    bomb = gzip.compress(bytes(5_000_000))  # 5 MB of zeros in a few kilobytes
    assert len(bomb) < 10_000
    with pytest.raises(FormatError, match="expands to more than 1,000,000 bytes"):
        gunzip_if_needed(bomb, what="x.gz", limit=1_000_000)
    assert gunzip_if_needed(gzip.compress(b"abc"), what="x.gz") == b"abc"
