"""The Dollar Street 10 edition's hyperparameter tuning, on cnnlab's sweep machinery:
the dropout-rate sweep (0.2 ... 0.95, EarlyStopping patience 5) and the grid search over
n_layers 1-2 x dropout 0.2/0.5/0.8 that the lesson runs with keras_tuner, each setting
trained with several seeds and reported as mean ± std (the lesson trains each setting once).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from cnnlab.models.layers import ModelSpec, make_layer, new_spec

SWEEP_RATES = (0.2, 0.4, 0.6, 0.8, 0.9, 0.95)  # the lesson's dropout_rates
SWEEP_EPOCHS, SWEEP_PATIENCE = 30, 5  # model.fit(epochs=30, callbacks=[EarlyStopping(patience=5)])
GRID_LAYERS, GRID_RATES, GRID_EPOCHS = (1, 2), (0.2, 0.5, 0.8), 20  # hp.Int, hp.Float, search(epochs=20)


def _conv():
    return make_layer("Conv2D", {"filters": 50, "kernel_size": (3, 3), "activation": "relu"})


def _head(classes: int):
    return [make_layer("Flatten", {}), make_layer("Dense", {"units": 50, "activation": "relu"}),
            make_layer("Dense", {"units": classes})]


def sweep_model(input_shape, classes: int = 10, rate: float = 0.2) -> ModelSpec:
    """The lesson's create_nn_with_dropout(dropout_rate): a Dropout after each block, the third
    block without pooling (as the lesson's sweep code has it)."""
    drop = {"rate": rate}
    layers = [_conv(), make_layer("MaxPooling2D", {"pool_size": (2, 2)}), make_layer("Dropout", drop),
              _conv(), make_layer("MaxPooling2D", {"pool_size": (2, 2)}), make_layer("Dropout", drop),
              _conv(), make_layer("Dropout", drop), *_head(classes)]
    return new_spec("dropout_model", layers, tuple(input_shape), functional=True)


def hp_model(n_layers: int, input_shape, classes: int = 10, rate: float = 0.2) -> ModelSpec:
    """The lesson's create_nn_with_hp(dropout_rate, n_layers)."""
    layers = []
    for _ in range(n_layers):
        layers += [_conv(), make_layer("MaxPooling2D", {"pool_size": (2, 2)})]
    layers += [make_layer("Dropout", {"rate": rate}), *_head(classes)]
    return new_spec(f"hp_model_{n_layers}_layers", layers, tuple(input_shape), functional=True)


@dataclasses.dataclass
class Tuning:
    """One tuning experiment: its settings' summaries (mean ± std over seeds) and where it ran."""

    title: str
    question: str
    summaries: list  # sweeps.summary.SettingSummary, in grid order
    labels: list[str]  # one per summary, as the page names the setting
    rank_by: str  # a sweeps.summary MEASURES key
    folders: list[Path]
    seeds: int
    epochs: int

    def best(self):
        ranked = [(s.stats[self.rank_by].mean, label, s) for s, label in zip(self.summaries, self.labels)
                  if self.rank_by in s.stats]
        return min(ranked, key=lambda t: t[0]) if ranked else None


def run_sweep(spec: ModelSpec, data, settings, values: tuple, seeds: int, path: Path, say):
    """Dropout rates x seeds on `spec`, one run folder each, as `cnnlab sweep --set dropout=...`."""
    from cnnlab.sweeps.jobs import INTERRUPTED, LOGS, remember_dataset
    from cnnlab.sweeps.plan import Sweep
    from cnnlab.sweeps.report import write_report
    from cnnlab.sweeps.runner import run_jobs
    from cnnlab.sweeps.summary import read_result, run_finished, summarize
    from cnnlab.train.precision import usable_cores

    plan = Sweep.create(path, spec.name, spec, data.name, settings, [("dropout", tuple(values))], seeds, "val_loss")
    (plan.path / LOGS).mkdir(parents=True, exist_ok=True)
    remember_dataset(data)
    interrupted = []

    def report(outcome) -> None:
        say(f"  {plan.path.name}/{outcome.name}: {'done' if outcome.code == 0 else f'exit {outcome.code}'} "
            f"in {outcome.seconds:.1f}s")
        if outcome.code == INTERRUPTED:
            interrupted.append(outcome)

    jobs = [plan.job(point, usable_cores()) for point in plan.points()]
    complete = run_jobs(jobs, 1, usable_cores(), report)
    if not complete or interrupted:
        raise KeyboardInterrupt
    results = [read_result(plan.path / p.name, p.setting, p.seed) for p in plan.points()
               if run_finished(plan.path / p.name)]
    summaries = summarize(plan.settings_groups(), results)
    write_report(plan, summaries, "finished", sum(r.seconds for r in results))
    return summaries


def dropout_sweep(data, base_settings, *, seeds: int, epochs: int, out: Path, say) -> Tuning:
    settings = dataclasses.replace(base_settings, epochs=epochs, early_stopping=SWEEP_PATIENCE)
    spec = sweep_model(data.input_shape, data.num_classes)
    say(f"Dropout-rate sweep: {len(SWEEP_RATES)} rates x {seeds} seeds, up to {epochs} epochs each "
        f"(early stopping, patience {SWEEP_PATIENCE}).")
    summaries = run_sweep(spec, data, settings, SWEEP_RATES, seeds, out / "sweep-dropout", say)
    labels = [f"dropout={dict(s.values)['dropout']:g}" for s in summaries]
    question = ("What happens if you lower the dropout rate? Train the model with dropout rates "
                f"{', '.join(f'{r:g}' for r in SWEEP_RATES)} and compare the validation loss.")
    return Tuning("Vary the dropout rate", question, summaries, labels, "final_val_loss",
                  [out / "sweep-dropout"], seeds, epochs)


def grid_search(data, base_settings, *, seeds: int, epochs: int, out: Path, say) -> Tuning:
    settings = dataclasses.replace(base_settings, epochs=epochs, early_stopping=None)
    say(f"Grid search: n_layers {'/'.join(map(str, GRID_LAYERS))} x dropout "
        f"{'/'.join(f'{r:g}' for r in GRID_RATES)} x {seeds} seeds, {epochs} epoch{'s' if epochs != 1 else ''} each.")
    summaries, labels, folders = [], [], []
    for n in GRID_LAYERS:
        folder = out / f"grid-{n}-layers"
        spec = hp_model(n, data.input_shape, data.num_classes)
        found = run_sweep(spec, data, settings, GRID_RATES, seeds, folder, say)
        summaries += found
        labels += [f"n_layers={n}, dropout={dict(s.values)['dropout']:g}" for s in found]
        folders.append(folder)
    question = ("Grid search (keras_tuner.GridSearch, objective val_loss): which combination of "
                "n_layers (1, 2) and dropout rate (0.2, 0.5, 0.8) gives the lowest validation loss?")
    return Tuning("Hyperparameter tuning: grid search", question, summaries, labels, "best_val_loss", folders,
                  seeds, epochs)


def tuning_sentence(t: Tuning) -> str | None:
    """The best setting, and whether the others are within one std of it."""
    best = t.best()
    if best is None:
        return None
    from cnnlab.sweeps.summary import MEASURES

    mean, label, summary = best
    stat = summary.stats[t.rank_by]
    measure = next(heading for key, heading, _ in MEASURES if key == t.rank_by)
    close = [f"`{lab}`" for s, lab in zip(t.summaries, t.labels) if s is not summary and t.rank_by in s.stats
             and stat.std is not None and s.stats[t.rank_by].std is not None
             and abs(s.stats[t.rank_by].mean - mean) <= max(stat.std, s.stats[t.rank_by].std)]
    sentence = f"{t.title}: the lowest mean {measure} over {t.seeds} seeds is {stat.text()} with `{label}`"
    if close:
        sentence += (f"; {', '.join(close)} {'is' if len(close) == 1 else 'are'} within one std of it: "
                     "not told apart by these runs")
    return sentence + "."


def tuning_section(t: Tuning):
    """The page's section: the question, the mean ± std table, the best setting, the folders."""
    from cnnlab.report import html
    from cnnlab.sweeps.summary import MEASURES

    columns = [(k, heading) for k, heading, _ in MEASURES if k != "test_accuracy"
               and any(k in s.stats for s in t.summaries)]
    rows = [[label, str(len(s.runs)), *[s.stats[k].text() if k in s.stats else "–" for k, _ in columns]]
            for s, label in zip(t.summaries, t.labels)]
    blocks = [html.Paragraph(t.question),
              html.Table(["setting", "runs", *[h for _, h in columns]], rows)]
    sentence = tuning_sentence(t)
    if sentence:
        blocks.append(html.Notice(sentence, level="info"))
    blocks.append(html.Preformatted("\n".join(f"{folder}/index.html" for folder in t.folders),
                                    caption=f"Each sweep's own report (runs of up to {t.epochs} epochs)"))
    return html.Section(t.title, blocks)
