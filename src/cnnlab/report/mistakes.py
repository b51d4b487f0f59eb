"""The most confident mistakes: picked from the model's probabilities at the end of training,
kept in metrics.json ("mistakes"), checked against the test labels when a report reads them.
numpy only, so that training records them without loading matplotlib."""

from __future__ import annotations

import numpy as np

MISTAKES_SHOWN = 18  # the most confident mistakes in the grid


def most_confident_mistakes(index: np.ndarray, probabilities: np.ndarray, y: np.ndarray):
    """(indices, predicted classes, probabilities) of the MISTAKES_SHOWN wrong answers given
    with the highest probability, among test images `index` with class `probabilities`."""
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(index)), predicted]
    wrong = np.flatnonzero(predicted != y[index])
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:MISTAKES_SHOWN]
    return index[order], predicted[order], confidence[order]


def mistakes_record(index: np.ndarray, predicted: np.ndarray, probability: np.ndarray) -> dict:
    """metrics.json's "mistakes": what the grid shows, kept so that a report needs no model run."""
    return {"index": [int(i) for i in index], "predicted": [int(p) for p in predicted],
            "probability": [float(p) for p in probability]}


def kept_mistakes(record, y: np.ndarray):
    """metrics.json's "mistakes" as (indices, predicted, probabilities), or None where it is
    missing or does not describe wrong answers on these test labels (then the model is asked)."""
    if not isinstance(record, dict):
        return None
    try:
        index = np.asarray(record["index"], dtype=np.int64)
        predicted = np.asarray(record["predicted"], dtype=np.int64)
        probability = np.asarray(record["probability"], dtype=np.float64)
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if not (index.ndim == predicted.ndim == probability.ndim == 1
            and len(index) == len(predicted) == len(probability) <= MISTAKES_SHOWN):
        return None
    if len(index) and (index.min() < 0 or index.max() >= len(y) or not np.all(predicted != y[index])
                       or not np.all((probability >= 0) & (probability <= 1))):
        return None
    return index, predicted, probability
