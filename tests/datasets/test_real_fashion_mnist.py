"""The real Fashion-MNIST from Debian's dataset-fashion-mnist (re-gzipped upstream files),
where it is installed (`make system-deps` installs it when apt and root are available)."""

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from cnnlab.datasets import load_dataset, registry

DEBIAN = Path("/usr/share/datasets/fashion-mnist")

pytestmark = pytest.mark.skipif(not DEBIAN.is_dir(), reason="dataset-fashion-mnist is not installed")


def test_debian_files_have_the_registry_content_hashes():
    for file in registry.FASHION_MNIST.sources[0].files:
        content = gzip.decompress((DEBIAN / file.name).read_bytes())
        (expected,) = [c.digest for c in file.checksums if c.of == "content"]
        assert hashlib.sha256(content).hexdigest() == expected
    # the value quoted in the issue for the upstream train images
    train = registry.FASHION_MNIST.sources[0].files[0]
    assert train.checksums[0].digest == "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"


def test_loads_offline_with_keras_shapes_and_balanced_classes():
    (x_train, y_train), (x_test, y_test) = load_dataset("fashion_mnist", offline=True, progress=False)
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert 0 < x_train.mean() < 255
