"""Seeded, stratified validation split and per-epoch orders."""

import numpy as np
import pytest

from cnnlab.train.data import DataError, as_images, as_labels, epoch_order, stratified_split


def test_stratified_split_keeps_class_proportions_and_is_seeded():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    kept, held = stratified_split(y, 0.1, seed=3)
    assert sorted(np.bincount(y[held]).tolist()) == [2, 3, 5, 10]
    assert len(np.intersect1d(kept, held)) == 0 and len(kept) + len(held) == len(y)
    again = stratified_split(y, 0.1, seed=3)
    other = stratified_split(y, 0.1, seed=4)
    assert np.array_equal(held, again[1]) and not np.array_equal(held, other[1])


def test_epoch_order_depends_only_on_seed_and_epoch():
    assert np.array_equal(epoch_order(50, 0, 2), epoch_order(50, 0, 2))
    assert not np.array_equal(epoch_order(50, 0, 1), epoch_order(50, 0, 2))
    assert sorted(epoch_order(50, 1, 0).tolist()) == list(range(50))


def test_arrays_are_checked():
    assert as_images(np.zeros((2, 28, 28), np.uint8)).shape == (2, 28, 28, 1)
    assert as_labels(np.zeros((2, 1), np.uint8), 2).dtype == np.int64
    with pytest.raises(DataError, match=r"dtype float32; expected uint8"):
        as_images(np.zeros((2, 4, 4), np.float32))
    with pytest.raises(DataError, match=r"shape \(3,\); expected \(2,\) or \(2, 1\) labels"):
        as_labels(np.zeros(3, np.int64), 2)
