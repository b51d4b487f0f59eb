from pathlib import Path

import numpy as np

from cnnlab.datasets import cache, registry


def test_cache_root_prefers_cnnlab_home_then_xdg(monkeypatch, tmp_path):
    assert cache.cache_root() == tmp_path / "home"  # set by the isolated fixture
    monkeypatch.delenv("CNNLAB_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_root() == tmp_path / "xdg" / "cnnlab"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache.cache_root() == Path.home() / ".cache" / "cnnlab"


def test_search_order_cache_then_user_folder_then_known_places(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLAB_DATA_DIR", str(tmp_path / "mine"))
    dirs = cache.search_dirs(registry.FASHION_MNIST, registry.FASHION_MNIST.sources[0])
    assert dirs == [tmp_path / "home" / "fashion_mnist", tmp_path / "mine" / "fashion_mnist", tmp_path / "mine",
                    Path("/usr/share/datasets/fashion-mnist"), tmp_path / "keras" / "datasets" / "fashion-mnist"]


def test_keras_archive_names_count_as_aliases(tmp_path, monkeypatch):
    source = registry.CIFAR10.sources[1]
    folder = tmp_path / "keras" / "datasets"
    folder.mkdir(parents=True)
    (folder / "cifar-10-batches-py.tar.gz").write_bytes(b"x")
    found = cache.candidates(source.files[0], cache.search_dirs(registry.CIFAR10, source))
    assert found == [folder / "cifar-10-batches-py.tar.gz"]


def test_decoded_cache_round_trip_and_damage_detection():
    arrays = {"x_train": np.arange(24, dtype=np.uint8).reshape(2, 3, 4), "y_train": np.array([1, 2], np.uint8)}
    assert cache.load_decoded("demo") is None
    cache.save_decoded("demo", arrays, {"format": "idx"})
    loaded = cache.load_decoded("demo")
    np.testing.assert_array_equal(loaded["x_train"], arrays["x_train"])
    assert cache.decoded_info("demo")["format"] == "idx"
    npy = cache.decoded_dir("demo") / "y_train.npy"
    npy.write_bytes(npy.read_bytes() + b"\0")
    assert cache.load_decoded("demo") is None
    assert not list(cache.decoded_dir("demo").glob(".*tmp*"))


def test_only_files_in_our_cache_count_as_ours(tmp_path):
    spec = registry.MNIST
    mine = cache.dataset_dir("mnist") / "a.gz"
    assert cache.is_ours(mine, spec)
    assert not cache.is_ours(tmp_path / "elsewhere" / "a.gz", spec)


def test_decoded_arrays_changed_in_place_are_not_trusted():
    """Zeroing x_train.npy keeps its size, shape and dtype: only the digest notices."""
    arrays = {"x_train": np.arange(1, 25, dtype=np.uint8).reshape(2, 3, 4), "y_train": np.array([1, 2], np.uint8)}
    cache.save_decoded("demo", arrays, {"format": "idx"})
    npy = cache.decoded_dir("demo") / "x_train.npy"
    raw = npy.read_bytes()
    header = len(raw) - arrays["x_train"].nbytes
    npy.write_bytes(raw[:header] + bytes(arrays["x_train"].nbytes))
    assert cache.load_decoded("demo") is None
