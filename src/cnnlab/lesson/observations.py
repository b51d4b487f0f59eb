"""The lesson page's "Observations": every sentence computed from this run's numbers."""

from __future__ import annotations

from dataclasses import dataclass

from cnnlab.lesson.answers import ModelComparison
from cnnlab.report.analysis import generalisation_gap
from cnnlab.report.sentences import gap_words, overfitting_sentence, pct, points


@dataclass(frozen=True)
class Roles:
    """Which trained model plays which part in the comparisons (each edition names its own)."""

    base: str = "cifar_model_small"  # the lesson's model
    extra: str = "cifar_model"  # with the extra Conv2D
    dense: str = "dense_only"
    dense_against: str = "cifar_model"  # the CNN the dense-only model is compared with
    dropout: str = "cifar_model_dropout"
    dropout_against: str = "cifar_model"  # the same model without dropout
    dropout_label: str = "Dropout(0.2)"
    extra_label: str = "the extra Conv2D"


CIFAR_ROLES = Roles()


def observations(q3: ModelComparison, datasets, roles: Roles = CIFAR_ROLES) -> list[str]:
    found = [_parameters(q3, roles)]
    for d in datasets:
        if d.error:
            found.append(f"{d.name} could not be used: {d.error}")
            continue
        if not d.rows:
            continue
        by_model = {r.model: r for r in d.rows}
        found.append(_accuracies(d.name, d.rows))
        found += [s for s in (_extra_conv(d.name, by_model, d.comparison, roles),
                              _dense_only(d.name, by_model, roles), _dropout(d.name, by_model, roles),
                              _confusions(d.name, d.rows)) if s]
        for r in d.rows:
            sentence = overfitting_sentence(f"On {d.name}, `{r.model}`", r.run.history)
            if sentence:
                found.append(sentence)
    found += [s for s in (_difficulty(datasets),) if s]
    return found


def _parameters(q3: ModelComparison, roles: Roles = CIFAR_ROLES) -> str:
    small, extra = q3.without, q3.with_extra
    flat_small = next(r for r in small.layers if r.layer.kind == "Flatten")
    flat_extra = next(r for r in extra.layers if r.layer.kind == "Flatten")
    fewer = extra.total < small.total
    return (
        f"`{extra.spec.name}` has {'fewer' if fewer else 'more'} parameters than `{small.spec.name}` "
        f"({extra.total:,} vs {small.total:,} on {_dims(small.input_shape)} images): "
        f"{roles.extra_label.replace('the ', 'its ', 1)} turns the {_dims(flat_small.input_shape)} feature maps into {_dims(flat_extra.input_shape)}, "
        f"so Flatten hands {flat_extra.output_shape[0]:,} instead of {flat_small.output_shape[0]:,} "
        f"values to the Dense layer."
    )


def _accuracies(name: str, rows) -> str:
    ranked = sorted((r for r in rows if r.test_accuracy is not None), key=lambda r: -r.test_accuracy)
    listed = ", ".join(f"`{r.model}` {pct(r.test_accuracy)}" for r in ranked)
    return f"Test accuracy on {name}, best first: {listed}."


def _extra_conv(name: str, by_model, comparison: ModelComparison | None, roles: Roles = CIFAR_ROLES) -> str | None:
    a, b = by_model.get(roles.extra), by_model.get(roles.base)
    if not (a and b and a.test_accuracy is not None and b.test_accuracy is not None):
        return None
    diff = a.test_accuracy - b.test_accuracy
    how = "the same" if abs(diff) < 0.001 else ("higher" if diff > 0 else "lower")
    size = ""
    if comparison is not None:
        w, s = comparison.with_extra.total, comparison.without.total
        size = f" with {abs(1 - w / s):.0%} {'fewer' if w < s else 'more'} parameters ({w:,} vs {s:,})"
    gap = "" if how == "the same" else f" ({points(diff)})"
    return (f"On {name}, {roles.extra_label} gives {how} test accuracy{gap}{size}: "
            f"{pct(a.test_accuracy)} against {pct(b.test_accuracy)}.")


def _dense_only(name: str, by_model, roles: Roles = CIFAR_ROLES) -> str | None:
    d, c = by_model.get(roles.dense), by_model.get(roles.dense_against)
    if not (d and c and d.test_accuracy is not None and c.test_accuracy is not None and d.params and c.params):
        return None
    diff = c.test_accuracy - d.test_accuracy
    if abs(diff) < 0.001:
        verdict = "just as accurate as"
    else:
        verdict = f"{points(diff)} {'less' if diff > 0 else 'more'} accurate than"
    return (f"On {name}, the dense-only model uses {d.params / c.params:.1f} times the parameters of "
            f"`{roles.dense_against}` ({d.params:,} vs {c.params:,}) and is {verdict} it "
            f"({pct(d.test_accuracy)} vs {pct(c.test_accuracy)}).")


def _dropout(name: str, by_model, roles: Roles = CIFAR_ROLES) -> str | None:
    d, c = by_model.get(roles.dropout), by_model.get(roles.dropout_against)
    if not (d and c):
        return None
    gd, gc = generalisation_gap(d.run.history), generalisation_gap(c.run.history)
    if gd is None or gc is None:
        return None
    sentence = f"On {name}, at the last epoch with {roles.dropout_label} {gap_words(gd)}; without it {gap_words(gc)}"
    if gc > 0.01 and abs(gd) < gc - 0.01:
        sentence += ": dropout narrows the gap"
    elif gc > 0.01 and gd > gc + 0.01:
        sentence += ": dropout does not narrow it here"
    if d.test_accuracy is not None and c.test_accuracy is not None:
        sentence += f"; test accuracy {pct(d.test_accuracy)} with dropout, {pct(c.test_accuracy)} without"
    return sentence + "."


def _confusions(name: str, rows) -> str | None:
    finished = [r for r in rows if r.test_accuracy is not None and r.run.metrics]
    if not finished:
        return None
    best = max(finished, key=lambda r: r.test_accuracy)
    matrix = best.run.metrics.get("confusion_matrix")
    classes = best.run.metrics.get("class_names")
    if not matrix or not classes:
        return None
    n = len(matrix)
    errors = sum(matrix[i][j] for i in range(n) for j in range(n) if i != j)
    if errors == 0:
        return f"On {name}, `{best.model}` makes no mistake on the test set."
    pairs = sorted(((matrix[i][j] + matrix[j][i], i, j) for i in range(n) for j in range(i + 1, n)), reverse=True)
    count, i, j = pairs[0]
    a_as_b, b_as_a = matrix[i][j], matrix[j][i]
    return (f"On {name}, the pair `{best.model}` confuses most is {classes[i]} and {classes[j]}: "
            f"{count:,} test images ({a_as_b:,} {classes[i]} taken for {classes[j]}, {b_as_a:,} the other way), "
            f"{count / errors:.0%} of its {errors:,} mistakes.")


def _difficulty(datasets) -> str | None:
    best = []
    for d in datasets:
        scored = [r for r in d.rows if r.test_accuracy is not None]
        if scored:
            top = max(scored, key=lambda r: r.test_accuracy)
            best.append((top.test_accuracy, d.name, top.model))
    if len(best) < 2:
        return None
    best.sort(reverse=True)
    listed = ", ".join(f"{name} {pct(acc)} (`{model}`)" for acc, name, model in best)
    return (f"Best test accuracy per dataset: {listed}: {best[-1][1]} is the hardest of these for the "
            f"lesson's models, {best[0][1]} the easiest.")


def _dims(shape) -> str:
    return "x".join(map(str, shape))
