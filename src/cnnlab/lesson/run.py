"""`cnnlab lesson`: the CNN episode's exercise page, answered from computed numbers.

    result = run_lesson(["fashion_mnist"], epochs=20)
    result.q1.value, result.q3.with_extra.total     # 307300, 36138
    result.datasets[0].rows                         # one compare.RunRow per trained model
    result.observations                             # sentences computed from this run

Questions 1-3 come from the model code (answers.py); then, per dataset, the lesson's
models are trained with the engine's defaults into `<out>/<dataset>/<model>/` run folders,
and the page (`<out>/index.html`) puts answers, summaries, curves, the comparison and the
observations together (page.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.lesson.answers import Answer, ModelComparison, answer_q1, answer_q2, answer_q3

# The models the page trains, in the order it shows them, and what each one is for.
LESSON_MODELS = {
    "cifar_model_small": "the lesson's CIFAR-10 model",
    "cifar_model": "with the extra Conv2D(32) (question 3)",
    "dense_only": "dense layers only, for comparison",
    "cifar_model_dropout": "with Dropout(0.2)",
}
QUICK = {"epochs": 3, "train_subset": 3000}  # --quick: a few epochs on a subset
CIFAR_SHAPE = (32, 32, 3)  # the shape questions 1-3 are asked for
FALLBACK = "digits"  # embedded in scikit-learn: needs no download
FALLBACK_SIZE = (28, 28)  # digits are 8x8: too small for the lesson's models, so upscaled


@dataclasses.dataclass
class DatasetResult:
    name: str
    rows: list  # compare.RunRow per trained model, in LESSON_MODELS order
    comparison: ModelComparison | None  # question 3 on this dataset's shapes
    error: str = ""  # why this dataset could not be used (the loader's message)
    note: str = ""  # e.g. the fallback to digits
    heading: str = ""  # the page's heading for it, when an edition names it
    commands: list[str] = dataclasses.field(default_factory=list)  # the runs one by one, if not page.py's


@dataclasses.dataclass
class LessonResult:
    q1: Answer
    q2: Answer
    q3: ModelComparison
    datasets: list[DatasetResult]
    observations: list[str]
    report: Path | None
    settings: dict
    # An edition with questions of its own (editions.py): (heading, Answer, model reports shown).
    questions: list = dataclasses.field(default_factory=list)
    tuning: list = dataclasses.field(default_factory=list)  # tuning.Tuning: sweeps, mean ± std over seeds
    title: str = ""
    subtitle: str = ""


def run_lesson(
    datasets: Sequence[str] = ("fashion_mnist",),
    *,
    epochs: int | None = None,
    quick: bool = False,
    out: str | Path = "runs/lesson",
    seed: int = 0,
    quiet: bool = False,
    models: dict[str, str] | None = None,
    fallback: bool = True,
    threads: int | None = None,
    say=print,
) -> LessonResult:
    """Answer the page top to bottom, train, and write `<out>/index.html`."""
    out = Path(out)
    models = models or LESSON_MODELS
    settings = lesson_settings(epochs=epochs, quick=quick, seed=seed, threads=threads)

    say(f"Question 1. {answer_q1().question}")
    q1 = answer_q1()
    say(f"  {q1.text}\n  $ {q1.command}\n")
    q2 = answer_q2(q1=q1)
    say(f"Question 2. {q2.question}\n  {q2.text}\n  $ {q2.command}\n")
    q3 = answer_q3(input_shape=CIFAR_SHAPE)
    say(f"Question 3. {q3.answer.question}\n  {q3.answer.text}\n  $ {q3.answer.command}\n")
    _print_summaries(q3, say)

    results = []
    for name in datasets:
        results.append(_train_dataset(name, models, settings, out, quiet, say))
    if fallback and not any(r.rows for r in results):
        note = (f"None of {', '.join(datasets)} could be loaded, so the page uses scikit-learn's "
                f"embedded digits, upscaled to {FALLBACK_SIZE[0]}x{FALLBACK_SIZE[1]}.")
        say(f"note: {note}")
        fallback_result = _train_dataset(FALLBACK, models, settings, out, quiet, say, resize=FALLBACK_SIZE)
        fallback_result.note = note
        results.append(fallback_result)

    from cnnlab.lesson.observations import observations

    found = observations(q3, results)
    say("Observations")
    for sentence in found:
        say(f"  - {sentence.replace('`', '')}")
    result = LessonResult(q1, q2, q3, results, found, None, settings.to_dict())
    if any(r.rows for r in results):
        from cnnlab.lesson.page import write_lesson_page

        result.report = write_lesson_page(result, out / "index.html")
        say(f"\nReport: {result.report}")
    return result


def lesson_settings(*, epochs: int | None = None, quick: bool = False, seed: int = 0,
                    threads: int | None = None):
    """The training settings of the page's runs (checked: a bad value raises before any work)."""
    from cnnlab.settings import TrainSettings

    values = {"epochs": 20, "seed": seed, "threads": threads, **(QUICK if quick else {})}
    if epochs is not None:
        values["epochs"] = epochs
    return TrainSettings.from_dict(values)


def _print_summaries(q3: ModelComparison, say) -> None:
    from cnnlab.models.summary import format_summary

    for report in (q3.without, q3.with_extra):
        say(format_summary(report, line_length=76))


def _train_dataset(name, models, settings, out: Path, quiet, say, resize=None) -> DatasetResult:
    from cnnlab.report.compare import load_rows
    from cnnlab.train.session import open_dataset

    try:
        data = open_dataset(name, resize)
    except CnnlabError as e:
        say(f"Question 4 on {name}: {name} is not available, skipping it: {e}")
        return DatasetResult(name, [], None, error=str(e))
    if settings.train_subset and settings.train_subset >= len(data.train):
        settings = dataclasses.replace(settings, train_subset=None)  # --quick on a small dataset
    epochs = f"{settings.epochs} epoch{'s' if settings.epochs != 1 else ''}"
    images = f"{settings.train_subset or len(data.train):,} training images"
    if settings.validation_split:
        images += f" ({settings.validation_split:.0%} held out for validation)"
    say(f"Question 4 on {name}{' (fallback)' if name == FALLBACK else ''}: training {len(models)} "
        f"models for {epochs} on {images}.")
    comparison = None
    try:
        comparison = answer_q3(input_shape=data.input_shape, classes=data.num_classes)
    except CnnlabError as e:  # a model that does not fit this dataset's images
        say(f"  question 3 does not apply to {name}: {e}")
    # a folder dataset's runs go in <out>/<its base name>, never into the data folder
    trained = train_models(data, dict.fromkeys(models, settings), out / Path(name).name, quiet, say)
    run_dirs = list(trained.values())
    rows = load_rows(run_dirs) if len(run_dirs) >= 2 else []
    return DatasetResult(name, rows, comparison)


def train_models(data, settings_by_model: dict, out: Path, quiet: bool, say) -> dict[str, Path]:
    """Train each model into `out/<model>`; {model: run folder} of those that trained (a model
    that cannot train on this data is said and skipped; an interruption stops the page)."""
    from cnnlab.train.commands import train_run

    trained = {}
    for model, settings in settings_by_model.items():
        try:
            code, path = train_run(model, data, settings, out=str(out), name=model, quiet=quiet, command=None)
        except CnnlabError as e:
            say(f"  {model} cannot train on {data.name}: {e}")
            continue
        if code != 0:
            raise KeyboardInterrupt
        trained[model] = path
    return trained
