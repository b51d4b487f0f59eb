"""`from cnnlab import keras_tuner`: Keras Tuner's grid and random search for cnnlab.keras models.

The learner's `build_model(hp)` runs as written; each trial fits the model it returns with
`cnnlab.keras` and is written as a cnnlab run folder, `directory/project_name/trial_NNNN/`
(config.json with the trial's hyperparameters and score, history.csv, the final weights and
the best epoch's), so `cnnlab report` and `cnnlab compare` read the trials. The grid order,
trial ids, scores (the objective's best epoch) and printed text follow Keras Tuner 1.4.
Trials run one after another in this process.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

from cnnlab.files import check_replaceable, folder_kind, mark_owned
from cnnlab.models.layers import ModelError

_COL = 18  # Keras Tuner's column width in the hyperparameter table


class _HP:
    def __init__(self, kind: str, name: str, values: list | None, default, config: dict):
        self.kind, self.name, self._values, self.default, self.config = kind, name, values, default, config

    def grid_values(self) -> list:
        """The values a grid visits: the default first, then the others in order."""
        if self._values is None:
            raise ModelError(
                f"hp.{self.kind}({self.name!r}) has no step, so a grid cannot list its values; "
                "give step=, or use RandomSearch"
            )
        return [self.default] + [v for v in self._values if v != self.default]

    def sample(self, rng: random.Random):
        if self._values is not None:
            return rng.choice(self._values)
        return rng.uniform(self.config["min_value"], self.config["max_value"])


class HyperParameters:
    """The search space as `build_model(hp)` declares it, and this trial's values."""

    def __init__(self):
        self.space: list[_HP] = []
        self.values: dict = {}

    def _register(self, hp: _HP):
        known = {h.name: h for h in self.space}
        if hp.name not in known:
            self.space.append(hp)
        self.values.setdefault(hp.name, hp.default)
        return self.values[hp.name]

    def Int(self, name, min_value, max_value, step=None, sampling="linear", default=None,
            parent_name=None, parent_values=None):
        _plain(name, sampling, parent_name)
        step = 1 if step is None else step
        values = list(range(min_value, max_value + 1, step))
        config = {"default": default, "conditions": [], "min_value": min_value, "max_value": max_value,
                  "step": step, "sampling": sampling}
        return self._register(_HP("Int", name, values, min_value if default is None else default, config))

    def Float(self, name, min_value, max_value, step=None, sampling="linear", default=None,
              parent_name=None, parent_values=None):
        _plain(name, sampling, parent_name)
        values = None
        if step is not None:
            values = [min_value + i * step for i in range(int((max_value - min_value) // step + 1))]
        config = {"default": default, "conditions": [], "min_value": min_value, "max_value": max_value,
                  "step": step, "sampling": sampling}
        return self._register(_HP("Float", name, values, min_value if default is None else default, config))

    def Choice(self, name, values, ordered=None, default=None, parent_name=None, parent_values=None):
        _plain(name, "linear", parent_name)
        values = list(values)
        if not values:
            raise ModelError(f"hp.Choice({name!r}) needs at least one value")
        if ordered is None:  # Keras Tuner: numbers are ordered, anything else is not
            ordered = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        config = {"default": values[0] if default is None else default, "conditions": [],
                  "values": values, "ordered": ordered}
        return self._register(_HP("Choice", name, values, values[0] if default is None else default, config))

    def Boolean(self, name, default=False, parent_name=None, parent_values=None):
        _plain(name, "linear", parent_name)
        config = {"default": default, "conditions": []}
        return self._register(_HP("Boolean", name, [True, False], default, config))

    def Fixed(self, name, value, parent_name=None, parent_values=None):
        _plain(name, "linear", parent_name)
        return self._register(_HP("Fixed", name, [value], value, {"conditions": [], "value": value}))

    def get(self, name):
        if name not in self.values:
            raise KeyError(f"{name} does not exist.")
        return self.values[name]

    __getitem__ = get  # best_hp["n_layers"], as Keras Tuner allows

    def __contains__(self, name) -> bool:
        return name in self.values

    def __repr__(self) -> str:
        return f"<HyperParameters values={self.values}>"


def _plain(name, sampling, parent_name) -> None:
    if sampling != "linear" or parent_name is not None:
        raise ModelError(
            f"hyperparameter {name!r}: sampling other than 'linear' and conditional hyperparameters "
            "(parent_name=) are not supported by cnnlab.keras_tuner"
        )


class Objective:
    def __init__(self, name: str, direction: str):
        if direction not in ("min", "max"):
            raise ValueError(f"direction should be 'min' or 'max', got {direction!r}")
        self.name, self.direction = name, direction

    def better(self, a: float, b: float) -> bool:
        return a < b if self.direction == "min" else a > b

    def __str__(self) -> str:
        return f'Objective(name="{self.name}", direction="{self.direction}")'


def _objective(value) -> Objective:
    if isinstance(value, Objective):
        return value
    if isinstance(value, str):
        name = value.removeprefix("val_")
        if name == "loss":
            return Objective(value, "min")
        if name in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy"):
            return Objective(value, "max")
    raise ModelError(
        f"objective {value!r}: give 'val_loss', 'val_accuracy' (or without val_) or "
        "keras_tuner.Objective(name, direction)"
    )


class _Trial:
    def __init__(self, trial_id: str, values: dict, score: float | None, path: Path):
        self.trial_id, self.values, self.score, self.path = trial_id, values, score, path

    def hyperparameters(self, space: list[_HP]) -> HyperParameters:
        hp = HyperParameters()
        hp.space, hp.values = list(space), dict(self.values)
        return hp


class _HyperModel:
    """build_model as Keras Tuner holds it: `tuner.hypermodel.build(best_hp)` rebuilds a model."""

    def __init__(self, build_model):
        self.build = build_model

    def __call__(self, hp):
        return self.build(hp)


class Tuner:
    """What GridSearch and RandomSearch share: trials, run folders, the summaries."""

    def __init__(self, hypermodel, objective="val_loss", max_trials=None, seed=None, overwrite=False,
                 directory=None, project_name=None, executions_per_trial=1, **kwargs):
        if kwargs or executions_per_trial != 1:
            raise ModelError(f"{type(self).__name__}: unsupported argument(s) "
                             f"{', '.join(kwargs) or 'executions_per_trial'}")
        if not callable(hypermodel):
            raise ModelError("the tuner needs build_model, a function of hp that returns a compiled model")
        self.hypermodel, self.objective = _HyperModel(hypermodel), _objective(objective)
        self.max_trials, self.seed = max_trials, seed
        # Keras Tuner's spelling of the folder (os.path.join keeps a leading "./")
        self._project_text = os.path.join(str(directory or "."), project_name or "untitled_project")
        self.project_dir = Path(self._project_text)
        self._space: list[_HP] = []
        self.trials: list[_Trial] = []
        if overwrite:
            check_replaceable(self.project_dir, "keras_tuner", flag="overwrite=True")
            shutil.rmtree(self.project_dir, ignore_errors=True)
        elif self.project_dir.exists():
            self._reload()
        if not self._space:  # Keras Tuner builds one model up front to learn the search space
            hp = HyperParameters()
            self._build(hp)
            self._space = hp.space
        mark_owned(self.project_dir, "keras_tuner")

    # --- the search ---------------------------------------------------------------
    def search(self, x=None, y=None, verbose=1, **fit_kwargs):
        """Fit one model per trial until the space (or max_trials) is used up."""
        started = time.time()
        while self.max_trials is None or len(self.trials) < self.max_trials:
            values = self._next_values()
            if values is None:
                break
            trial_id = f"{{:0{len(str(self.max_trials))}d}}".format(len(self.trials))
            hp = HyperParameters()
            hp.space, hp.values = list(self._space), dict(values)
            trial_started = time.time()
            if verbose:
                self._show_begin(len(self.trials) + 1, values)
            model = self._build(hp)
            self._space = hp.space  # build_model may declare new hyperparameters
            best = _BestEpoch(self.objective)
            callbacks = [*fit_kwargs.pop("callbacks", []), best]
            history = model.fit(x, y, verbose=verbose, callbacks=callbacks, **fit_kwargs)
            fit_kwargs["callbacks"] = [c for c in callbacks if c is not best]
            path = self.project_dir / f"trial_{trial_id}"
            _write_trial(path, model, hp, history, best, self.objective, time.time() - trial_started)
            self.trials.append(_Trial(trial_id, dict(hp.values), best.score, path))
            if verbose:
                self._show_end(len(self.trials), best.score, trial_started, started)

    def _next_values(self) -> dict | None:
        raise NotImplementedError

    def _build(self, hp: HyperParameters):
        """build_model(hp) in a fresh Keras session, as Keras Tuner builds (names restart)."""
        from cnnlab.keras.backend import clear_session

        clear_session()
        return self.hypermodel.build(hp)

    def _show_begin(self, number: int, values: dict) -> None:
        best = self._best_trials(1)
        row = f"{{0:{_COL}}}|{{1:{_COL}}}|{{2}}"
        print(f"\nSearch: Running Trial #{number}\n")
        if values:
            print(row.format("Value", "Best Value So Far", "Hyperparameter"))
            for name, value in values.items():
                best_value = best[0].values.get(name) if best else "?"
                print(row.format(_format_value(value), _format_value(best_value), name))
        else:
            print("default configuration")
        print()

    def _show_end(self, number: int, score, trial_started: float, started: float) -> None:
        print(f"Trial {number} Complete [{_duration(time.time() - trial_started)}]")
        if score is not None:
            print(f"{self.objective.name}: {score}")
        print()
        best = self._best_trials(1)
        print(f"Best {self.objective.name} So Far: {best[0].score if best else None}")
        print(f"Total elapsed time: {_duration(time.time() - started)}")
        sys.stdout.flush()

    # --- results ------------------------------------------------------------------
    def _best_trials(self, n: int) -> list[_Trial]:
        """The n best trials; those scored nan (every epoch nan) come last, as in Keras Tuner."""
        scored = [t for t in self.trials if t.score is not None and t.score == t.score]
        ordered = sorted(scored, key=lambda t: t.score, reverse=self.objective.direction == "max")
        return (ordered + [t for t in self.trials if t not in scored])[:n]

    def results_summary(self, num_trials=10):
        print("Results summary")
        print(f"Results in {self._project_text}")
        print(f"Showing {int(num_trials)} best trials")
        print(f"{self.objective}")
        for trial in self._best_trials(num_trials):
            print()
            print(f"Trial {trial.trial_id} summary")
            print("Hyperparameters:")
            for name, value in trial.values.items():
                print(f"{name}:", value)
            if not trial.values:
                print("default configuration")
            if trial.score is not None:
                print(f"Score: {trial.score}")

    def search_space_summary(self, extended=False):
        print("Search space summary")
        print(f"Default search space size: {len(self._space)}")
        for hp in self._space:
            print(f"{hp.name} ({hp.kind})")
            print(hp.config)

    def get_best_hyperparameters(self, num_trials=1) -> list[HyperParameters]:
        return [t.hyperparameters(self._space) for t in self._best_trials(num_trials)]

    def get_best_models(self, num_models=1) -> list:
        """The best trials' models, with the weights of each trial's best epoch."""
        from cnnlab.rundir import read_tensors

        models = []
        for trial in self._best_trials(num_models):
            model = self._build(trial.hyperparameters(self._space))
            weights, _ = read_tensors(trial.path / "checkpoint" / "best.safetensors")
            model._ensure_net().load_state_dict(weights)
            models.append(model)
        return models

    def _reload(self) -> None:
        """Continue a project: its finished trials count, as Keras Tuner reloads them."""
        if folder_kind(self.project_dir) != "keras_tuner":
            raise ModelError(
                f"{self.project_dir} exists and was not written by cnnlab.keras_tuner; pass "
                "overwrite=True only if it may be replaced, or choose another project_name"
            )
        print(f"Reloading Tuner from {self.project_dir}")
        for path in sorted(self.project_dir.glob("trial_*")):
            try:
                config = json.loads((path / "config.json").read_text(encoding="utf-8"))
                trial = config["keras_tuner"]
            except (OSError, ValueError, KeyError):
                continue  # an unfinished trial is run again
            self.trials.append(_Trial(trial["trial_id"], trial["values"], trial["score"], path))
            self._space = [_HP(h["kind"], h["name"], h["values"], h["default"], h["config"])
                           for h in trial["space"]]


class _BestEpoch:
    """Tracks the objective's best epoch and keeps that epoch's weights (Keras Tuner's score)."""

    def __new__(cls, objective):
        from cnnlab.keras.callbacks import Callback

        class BestEpoch(Callback):
            def __init__(self):
                super().__init__()
                self.score, self.epoch, self.state = None, None, None

            def on_epoch_end(self, epoch, logs=None):
                value = (logs or {}).get(objective.name)
                if value is None:
                    raise ModelError(f"the objective {objective.name!r} is not in fit's logs "
                                     f"({', '.join(logs or {})}); give validation data for val_*")
                # Keras Tuner scores a trial by its best non-nan epoch, nan if all are nan
                unscored = self.score is None or self.score != self.score
                if (self.score is None or value == value) and (unscored or objective.better(value, self.score)):
                    self.score, self.epoch = value, epoch
                    net = self.model._ensure_net()
                    self.state = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}

        return BestEpoch()


def _write_trial(path: Path, model, hp: HyperParameters, history, best, objective: Objective,
                 seconds: float) -> None:
    from safetensors.torch import save as save_tensors

    from cnnlab.files import atomic_write
    from cnnlab.rundir import RunFolder, write_json

    if path.exists():
        shutil.rmtree(path)
    run = RunFolder.create(path.parent, path.name)
    rows = [{"epoch": e + 1, **{k: history.history[k][i] for k in history.history}}
            for i, e in enumerate(history.epoch)]
    run.write_history(rows)
    space = [{"kind": h.kind, "name": h.name, "values": h._values, "default": h.default, "config": h.config}
             for h in hp.space]
    net = model._ensure_net()
    run.save_model(net, model.spec().to_dict())
    if best.state is not None:
        atomic_write(run.best_checkpoint, save_tensors(best.state, metadata={"epoch": str(best.epoch + 1)}))
    write_json(run.path / "config.json", {
        "model": model.spec().to_dict(),
        "status": "finished",
        "epochs_done": len(rows),
        "wall_time_seconds": seconds,
        "keras_tuner": {"trial_id": path.name.removeprefix("trial_"), "values": hp.values,
                        "score": best.score, "objective": str(objective), "space": space},
    })


def _format_value(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.5g}"
    text = str(value)
    return text if len(text) <= _COL else f"{text[:_COL - 3]}..."


def _duration(seconds: float) -> str:
    s = round(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d:d}d {h:02d}h {m:02d}m {s:02d}s" if d > 0 else f"{h:02d}h {m:02d}m {s:02d}s"


class GridSearch(Tuner):
    """Every combination of the declared values, in Keras Tuner's order (the last one fastest)."""

    def _next_values(self) -> dict | None:
        if not self.trials:
            return {hp.name: hp.default for hp in self._space}
        last = dict(self.trials[-1].values)
        grids = {hp.name: hp.grid_values() for hp in self._space}
        for hp in reversed(self._space):
            value = last.get(hp.name, hp.default)
            grid = grids[hp.name]
            if value != grid[-1]:
                last[hp.name] = grid[grid.index(value) + 1]
                return last
            last[hp.name] = hp.default
        return None


class RandomSearch(Tuner):
    """Random combinations (seeded); max_trials of them, fewer if the space runs out."""

    def __init__(self, hypermodel, objective="val_loss", max_trials=10, seed=None, **kwargs):
        super().__init__(hypermodel, objective=objective, max_trials=max_trials, seed=seed, **kwargs)
        self._rng = random.Random(seed)

    def _next_values(self) -> dict | None:
        tried = [t.values for t in self.trials]
        for _ in range(100):  # Keras Tuner also gives up after 100 repeats
            values = {hp.name: hp.sample(self._rng) for hp in self._space}
            if values not in tried:
                return values
        return None


__all__ = ["GridSearch", "HyperParameters", "Objective", "RandomSearch", "Tuner"]


def __getattr__(name: str):
    from cnnlab.keras.layers import Unsupported

    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise Unsupported(f"keras_tuner.{name} is not supported by cnnlab.keras_tuner; it offers {', '.join(__all__)}")
