"""All pictures of one run, written into `<run>/plots/` (PNG, and SVG if asked): what `cnnlab plot`
draws and `cnnlab report` embeds. A picture that cannot be drawn (no metrics yet, dataset
not on this machine, no saved model) is left out with a note saying why.

The mistakes grid needs the final model's predictions; this package never runs a model. A
finished run keeps its most confident mistakes in metrics.json ("mistakes", written at the end
of training), so the grid is drawn without loading torch; otherwise (a run evaluated again, an
older run) the caller passes a `Predictor` (`cnnlab plot` and `cnnlab report` pass the
training code's `predict`; from Python, `predict=cnnlab.predict`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from cnnlab.errors import CnnlabError
from cnnlab.files import real_subfolder
from cnnlab.report import plots
from cnnlab.report.mistakes import kept_mistakes, most_confident_mistakes
from cnnlab.rundir import METRICS, WEIGHTS, Run

ACCURACY_TOLERANCE = 0.01  # recomputed predictions must agree with metrics.json this closely
Predictor = Callable[[Path, np.ndarray], np.ndarray]  # (run folder, uint8 images) -> probabilities


@dataclasses.dataclass
class Picture:
    key: str  # file stem in plots/, e.g. "confusion_matrix"
    title: str  # section heading in the report
    caption: str
    png: Path


@dataclasses.dataclass
class RunPictures:
    pictures: list[Picture]
    notes: list[str]  # pictures left out, and why

    def get(self, key: str) -> Picture | None:
        return next((p for p in self.pictures if p.key == key), None)


class Painter(Protocol):
    """What draw_run_pictures needs of cnnlab.report.painter.Painter (which imports this module)."""

    keys: list[str]  # the pictures of its job

    def finish(self) -> bool: ...
    def close(self) -> None: ...


def draw_run_pictures(run: Run, *, mistakes: bool = True, samples: bool = True,
                      formats: tuple[str, ...] = plots.RUN_FORMATS, predict: Predictor | None = None,
                      keys: Sequence[str] | None = None, painter: Painter | None = None) -> RunPictures:
    """Curves always; confusion matrix and per-class bars from metrics.json; the samples grid
    from the test set; the mistakes grid from `predict` on the saved model. `formats` must
    include png (the report embeds it). `keys`: only these pictures. `painter`: a started
    Painter given its job already (the same run and formats): its pictures are left to it."""
    assert "png" in formats, f"formats {formats} must include png"
    out = real_subfolder(run.path, plots.PLOTS_DIR)
    result = RunPictures([], [])
    figures = {}  # key -> a function drawing its Figure, in the report's order
    stamps = {}  # key -> the inputs stamp of a picture drawn from values alone

    def add(key, title, caption, figure, stamp=None):
        if keys is None or key in keys:
            result.pictures.append(Picture(key, title, caption, out / f"{key}.png"))
            figures[key] = figure
            if stamp is not None:
                stamps[key] = stamp

    curves_title = plots.curves_title(run)
    add("training_curves", "Training curves",
        "Solid: training data; dashed: validation data. The star marks the best epoch "
        "(highest val_accuracy); a shaded band marks overfitting.",
        lambda: plots.training_curves_figure(run.history, title=curves_title),
        plots.curves_stamp(run.history, curves_title))

    class_names = _class_names(run)
    metrics = run.metrics or {}
    matrix = metrics.get("confusion_matrix")
    if matrix is not None and class_names and _square(matrix, len(class_names)):
        add("confusion_matrix", "Confusion matrix",
            "Rows: true class; columns: predicted class. Left: counts of test images; right: "
            "each row divided by its total, so the diagonal is the accuracy of that class.",
            lambda: plots.confusion_matrix_figure(matrix, class_names),
            plots.inputs_stamp("confusion_matrix", matrix, class_names))
    elif matrix is not None:
        result.notes.append(f"{METRICS}: confusion_matrix does not match {len(class_names)} class names; not drawn")
    per_class = _per_class(metrics.get("per_class_accuracy"), class_names)
    if per_class is not None:
        add("per_class_accuracy", "Per-class accuracy",
            "Share of each class's test images classified correctly.",
            lambda: plots.per_class_accuracy_figure(per_class, class_names, metrics.get("test_accuracy")),
            plots.inputs_stamp("per_class_accuracy", per_class, class_names, metrics.get("test_accuracy")))
    if run.metrics is None and not run.notes:  # run.notes already explains an unfinished run
        result.notes.append("no test metrics yet: the confusion matrix and per-class accuracy "
                            "appear when training has finished")

    if formats == ("png",):  # a PNG drawn from the same values is that picture already
        for key, stamp in stamps.items():
            if plots.png_stamp(out / f"{key}.png") == stamp:
                del figures[key]
    painted = [key for key in painter.keys if key in figures] if painter is not None else []
    if painter is not None and not painted:
        painter.close()  # nothing of its job is wanted: drawn already, or not drawable
    _save(figures, [key for key in figures if key not in painted], out, formats, stamps)

    test = _test_split(run, result.notes) if samples or mistakes else None
    if test is not None and class_names:
        x_test, y_test = test
        if samples:
            add("samples", "Samples per class", "Random test images of each class.",
                lambda: plots.samples_figure(x_test, y_test, class_names))
            _save(figures, ["samples"], out, formats)
        if mistakes and run.finished:  # an unfinished run has no final model to ask
            picked = _most_confident_mistakes(run, x_test, y_test, result.notes, predict)
            if picked is not None:
                index, predicted, probability = picked
                add("mistakes", "Most confident mistakes",
                    f"The {len(index)} test images the model got wrong with the highest probability "
                    "for its (wrong) answer: true class, predicted class and that probability.",
                    lambda: plots.mistakes_figure(x_test[index], y_test[index], predicted, probability, class_names))
                _save(figures, ["mistakes"], out, formats)
    if painted and not painter.finish():
        _save(figures, painted, out, formats, stamps)  # drawn here after all: any error is raised here
    return result


def _save(figures: dict, keys: Sequence[str], out: Path, formats: tuple[str, ...],
          stamps: dict | None = None) -> None:
    for key in keys:
        if key in figures:
            plots.save_figure(figures[key](), out / key, ("png", *(f for f in formats if f != "png")),
                              stamp=(stamps or {}).get(key))


def _class_names(run: Run) -> list[str]:
    dataset = run.config.get("dataset")
    for names in ((run.metrics or {}).get("class_names"),
                  dataset.get("class_names") if isinstance(dataset, dict) else None):
        if isinstance(names, list) and names:
            return [str(n) for n in names]
    if run.dataset:
        try:
            from cnnlab.datasets import dataset_meta

            return dataset_meta(run.dataset).class_names
        except CnnlabError:
            return []
    return []


def _per_class(values, class_names: list[str]) -> list[float] | None:
    """Per-class accuracy in class order, from a {class name: accuracy} map or a list."""
    if isinstance(values, dict) and class_names and set(values) == set(class_names):
        return [float(values[name]) for name in class_names]
    if isinstance(values, list) and class_names and len(values) == len(class_names):
        return [float(v) for v in values]
    return None


def _square(matrix, n: int) -> bool:
    return isinstance(matrix, list) and len(matrix) == n and all(
        isinstance(row, list) and len(row) == n for row in matrix
    )


def _test_split(run: Run, notes: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """The run's test images, from the local cache only (a report never downloads)."""
    if not run.dataset:
        notes.append("config.json names no dataset: no sample images or mistakes")
        return None
    from cnnlab.datasets.api import load_fingerprinted, same_data

    try:
        (x_train, y_train), (x, y), current = load_fingerprinted(run.dataset, offline=True, progress=False,
                                                                 **_dataset_options(run))
    except CnnlabError as e:
        notes.append(f"the {run.dataset} test set is not available here ({e}); "
                     "no sample images or mistakes")
        return None
    recorded = (run.config.get("dataset") or {}).get("fingerprint")
    if recorded and not same_data(recorded, (x_train, y_train, x, y), current):
        notes.append(f"the data at {run.dataset} changed since this run trained: no sample images or mistakes")
        return None
    return x, np.asarray(y).reshape(-1)


def _dataset_options(run: Run) -> dict:
    """The loading options the run was trained with, where its config records them."""
    options = {}
    resize = (run.config.get("dataset") or {}).get("resize")
    if resize:
        options["resize"] = tuple(resize)
    for key in ("resize", "label_mode"):
        value = run.config.get(key, (run.config.get("settings") or {}).get(key))
        if value is not None:
            options[key] = value
    return options


def _most_confident_mistakes(run: Run, x: np.ndarray, y: np.ndarray, notes: list[str],
                             predict: Predictor | None = None):
    """(indices, predicted classes, probabilities) of the wrong answers given with the highest
    probability, from `predict` on the saved model; None with a note otherwise."""
    if run.weights is None:
        notes.append(f"no {WEIGHTS} in the run folder: no mistakes grid")
        return None
    kept = kept_mistakes((run.metrics or {}).get("mistakes"), y)
    if kept is not None:
        return kept
    try:
        probabilities = predict(run.path, x) if predict is not None else predict_probabilities(run, x)
    except (ImportError, CnnlabError) as e:
        notes.append(f"could not predict with the saved model ({e}); no mistakes grid")
        return None
    predicted = probabilities.argmax(axis=1)
    accuracy = float((predicted == y).mean())
    recorded = (run.metrics or {}).get("test_accuracy")
    if isinstance(recorded, (int, float)) and abs(accuracy - recorded) > ACCURACY_TOLERANCE:
        notes.append(f"predictions of the saved model give {accuracy:.1%} test accuracy but "
                     f"{METRICS} records {recorded:.1%}; the mistakes grid is left out")
        return None
    wrong = np.flatnonzero(predicted != y)
    return most_confident_mistakes(wrong, probabilities[wrong], y)


def predict_probabilities(run: Run, x: np.ndarray) -> np.ndarray:
    """What a report does without a Predictor: it cannot run the model itself."""
    raise CnnlabError("no predictor was given; pass predict=cnnlab.predict to draw the mistakes grid")
