"""keras.datasets.<name>.load_data() goes through cnnlab's verified loaders, offline here."""

import numpy as np
import pytest
from helpers.datasets import gz, idx_dataset, idx_spec, write_files

from cnnlab import keras
from cnnlab.datasets import cache, registry
from cnnlab.models.layers import ModelError


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_load_data_returns_the_verified_arrays_as_keras_shapes_them(name, tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    arrays, raw = idx_dataset(seed=3)
    files = {file: gz(data) for file, data in raw.items()}
    base = registry.DATASETS[name]
    monkeypatch.setitem(registry.DATASETS, name, idx_spec(base, raw, by="file", files=files))
    write_files(cache.dataset_dir(name), files)
    (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    assert x_train.shape == (30, 28, 28) and y_test.shape == (10,) and x_train.dtype == np.uint8
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"), (y_test, "y_test")):
        np.testing.assert_array_equal(got, arrays[key])


def test_a_download_path_is_refused_with_the_reason():
    with pytest.raises(ModelError, match="path= is not supported"):
        keras.datasets.mnist.load_data(path="mnist.npz")
    with pytest.raises(ModelError, match="label_mode= is"):
        keras.datasets.cifar100.load_data(path="x")
