"""From names to tensors: a dataset and a model reference, resolved and checked for a run.

Everything here validates before anything is written, so a bad dataset, model or setting
ends the command with one message and no run folder. `prepare_data` is deterministic in the
settings, which is what lets `--resume` rebuild exactly the split a run started with.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnnlab.errors import CnnlabError
from cnnlab.models.layers import ModelSpec
from cnnlab.settings import TrainSettings
from cnnlab.train.data import stratified_split
from cnnlab.train.loop import Arrays

TEST_AS_VALIDATION_NOTE = (
    "note: validating on the test set (--validation test), as the lesson does: the test set "
    "then steers your choices and is no longer unseen data; its accuracy is an optimistic estimate"
)


@dataclass
class Dataset:
    name: str
    input_shape: tuple[int, int, int]
    class_names: list[str]
    train: Arrays
    test: Arrays
    source: str = ""  # the registry name, or the image folder's absolute path
    fingerprint: str = ""  # datasets.fingerprint of the arrays: tells if the data changed
    resize: tuple[int, int] | None = None  # (H, W) every image was resized to, if any
    # x_train, y_train, x_test, y_test as loaded (sharing the images' memory): for older fingerprints
    arrays: tuple = field(default=(), repr=False, compare=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class Splits:
    train: Arrays
    validation: Arrays | None
    test: Arrays
    pixel_mean: float  # of the training images: tells predict whether the data is dark


def open_dataset(name: str, resize: tuple[int, int] | None = None) -> Dataset:
    """The whole dataset in memory, checked against its metadata; `resize` (H, W) rescales
    every image (the lesson's stand-in digits are too small for its models)."""
    from cnnlab.datasets import dataset_meta
    from cnnlab.datasets.api import dataset_source, load_fingerprinted

    meta = dataset_meta(name)
    (x_train, y_train), (x_test, y_test), fingerprint = load_fingerprinted(name, resize=resize)
    train, test = Arrays.of(x_train, y_train, "training"), Arrays.of(x_test, y_test, "test")
    shape = tuple(meta.input_shape) if resize is None else (*resize, meta.input_shape[2])
    assert tuple(train.x.shape[1:]) == shape, f"{name}: images are {tuple(train.x.shape[1:])}, expected {shape}"
    return Dataset(meta.name, shape, list(meta.class_names), train, test, source=dataset_source(name),
                   fingerprint=fingerprint, resize=resize, arrays=(x_train, y_train, x_test, y_test))


def open_recorded_dataset(record: dict) -> Dataset:
    """The dataset a run recorded (config.json "dataset"), refused if its data changed since."""
    from cnnlab.datasets.api import same_data

    source = record.get("source") or record["name"]
    resize = record.get("resize")
    data = open_dataset(source, tuple(resize) if resize else None)
    if record.get("fingerprint") and not same_data(record["fingerprint"], data.arrays, data.fingerprint):
        raise CnnlabError(f"the data at {source} is not what this run trained on (its images or labels "
                          "changed since); restore that data, or train a new run on this one")
    return data


def resolve_model(ref: str | ModelSpec, dataset: Dataset) -> ModelSpec:
    """The model spec with the dataset's input shape; ModelError when it does not fit the data."""
    from cnnlab.models.shapes import analyze
    from cnnlab.models.source import load_model

    spec = load_model(ref, input_shape=dataset.input_shape, classes=dataset.num_classes)
    report = analyze(spec)
    if tuple(report.output_shape) != (dataset.num_classes,):
        raise CnnlabError(
            f"model {spec.name!r} outputs shape {tuple(report.output_shape)} but {dataset.name} has "
            f"{dataset.num_classes} classes; end the model with Flatten() and Dense({dataset.num_classes})"
        )
    return spec


def prepare_data(dataset: Dataset, settings: TrainSettings) -> Splits:
    train = dataset.train
    if settings.train_subset is not None:
        if settings.train_subset > len(train):
            raise CnnlabError(
                f"--train-subset {settings.train_subset} is more than the {len(train):,} "
                f"training images of {dataset.name}"
            )
        train = Arrays(train.x[: settings.train_subset], train.y[: settings.train_subset])
    validation = None
    if settings.validation == "test":
        validation = dataset.test
    elif settings.validation_split > 0:
        kept, held = stratified_split(train.y.numpy(), settings.validation_split, settings.seed)
        if len(kept) == 0 or len(held) == 0:
            raise CnnlabError(
                f"--validation-split {settings.validation_split} of {len(train)} images leaves "
                "nothing to train or validate on"
            )
        kept_t, held_t = map(_index, (kept, held))
        train, validation = Arrays(train.x[kept_t], train.y[kept_t]), Arrays(train.x[held_t], train.y[held_t])
    pixel_mean = float(train.x.numpy().mean(dtype=np.float64)) if len(train) else 0.0
    return Splits(train, validation, dataset.test, pixel_mean)


def _index(indices: np.ndarray):
    import torch

    return torch.from_numpy(indices)
