"""Sentences about one run, each computed from its numbers (used by reports and comparisons)."""

from __future__ import annotations

from cnnlab.report.analysis import best_epoch, generalisation_gap, judge_overfitting
from cnnlab.rundir import History


def pct(value: float) -> str:
    return f"{value:.1%}"


def points(value: float) -> str:
    """An accuracy difference in percentage points: 0.034 -> '3.4 points'."""
    p = abs(value) * 100
    return f"{p:.1f} point{'' if round(p, 1) == 1 else 's'}"


def gap_words(gap: float) -> str:
    """Training accuracy against val_accuracy (gap = their difference) in words true for either sign:
    0.053 -> 'training accuracy exceeds val_accuracy by 5.3 points', -0.03 -> 'val_accuracy exceeds
    training accuracy by 3.0 points'."""
    if abs(gap) < 0.0005:
        return "training accuracy equals val_accuracy"
    if gap > 0:
        return f"training accuracy exceeds val_accuracy by {points(gap)}"
    return f"val_accuracy exceeds training accuracy by {points(gap)}"


def duration(value: float) -> str:
    """A duration for a sentence: '0.04 s' below a tenth of a second (never '0.0 s' for a time that
    was measured), '0.4 s' and '2.5 s' below ten seconds, '16 s' and '1,234 s' above."""
    if value < 0.001:
        return "under 0.001 s"
    if value < 0.095:
        return f"{value:.1g} s"
    return f"{value:.1f} s" if value < 9.95 else f"{value:,.0f} s"


def best_epoch_sentence(label: str, history: History) -> str | None:
    best = best_epoch(history)
    if best is None or not history.val_accuracy:
        return None
    epoch, last = history.epoch[best], history.epoch[-1]
    where = "at its last epoch" if best == len(history) - 1 else f"at epoch {epoch} of {last}"
    return f"{label} reaches its best val_accuracy, {pct(history.val_accuracy[best])}, {where}."


def overfitting_sentence(label: str, history: History) -> str | None:
    """Where val_loss turns up while loss keeps falling, or that it does not (yet)."""
    if not history.val_loss or len(history) < 2:
        return None
    found = judge_overfitting(history)
    if isinstance(found, str):
        return f"{label} shows no sign of overfitting in {len(history)} epochs: {found}."
    tail = (f"epoch {found.last_epoch}" if found.tail_from_epoch == found.last_epoch
            else f"epochs {found.tail_from_epoch}-{found.last_epoch}")
    return (
        f"{label} starts overfitting after epoch {found.onset_epoch}: val_loss rises from "
        f"{found.min_val_loss:.3f} (its lowest) to {found.end_val_loss:.3f} (mean of {tail}, "
        f"+{found.rise:.0%}) while loss keeps falling from {found.loss_at_onset:.3f} to "
        f"{found.end_loss:.3f}."
    )


def gap_sentence(label: str, history: History) -> str | None:
    gap = generalisation_gap(history)
    if gap is None:
        return None
    train, val = history.accuracy[-1], history.val_accuracy[-1]
    if abs(gap) < 0.0005:
        return f"At the last epoch {label} is as accurate on validation data as on training data ({pct(val)})."
    side = "higher" if gap > 0 else "lower"
    return (f"At the last epoch {label}'s training accuracy ({pct(train)}) is {points(gap)} "
            f"{side} than its val_accuracy ({pct(val)}).")


def run_sentences(label: str, history: History) -> list[str]:
    found = [best_epoch_sentence(label, history), gap_sentence(label, history),
             overfitting_sentence(label, history)]
    return [s for s in found if s]
