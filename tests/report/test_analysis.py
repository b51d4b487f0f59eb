"""The overfitting detector and the best epoch on synthetic histories."""

import math

from helpers.runs import curve

from cnnlab.report.analysis import best_epoch, detect_overfitting, generalisation_gap
from cnnlab.rundir import History


def history(loss, val_loss, **more):
    return History.from_columns(loss=loss, val_loss=val_loss, **more)


def test_clear_overfitting_found_at_the_val_loss_minimum():
    h = history(curve(12, 2.0, 0.2), curve(12, 2.1, 0.3, turn=5, rise=0.08))
    found = detect_overfitting(h)
    assert found is not None
    assert found.onset_epoch == 6  # epochs are 1-based, the minimum is at index 5
    assert found.last_epoch == 12 and found.tail_from_epoch == 10
    assert math.isclose(found.end_val_loss, sum(h.val_loss[-3:]) / 3)
    assert found.end_loss < found.loss_at_onset
    assert found.rise > 0.05


def test_steadily_improving_run_is_not_overfitting():
    assert detect_overfitting(history(curve(10, 2.0, 0.2), curve(10, 2.1, 0.3))) is None


def test_one_noisy_spike_at_the_end_is_not_a_trend():
    val = curve(10, 2.1, 0.3)
    val[-1] *= 1.10  # the last epoch jumps 10%: the mean of the last 3 rises ~3%, under 5%
    assert detect_overfitting(history(curve(10, 2.0, 0.2), val)) is None


def test_noise_around_a_plateau_is_not_overfitting():
    val = [1.0, 0.6, 0.5, 0.48, 0.49, 0.47, 0.485, 0.48, 0.49, 0.475]
    assert detect_overfitting(history(curve(10, 2.0, 0.2), val)) is None


def test_minimum_too_close_to_the_end():
    val = [1.0, 0.8, 0.6, 0.5, 0.4, 0.7]  # one epoch after the minimum: could be noise
    assert detect_overfitting(history(curve(6, 2.0, 0.2), val)) is None
    assert detect_overfitting(history(curve(7, 2.0, 0.2), [*val, 0.8])) is not None


def test_both_losses_rising_is_divergence_not_overfitting():
    loss = [1.0, 0.8, 0.6, 0.7, 0.9, 1.1]
    val = [1.1, 0.9, 0.7, 0.8, 1.0, 1.2]
    assert detect_overfitting(history(loss, val)) is None


def test_thresholds_are_parameters():
    val = [1.0, 0.8, 0.6, 0.62, 0.63, 0.64]  # +5.0% rise on average at the end
    loss = [1.0, 0.7, 0.5, 0.4, 0.3, 0.2]
    assert detect_overfitting(history(loss, val)) is None
    assert detect_overfitting(history(loss, val), min_rise=0.02).onset_epoch == 3


def test_nan_epochs_are_skipped():
    val = [1.0, math.nan, 0.5, 0.7, 0.8, 0.9]
    assert detect_overfitting(history([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], val)).onset_epoch == 3
    assert detect_overfitting(history([1.0, 0.9], [math.nan, math.nan])) is None


def test_without_validation_there_is_nothing_to_detect():
    assert detect_overfitting(History.from_columns(loss=[1.0, 0.5, 0.2])) is None
    assert best_epoch(History.from_columns(loss=[1.0, 0.5, 0.2])) is None


def test_best_epoch_is_the_first_highest_val_accuracy():
    h = History.from_columns(val_accuracy=[0.5, 0.7, 0.7, 0.6], val_loss=[1, 0.5, 0.4, 0.6])
    assert best_epoch(h) == 1
    assert best_epoch(History.from_columns(val_loss=[1.0, 0.4, 0.6])) == 1


def test_generalisation_gap():
    h = History.from_columns(accuracy=[0.5, 0.9], val_accuracy=[0.5, 0.8])
    assert math.isclose(generalisation_gap(h), 0.1)
    assert generalisation_gap(History.from_columns(accuracy=[0.5])) is None
