"""The specs are data: check that the data is well formed and says what the issue asks."""

import re

import pytest

from cnnlab.datasets import registry
from cnnlab.datasets.decoders import DECODERS

SPECS = list(registry.DATASETS.values())
HEX_LENGTH = {"md5": 32, "sha256": 64}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_file_has_cited_well_formed_hashes(spec):
    for source in spec.sources:
        assert source.format in DECODERS
        assert all(m.startswith(("http://", "https://")) and m.endswith("/") for m in source.mirrors)
        for file in source.files:
            assert file.checksums, file.name
            for c in file.checksums:
                assert re.fullmatch(f"[0-9a-f]{{{HEX_LENGTH[c.algo]}}}", c.digest), (file.name, c)
                assert c.of in ("file", "content") and c.source.strip(), (file.name, c)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_class_names_match_the_shapes(spec):
    assert len(set(spec.class_names)) == spec.num_classes
    assert spec.input_shape[2] in (1, 3)


def test_mirror_order_as_the_issue_asks():
    mnist = registry.MNIST.sources[0].mirrors
    assert mnist[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert mnist[-1] == "http://yann.lecun.com/exdb/mnist/"
    assert registry.FASHION_MNIST.sources[0].mirrors[0].startswith("http://fashion-mnist.s3-website")
    assert registry.CIFAR10.sources[0].format == "cifar10-binary"  # binary first: no pickle
    assert registry.CIFAR100.sources[0].format == "cifar100-binary"


def test_fashion_mnist_is_checked_on_content_so_debian_passes():
    assert all(any(c.of == "content" for c in f.checksums) for f in registry.FASHION_MNIST.sources[0].files)


def test_cifar100_has_100_fine_and_20_coarse_names():
    assert len(registry.CIFAR100_FINE) == 100 and len(registry.CIFAR100_COARSE) == 20


@pytest.mark.parametrize("name, expected", [("MNIST", "mnist"), ("fashion-mnist", "fashion_mnist"),
                                            ("fmnist", "fashion_mnist"), ("cifar-100", "cifar100"),
                                            ("svhn", None)])
def test_lookup(name, expected):
    spec = registry.lookup(name)
    assert (spec.name if spec else None) == expected
