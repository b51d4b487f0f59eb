"""The lesson's editions: CIFAR-10 (run.py's `run_lesson`, the default) and Dollar Street 10,
the edition the Carpentries teach since 2024 (64x64x3 photos of household objects).

    result = run_dollar_street("data/dataset_dollarstreet", quick=True)
    result.questions            # (heading, Answer, summaries) in the page's order
    result.datasets[0].rows     # one compare.RunRow per trained model

The questions come from the model code (dollar_street.py); the models train as the lesson
trains them (Adam, from-logits loss, validation on the test files, 10 epochs, 20 for the
dense-only and dropout models) into `<out>/<dataset>/<model>/`, and the page is page.py's.
With no copy of the data the page still answers every question and says how to fetch it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.lesson import dollar_street as ds
from cnnlab.lesson.observations import Roles
from cnnlab.lesson.run import DatasetResult, LessonResult, train_models

EDITIONS = ("cifar", "dollar-street")
DOLLAR_STREET = "dollar_street"  # the registry name: finds data/dataset_dollarstreet by itself

# The models the edition trains, in the page's order: (what each is for, the lesson's epochs).
DOLLAR_STREET_MODELS = {
    "dollar_street_model": ("the lesson's CNN (create_nn)", 10),
    "dollar_street_dense": ("dense layers only, for comparison", 20),
    "dollar_street_model_extra": ("with the extra Conv2D + MaxPooling2D (network depth)", 10),
    "dollar_street_model_dropout": ("the extra-layer model with Dropout(0.8) after each pooling", 20),
}
QUICK_DIVISOR = 5  # --quick: a fifth of the lesson's epochs (2 and 4)
QUICK_TUNING_EPOCHS = 1  # --quick: one epoch per sweep run (the grids stay whole)
SEEDS, QUICK_SEEDS = 3, 2  # seeds per tuning setting: mean ± std needs two or more
ROLES = Roles(base="dollar_street_model", extra="dollar_street_model_extra", dense="dollar_street_dense",
              dense_against="dollar_street_model", dropout="dollar_street_model_dropout",
              dropout_against="dollar_street_model_extra", dropout_label="Dropout(0.8)",
              extra_label="the extra Conv2D + MaxPooling2D")


def model_epochs(models: dict, *, epochs: int | None, quick: bool) -> dict[str, int]:
    """Epochs per model: --epochs for all, else the lesson's (a fifth of them with --quick)."""
    if epochs is not None:
        return dict.fromkeys(models, epochs)
    return {m: max(1, e // QUICK_DIVISOR) if quick else e for m, (_, e) in models.items()}


def dollar_street_questions():
    """(heading, Answer, model reports to show) for every question, in the lesson's order."""
    features = ds.answer_features()
    q1 = ds.answer_dense()
    q2 = ds.answer_conv(q1)
    most = ds.answer_most_params()
    depth = ds.answer_depth()
    dropout = ds.answer_dropout()
    questions = [
        ("Number of features", features, []),
        ("Question 1: a Dense layer on the pixels", q1, []),
        ("Question 2: a convolutional layer", q2, []),
        ("Which layer has the most parameters?", most.answer, [most.model]),
        ("Network depth", depth.answer, [depth.without, depth.with_extra]),
        ("Dropout", dropout.answer, [dropout.with_dropout]),
    ]
    return q1, q2, depth, questions


def run_dollar_street(
    dataset: str = DOLLAR_STREET,
    *,
    epochs: int | None = None,
    quick: bool = False,
    out: str | Path = "runs/lesson",
    seed: int = 0,
    quiet: bool = False,
    models: dict | None = None,
    tuning: bool = True,
    seeds: int | None = None,
    threads: int | None = None,
    say=print,
) -> LessonResult:
    """Answer the edition's questions, train its models on `dataset`, then (tuning) the dropout
    sweep and the grid search with `seeds` seeds per setting; write `<out>/index.html`."""
    from cnnlab.settings import TrainSettings

    out = Path(out)
    models = models or DOLLAR_STREET_MODELS
    per_model = model_epochs(models, epochs=epochs, quick=quick)
    settings = TrainSettings.from_dict({"epochs": max(per_model.values()), "seed": seed, "validation": "test",
                                        "threads": threads})

    q1, q2, depth, questions = dollar_street_questions()
    from cnnlab.models.summary import format_summary

    for heading, answer, reports in questions:
        say(f"{heading}. {answer.question}\n  {answer.text}\n  $ {answer.command}\n")
        for report in reports:
            say(format_summary(report, line_length=76))

    trained, data = _train(dataset, models, per_model, settings, out, quiet, say)
    tuned = []
    if tuning and data is not None:
        tuned = _tune(data, settings, out / data.name, epochs=epochs, quick=quick,
                      seeds=seeds or (QUICK_SEEDS if quick else SEEDS), say=say)

    from cnnlab.lesson.observations import observations
    from cnnlab.lesson.tuning import tuning_sentence

    found = observations(depth, [trained], ROLES) + [s for s in map(tuning_sentence, tuned) if s]
    say("Observations")
    for sentence in found:
        say(f"  - {sentence.replace('`', '')}")
    epochs_text = ", ".join(f"{m} {e}" for m, e in per_model.items())
    result = LessonResult(
        q1, q2, depth, [trained], found, None, settings.to_dict(), questions=questions, tuning=tuned,
        title="The CNN lesson, Dollar Street 10 edition, answered",
        subtitle=(f"Exercise page of the Carpentries “Introduction to deep learning” CNN episode on Dollar "
                  f"Street 10; epochs: {epochs_text}; validation on the test files; seed {seed}"),
    )
    from cnnlab.lesson.page import write_lesson_page

    result.report = write_lesson_page(result, out / "index.html")
    say(f"\nReport: {result.report}")
    return result


def _tune(data, settings, out: Path, *, epochs: int | None, quick: bool, seeds: int, say) -> list:
    from cnnlab.lesson import tuning

    def tuning_epochs(lesson: int) -> int:
        if epochs is not None:
            return epochs
        return QUICK_TUNING_EPOCHS if quick else lesson

    return [tuning.dropout_sweep(data, settings, seeds=seeds, epochs=tuning_epochs(tuning.SWEEP_EPOCHS),
                                 out=out, say=say),
            tuning.grid_search(data, settings, seeds=seeds, epochs=tuning_epochs(tuning.GRID_EPOCHS),
                               out=out, say=say)]


def _train(dataset: str, models: dict, per_model: dict[str, int], settings, out: Path, quiet, say):
    from cnnlab.datasets.npy_folder import how_to_fetch
    from cnnlab.datasets.registry import DOLLAR_STREET as SPEC
    from cnnlab.models.presets import PRESETS
    from cnnlab.report.compare import load_rows
    from cnnlab.train.session import open_dataset

    try:
        data = open_dataset(dataset)
    except CnnlabError as e:
        error = str(e) if "wget" in str(e) else f"{e}. To get Dollar Street 10, {how_to_fetch(SPEC)}"
        say(f"Training: {dataset} is not available, so nothing is trained: {error}")
        return DatasetResult(dataset, [], None, error=error, heading="Training on Dollar Street 10"), None
    heading = f"Training on Dollar Street 10 ({data.name})" if data.name != DOLLAR_STREET else \
        "Training on Dollar Street 10"
    say(f"Training {len(models)} models on {len(data.train):,} images of {data.name}, validated on its "
        f"{len(data.test):,} test images.")
    trained = train_models(data, {m: dataclasses.replace(settings, epochs=per_model[m]) for m in models},
                           out / data.name, quiet, say)
    commands = [f"cnnlab train {model} --dataset {dataset} --epochs {per_model[model]} "
                f"--validation test --seed {settings.seed}" for model in trained]
    run_dirs = list(trained.values())
    rows = load_rows(run_dirs) if len(run_dirs) >= 2 else []
    comparison = None
    try:  # the network-depth answer on this data's own image shape and classes
        comparison = ds.answer_depth(PRESETS[ROLES.base].spec(data.input_shape, data.num_classes),
                                     PRESETS[ROLES.extra].spec(data.input_shape, data.num_classes))
    except CnnlabError as e:
        say(f"  the network-depth question does not apply to {data.name}: {e}")
    return DatasetResult(data.name, rows, comparison, heading=heading, commands=commands), data
