"""Facts read off a training history: the best epoch, and where overfitting starts.

The overfitting rule (what `detect_overfitting` checks), chosen to ignore epoch-to-epoch noise:

1. The candidate onset is the epoch with the lowest val_loss (the first one, on ties):
   after it, the model stops getting better on data it does not train on.
2. At least `patience` (2) epochs must follow it; one bad epoch is noise, not a trend.
3. val_loss must have risen for real: the mean of the last (up to 3) epochs is more than
   `min_rise` (5%) above the minimum. Averaging the tail keeps a single spike from counting.
4. Training loss must keep falling meanwhile: the mean of the same last epochs is lower than
   the training loss at the onset. (Both rising is divergence, not overfitting.)

When all four hold, overfitting starts after the onset epoch: val_loss rises while loss falls.
"""

from __future__ import annotations

import dataclasses
import math

from cnnlab.rundir import History

PATIENCE = 2  # epochs after the val_loss minimum before a rise can count
MIN_RISE = 0.05  # relative rise of val_loss above its minimum that counts as real
TAIL = 3  # epochs averaged at the end to smooth out noise


@dataclasses.dataclass(frozen=True)
class Overfitting:
    onset_epoch: int  # the epoch of the lowest val_loss; it rises afterwards
    min_val_loss: float
    end_val_loss: float  # mean over the last epochs, tail_from_epoch..last_epoch
    loss_at_onset: float
    end_loss: float  # mean over the same last epochs
    tail_from_epoch: int
    last_epoch: int

    @property
    def rise(self) -> float:
        """Relative rise of val_loss above its minimum, e.g. 0.3 for +30%."""
        return self.end_val_loss / self.min_val_loss - 1 if self.min_val_loss > 0 else math.inf


def best_epoch(history: History) -> int | None:
    """Index (0-based) of the highest val_accuracy, the first on ties; the lowest val_loss
    when there is no val_accuracy; None without validation data."""
    if _finite(history.val_accuracy):
        return _arg(history.val_accuracy, max)
    if _finite(history.val_loss):
        return _arg(history.val_loss, min)
    return None


def detect_overfitting(
    history: History, *, patience: int = PATIENCE, min_rise: float = MIN_RISE, tail: int = TAIL
) -> Overfitting | None:
    """The epoch where val_loss starts rising while loss keeps falling (rules in the module
    docstring), or None when the history shows no such turn."""
    found = judge_overfitting(history, patience=patience, min_rise=min_rise, tail=tail)
    return found if isinstance(found, Overfitting) else None


def judge_overfitting(
    history: History, *, patience: int = PATIENCE, min_rise: float = MIN_RISE, tail: int = TAIL
) -> Overfitting | str:
    """The rule of the module docstring applied once: the Overfitting found, or in words the
    step of the rule the history does not meet."""
    val, loss = history.val_loss, history.loss
    if not _finite(val):
        return "val_loss was never a number"
    onset = _arg(val, min)
    after = len(val) - 1 - onset
    if after == 0:
        return f"val_loss is at its lowest, {val[onset]:.3f}, at the last epoch"
    if after < patience:
        return (f"val_loss was lowest at epoch {history.epoch[onset]}, {after} epoch before the end: "
                "too soon to call a trend")
    n_tail = min(tail, after)
    end_val = _mean(val[-n_tail:])
    if not end_val > val[onset] * (1 + min_rise):
        return (f"val_loss stays within {min_rise:.0%} of its lowest value, {val[onset]:.3f} "
                f"(epoch {history.epoch[onset]})")
    if len(loss) != len(val):
        return "val_loss rose, but there is no training loss for every epoch to compare it with"
    end_loss = _mean(loss[-n_tail:])
    if not end_loss < loss[onset]:
        return "val_loss rose, but so did the training loss, so this is not overfitting"
    return Overfitting(
        onset_epoch=history.epoch[onset],
        min_val_loss=val[onset],
        end_val_loss=end_val,
        loss_at_onset=loss[onset],
        end_loss=end_loss,
        tail_from_epoch=history.epoch[-n_tail],
        last_epoch=history.epoch[-1],
    )


def generalisation_gap(history: History) -> float | None:
    """Training minus validation accuracy at the last epoch (0.05 = 5 points)."""
    if not history.accuracy or not history.val_accuracy:
        return None
    gap = history.accuracy[-1] - history.val_accuracy[-1]
    return None if math.isnan(gap) else gap


def _finite(values: list[float]) -> bool:
    return any(math.isfinite(v) for v in values)


def _arg(values: list[float], pick) -> int:
    """Index of the first min/max among the finite values (NaN epochs are skipped)."""
    finite = [(v, i) for i, v in enumerate(values) if math.isfinite(v)]
    target = pick(v for v, _ in finite)
    return next(i for v, i in finite if v == target)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan
