"""Datasets: MNIST, Fashion-MNIST, CIFAR-10/100, scikit-learn digits and image folders,
loaded like keras.datasets, verified, cached, and offline when possible.

    (x_train, y_train), (x_test, y_test) = load_dataset("fashion_mnist")
"""

from cnnlab.datasets.api import DatasetMeta, dataset_meta, known_names, load_dataset
from cnnlab.datasets.cache import cache_root
from cnnlab.datasets.errors import DatasetError
from cnnlab.datasets.formats import FormatError
from cnnlab.datasets.registry import DATASETS, DatasetSpec

__all__ = [
    "DATASETS",
    "DatasetError",
    "DatasetMeta",
    "DatasetSpec",
    "FormatError",
    "cache_root",
    "dataset_meta",
    "known_names",
    "load_dataset",
]
