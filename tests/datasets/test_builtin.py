"""load_dataset on registry datasets, with tiny fixture specs served from loopback."""

import hashlib
import io
import tarfile
from dataclasses import replace

import numpy as np
import pytest
from helpers.datasets import (
    archive_spec,
    cifar10_binary_archive,
    cifar10_python_archive,
    cifar_arrays,
    cifar_python_batch,
    cifar_record_bytes,
    gz,
    idx_dataset,
    idx_spec,
    serve,
    tar_gz,
    write_files,
)

from cnnlab.datasets import DatasetError, cache, load_dataset, registry
from cnnlab.datasets.registry import Checksum, Source, SourceFile


def _assert_same(loaded, arrays):
    (x_train, y_train), (x_test, y_test) = loaded
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[key])


@pytest.fixture
def tiny_mnist(mirrored, install):
    arrays, raw = idx_dataset(seed=1)
    files = {name: gz(data) for name, data in raw.items()}
    serve(mirrored, "mnist", files)
    spec = install(idx_spec(registry.MNIST, raw, by="file", files=files))
    return spec, arrays, files


def test_downloads_decodes_and_caches(tiny_mnist, mirrored):
    spec, arrays, files = tiny_mnist
    _assert_same(load_dataset("mnist", progress=False), arrays)
    assert all(len(mirrored.requests_for(f"/mnist/{n}")) == 1 for n in files)
    assert sorted(p.name for p in cache.dataset_dir("mnist").glob("*.gz")) == sorted(files)
    # the next load comes from the decoded .npy cache: no request, no source needed
    for name in files:
        (cache.dataset_dir("mnist") / name).unlink()
    mirrored.close()
    _assert_same(load_dataset("mnist", offline=True), arrays)


def test_shapes_are_keras_shapes(tiny_mnist):
    (x_train, y_train), (x_test, y_test) = load_dataset("MNIST", progress=False)
    assert x_train.shape == (30, 28, 28) and y_train.shape == (30,)
    assert x_test.shape == (10, 28, 28) and y_test.shape == (10,)


def test_mirror_failover_on_404_and_wrong_bytes(tiny_mnist, mirrored, monkeypatch):
    spec, arrays, files = tiny_mnist
    monkeypatch.setenv("CNNLAB_MIRRORS", f"{mirrored.url}/down/ {mirrored.url}/bad/ {mirrored.url}/mnist/")
    serve(mirrored, "bad", {name: b"\x1f\x8b" + data[2:][::-1] for name, data in files.items()})
    _assert_same(load_dataset("mnist", progress=False), arrays)
    assert mirrored.requests_for("/down/train-images-idx3-ubyte.gz") == [None]


def test_a_corrupted_cached_file_is_fetched_again(tiny_mnist, mirrored):
    spec, arrays, files = tiny_mnist
    folder = write_files(cache.dataset_dir("mnist"), dict(files))
    damaged = folder / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    _assert_same(load_dataset("mnist", progress=False), arrays)
    assert len(mirrored.requests_for("/mnist/train-images-idx3-ubyte.gz")) == 1
    assert mirrored.requests_for("/mnist/t10k-images-idx3-ubyte.gz") == []  # good copies kept


def test_a_corrupted_cached_file_is_reported_offline(tiny_mnist):
    spec, arrays, files = tiny_mnist
    folder = write_files(cache.dataset_dir("mnist"), dict(files))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match=r"Rejected: .*t10k-labels-idx1-ubyte.gz \(wrong size"):
        load_dataset("mnist", offline=True)


def test_offline_with_nothing_found_says_what_and_where(install, monkeypatch):
    # the real spec, but with Debian's folder moved out of the way (it may be installed here)
    source = registry.FASHION_MNIST.sources[0]
    moved = replace(source, discover=("/usr/share/datasets/not-installed", *source.discover[1:]))
    install(replace(registry.FASHION_MNIST, sources=(moved,)))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion_mnist")
    message = str(info.value)
    home = cache.dataset_dir("fashion_mnist")
    assert message.startswith("fashion_mnist is not on this machine and downloads are off")
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in message
    assert str(home) in message and "CNNLAB_DATA_DIR" in message
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_offline_failure_is_fast_and_touches_no_network(monkeypatch, tmp_path):
    import time

    monkeypatch.setenv("CNNLAB_MIRRORS", "http://127.0.0.1:9/")
    spec = registry.CIFAR10
    t0 = time.monotonic()
    with pytest.raises(DatasetError, match="cifar-10-binary.tar.gz"):
        load_dataset(spec.name, offline=True)
    assert time.monotonic() - t0 < 1


def test_every_mirror_down_says_why_and_how_to_fix(tiny_mnist, monkeypatch, mirrored):
    monkeypatch.setenv("CNNLAB_MIRRORS", f"{mirrored.url}/nothing/")
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", progress=False)
    message = str(info.value)
    assert message.startswith("could not download mnist: ")
    assert f"{mirrored.url}/nothing/train-images-idx3-ubyte.gz: HTTP 404" in message
    assert "To fix: get train-images-idx3-ubyte.gz" in message


def test_files_put_in_data_dir_are_used_offline(install, tmp_path, monkeypatch):
    arrays, raw = idx_dataset(seed=2)
    files = {name: gz(data) for name, data in raw.items()}
    install(idx_spec(registry.MNIST, raw, by="file", files=files))
    write_files(tmp_path / "by_hand", files)
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "by_hand"))
    _assert_same(load_dataset("mnist", offline=True), arrays)


def test_a_recompressed_copy_passes_on_its_content_hash(install, tmp_path):
    """Like Debian's dataset-fashion-mnist: other gzip bytes, same content."""
    arrays, raw = idx_dataset(seed=3)
    upstream = {name: gz(data, mtime=1, level=9) for name, data in raw.items()}
    debian = {name: gz(data, mtime=2, level=1) for name, data in raw.items()}
    assert upstream != debian
    folder = tmp_path / "usr-share-datasets-fashion-mnist"
    install(idx_spec(registry.FASHION_MNIST, raw, by="content", files=upstream, discover=(str(folder),)))
    write_files(folder, debian)
    _assert_same(load_dataset("fashion_mnist", offline=True), arrays)


def test_keras_cache_copies_are_reused(install, isolated):
    arrays, raw = idx_dataset(seed=4)
    files = {name: gz(data) for name, data in raw.items()}
    install(idx_spec(registry.FASHION_MNIST, raw, by="file", files=files,
                     discover=("~/.keras/datasets/fashion-mnist",)))
    write_files(isolated / "keras" / "datasets" / "fashion-mnist", files)  # KERAS_HOME=<tmp>/keras
    _assert_same(load_dataset("fashion_mnist", offline=True), arrays)


def test_keras_mnist_npz_is_a_source_too(install, isolated):
    arrays, _ = idx_dataset(seed=6)
    folder = isolated / "keras" / "datasets"
    folder.mkdir(parents=True)
    np.savez(folder / "mnist.npz", **arrays)
    data = (folder / "mnist.npz").read_bytes()
    npz = Source("keras-npz", (SourceFile("mnist.npz", len(data), (
        Checksum("sha256", hashlib.sha256(data).hexdigest(), "file", "test"),)),),
        mirrors=(), discover=("~/.keras/datasets",))
    idx_only = registry.MNIST.sources[0]
    install(replace(registry.MNIST, train_size=30, test_size=10, sources=(idx_only, npz)))
    _assert_same(load_dataset("mnist", offline=True), arrays)


def test_a_damaged_decoded_cache_is_rebuilt(tiny_mnist):
    spec, arrays, files = tiny_mnist
    load_dataset("mnist", progress=False)
    npy = cache.decoded_dir("mnist") / "x_train.npy"
    npy.write_bytes(npy.read_bytes()[:-50])
    _assert_same(load_dataset("mnist", progress=False), arrays)


def test_idx_files_with_the_wrong_shape_are_refused(install, mirrored):
    arrays, raw = idx_dataset(seed=5)
    raw["train-images-idx3-ubyte.gz"] = raw["train-labels-idx1-ubyte.gz"]  # 1-D where 3-D belongs
    files = {name: gz(data) for name, data in raw.items()}
    serve(mirrored, "mnist", files)
    install(idx_spec(registry.MNIST, raw, by="file", files=files))
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte.gz: IDX array is uint8 with 1 dimensions"):
        load_dataset("mnist", progress=False)


# --- CIFAR -----------------------------------------------------------------------------------


def test_cifar10_binary(install, mirrored):
    arrays, archive = cifar10_binary_archive()
    serve(mirrored, "cifar10", {"cifar-10-binary.tar.gz": archive})
    install(archive_spec(registry.CIFAR10, "cifar10-binary", "cifar-10-binary.tar.gz", archive,
                         n_train=20, n_test=4))
    loaded = load_dataset("cifar10", progress=False)
    (x_train, y_train), (x_test, y_test) = loaded
    assert x_train.shape == (20, 32, 32, 3) and y_train.shape == (20, 1)
    assert x_test.shape == (4, 32, 32, 3) and y_test.shape == (4, 1)
    _assert_same(loaded, arrays)
    assert not list(cache.dataset_dir("cifar10").glob(".extract-*"))  # scratch removed


def test_cifar10_falls_back_to_the_python_version(install, mirrored):
    arrays, archive = cifar10_python_archive()
    _, binary = cifar10_binary_archive()
    serve(mirrored, "cifar10", {"cifar-10-python.tar.gz": archive})  # binary: 404
    b = archive_spec(registry.CIFAR10, "cifar10-binary", "cifar-10-binary.tar.gz", binary, n_train=20, n_test=4)
    p = archive_spec(registry.CIFAR10, "cifar10-python", "cifar-10-python.tar.gz", archive, n_train=20, n_test=4)
    install(replace(b, sources=b.sources + p.sources))
    _assert_same(load_dataset("cifar10", progress=False), arrays)


def test_cifar10_from_keras_extracted_batches_offline(install, isolated):
    """Keras's cache may hold only cifar-10-batches-py/ (extracted); each batch has an md5."""
    arrays, archive = cifar10_python_archive(seed=3)
    folder = isolated / "keras" / "datasets"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    files = tuple(SourceFile(f"cifar-10-batches-py/{n}", None, (Checksum(
        "md5", hashlib.md5((folder / "cifar-10-batches-py" / n).read_bytes()).hexdigest(), "file", "test"),))
        for n in names)
    source = Source("cifar10-python-files", files, mirrors=(), discover=("~/.keras/datasets",))
    install(replace(registry.CIFAR10, train_size=20, test_size=4, sources=(source,)))
    _assert_same(load_dataset("cifar10", offline=True), arrays)


def test_cifar100_fine_and_coarse_from_binary_and_python(install, mirrored):
    x, labels = cifar_arrays(7, 6, 100, 2)  # columns: coarse, fine
    xt, lt = cifar_arrays(8, 3, 100, 2)
    binary = tar_gz({"cifar-100-binary/train.bin": cifar_record_bytes(x, labels),
                     "cifar-100-binary/test.bin": cifar_record_bytes(xt, lt)})
    python = tar_gz({
        "cifar-100-python/train": cifar_python_batch(x, {"coarse_labels": labels[:, 0], "fine_labels": labels[:, 1]}),
        "cifar-100-python/test": cifar_python_batch(xt, {"coarse_labels": lt[:, 0], "fine_labels": lt[:, 1]}),
    })
    for fmt, name, data in (("cifar100-binary", "cifar-100-binary.tar.gz", binary),
                            ("cifar100-python", "cifar-100-python.tar.gz", python)):
        serve(mirrored, "cifar100", {name: data})
        install(archive_spec(registry.CIFAR100, fmt, name, data, n_train=6, n_test=3))
        cache.decoded_dir("cifar100").joinpath("manifest.json").unlink(missing_ok=True)
        (x_train, y_fine), (x_test, y_test) = load_dataset("cifar100", progress=False)
        (_, y_coarse), (_, y_test_coarse) = load_dataset("cifar100", label_mode="coarse")
        np.testing.assert_array_equal(x_train, x)
        np.testing.assert_array_equal(y_fine, labels[:, 1:])
        np.testing.assert_array_equal(y_coarse, labels[:, :1])
        np.testing.assert_array_equal(y_test_coarse, lt[:, :1])
        assert y_fine.shape == (6, 1)


def test_a_cifar_archive_with_a_malicious_pickle_is_refused(install, mirrored, tmp_path):
    import os
    import pickle

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    members = {f"cifar-10-batches-py/data_batch_{i}": pickle.dumps({b"data": Exploit()}) for i in range(1, 6)}
    members["cifar-10-batches-py/test_batch"] = pickle.dumps({b"data": Exploit()})
    archive = tar_gz(members)
    serve(mirrored, "cifar10", {"cifar-10-python.tar.gz": archive})
    install(archive_spec(registry.CIFAR10, "cifar10-python", "cifar-10-python.tar.gz", archive, n_train=20, n_test=4))
    with pytest.raises(DatasetError, match="refusing to unpickle"):
        load_dataset("cifar10", progress=False)
    assert not (tmp_path / "pwned").exists()


def test_label_mode_is_checked():
    with pytest.raises(DatasetError, match="only for cifar100"):
        load_dataset("digits", label_mode="coarse")
    with pytest.raises(DatasetError, match="use 'fine' or 'coarse'"):
        load_dataset("cifar100", label_mode="medium")
