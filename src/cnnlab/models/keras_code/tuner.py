"""Keras Tuner's `build_model(hp)`, read as the code's tuner builds it: one model per trial.

`hp.Int`, `hp.Float`, `hp.Choice`, `hp.Boolean` and `hp.Fixed` declare the values. The
code's `keras_tuner.GridSearch(build_model, ...)` (also what is assumed without a tuner
call) starts from every default and moves the last-declared value fastest, each value's
default first; `keras_tuner.RandomSearch(build_model, max_trials=N, seed=S)` draws N
combinations with `random.Random(S)` (S = 0 when the code gives none, so a sweep can be
continued), rejecting repeats: the orders `cnnlab.keras_tuner` follows. Each trial calls
the function afresh, so a hyperparameter declared only in some trials joins the search as
Keras Tuner's does. Values must be written in the code; trials are bounded by `MAX_TRIALS`.
Tuners that choose their trials from the scores (Hyperband, BayesianOptimization) are refused.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnlab.models.keras_code.evaluate import MAX_ITEMS, is_known
from cnnlab.models.keras_code.symbolic import describe
from cnnlab.models.layers import ModelError

__all__ = ["MAX_TRIALS", "TUNERS", "Declared", "Search", "TunerHP", "run_search", "search_of", "uses_hp"]

MAX_TRIALS = 100
_DECLARE = ("Int", "Float", "Choice", "Boolean", "Fixed")
TUNERS = ("GridSearch", "RandomSearch", "BayesianOptimization", "Hyperband", "SklearnTuner")
_REPEATS = 100  # draws that repeat an earlier trial before a random search stops, as Keras Tuner's


@dataclass
class Declared:
    name: str
    values: list[Any] | None  # None: a Float without step, drawn from [low, high]
    default: Any
    low: Any = None
    high: Any = None

    def grid(self) -> list[Any]:
        if self.values is None:
            raise ModelError(f"hp.Float({self.name!r}): a Float without step= has no values a grid can list; "
                             "give step=, or search it with keras_tuner.RandomSearch")
        return [self.default] + [v for v in self.values if v != self.default]

    def sample(self, rng: random.Random) -> Any:
        return rng.choice(self.values) if self.values is not None else rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Search:
    """The code's tuner of `build_model`: GridSearch (also without one) or RandomSearch."""

    kind: str = "GridSearch"
    max_trials: int | None = None  # None: every combination of the grid
    seed: int = 0

    @property
    def random(self) -> bool:
        return self.kind == "RandomSearch"

    def __str__(self) -> str:
        if self.random:
            return f"RandomSearch(max_trials={self.max_trials}, seed={self.seed})"
        return "GridSearch" + (f"(max_trials={self.max_trials})" if self.max_trials is not None else "")


def search_of(calls: list[tuple[str, list[Any], dict[str, Any], int]], fn: Any) -> Search:
    """The Search of the tuner calls (kind, arguments, keywords, line) the code makes on `fn`."""
    mine = [c for c in calls if (c[1][:1] or [c[2].get("hypermodel")])[0] is fn]
    if not mine:
        return Search()
    if len({kind for kind, *_ in mine}) > 1:
        kinds = " and ".join(dict.fromkeys(kind for kind, *_ in mine))
        raise ModelError(f"line {mine[-1][3]}: the code searches with {kinds}; keep the tuner to follow")
    kind, args, kwargs, line = mine[-1]
    if kind not in ("GridSearch", "RandomSearch"):
        raise ModelError(
            f"line {line}: keras_tuner.{kind} picks each trial from the scores of the ones before, which a "
            "sweep planned before it runs cannot do; use keras_tuner.GridSearch or RandomSearch"
        )
    given = dict(zip(("hypermodel", "objective", "max_trials", "seed"), args)) | kwargs
    default = 10 if kind == "RandomSearch" else None
    max_trials, seed = given.get("max_trials", default), given.get("seed")
    for name, value in (("max_trials", max_trials), ("seed", seed)):
        if value is not None and (type(value) is not int or value < (1 if name == "max_trials" else 0)):
            raise ModelError(f"line {line}: {kind}: {name}={describe(value)} should be a whole number written in "
                             "the code" + (", at least 1" if name == "max_trials" else ""))
    if max_trials is not None and max_trials > MAX_TRIALS:
        raise ModelError(f"line {line}: {kind}: max_trials={max_trials}; cnnlab follows up to {MAX_TRIALS} trials")
    return Search(kind, max_trials, seed or 0)


class TunerHP:
    """The `hp` one trial passes: declares hyperparameters and gives this trial's values."""

    def __init__(self, space: list[Declared], values: dict[str, Any]):
        self.space = space
        self.values = values
        self.used: dict[str, Any] = {}

    def call(self, method: str, args: list[Any], kwargs: dict[str, Any], line: int) -> Any:
        at = f"line {line}: hp.{method}"
        if method == "get":
            if len(args) != 1 or args[0] not in self.used:
                raise ModelError(f"{at}({', '.join(map(repr, args))}): no such hyperparameter declared before")
            return self.used[args[0]]
        if method not in _DECLARE:
            raise ModelError(f"{at} is not one cnnlab reads; use hp.Int, hp.Float, hp.Choice, hp.Boolean or hp.Fixed")
        if not all(is_known(v) for v in (*args, *kwargs.values())):
            raise ModelError(f"{at}: write its name and values in the code")
        try:
            declared = _declare(method, *args, **kwargs)
        except TypeError as err:
            raise ModelError(f"{at}: {err}") from None
        except ValueError as err:
            raise ModelError(f"{at}({args[0]!r}): {err}") from None
        if declared.name not in {d.name for d in self.space}:
            self.space.append(declared)
        value = self.values.setdefault(declared.name, declared.default)
        self.used[declared.name] = value
        return value


def _declare(method: str, name: str, *args: Any, **kwargs: Any) -> Declared:
    if kwargs.pop("sampling", "linear") != "linear" or kwargs.pop("parent_name", None) is not None:
        raise ValueError("a grid reads linear values without parent conditions")
    kwargs.pop("parent_values", None)
    if method in ("Int", "Float"):
        return _numbers(method, name, *args, **kwargs)
    if method == "Choice":
        return _choice(name, *args, **kwargs)
    if method == "Boolean":
        return _boolean(name, *args, **kwargs)
    return _fixed(name, *args, **kwargs)


def _numbers(method: str, name: str, min_value: Any, max_value: Any, step: Any = None, default: Any = None) -> Declared:
    if method == "Int":
        if not all(type(v) is int for v in (min_value, max_value, step or 1)) or (step or 1) < 1:
            raise ValueError("min_value, max_value and step must be whole numbers, step at least 1")
        count = (max_value - min_value) // (step or 1) + 1
        values = list(range(min_value, max_value + 1, step or 1)) if 0 < count <= MAX_ITEMS else None
    else:
        if step is None:
            if not all(isinstance(v, (int, float)) for v in (min_value, max_value)) or min_value > max_value:
                raise ValueError("min_value and max_value must be numbers, min_value the smaller")
            return Declared(name, None, min_value if default is None else default, min_value, max_value)
        if not all(isinstance(v, (int, float)) for v in (min_value, max_value, step)) or step <= 0:
            raise ValueError("min_value, max_value and step must be numbers, step above 0")
        count = int((max_value - min_value) // step + 1)
        values = [min_value + i * step for i in range(count)] if 0 < count <= MAX_ITEMS else None
    if values is None:
        raise ValueError(f"from {min_value} to {max_value} it lists no values or more than {MAX_ITEMS:,}")
    return Declared(name, values, min_value if default is None else default)


def _choice(name: str, values: Any, ordered: Any = None, default: Any = None) -> Declared:
    if not isinstance(values, (list, tuple)) or not values:
        raise ValueError("values must be a list of at least one value")
    return Declared(name, list(values), values[0] if default is None else default)


def _boolean(name: str, default: Any = False) -> Declared:
    return Declared(name, [True, False], default)


def _fixed(name: str, value: Any) -> Declared:
    return Declared(name, [value], value)


def run_search(search: Search, space: list[Declared], run_trial: Callable[[dict[str, Any], bool], dict[str, Any]]
               ) -> None:
    """Call `run_trial(values, keep)` for each trial in the search's order; it builds the model of
    those values (adding what the trial declares to `space`, and the defaults of new hyperparameters
    to the values it returns). `keep` False: the build that only learns the space."""
    if search.random:
        _random_trials(search, space, run_trial)
    else:
        _grid_trials(search.max_trials, space, run_trial)


def _grid_trials(limit: int | None, space: list[Declared], run_trial: Callable[[dict[str, Any], bool], Any]) -> None:
    values: dict[str, Any] = {}
    run_trial(values, True)
    for _ in range((limit or MAX_TRIALS) - 1):  # the code's max_trials stops a grid early, as Keras Tuner's
        values = dict(values)
        for d in reversed(space):
            grid = d.grid()
            value = values.get(d.name, d.default)
            if value != grid[-1]:
                values[d.name] = grid[grid.index(value) + 1]
                break
            values[d.name] = d.default
        else:
            return
        run_trial(values, True)
    if limit is None:
        raise ModelError(f"the grid has more than {MAX_TRIALS} combinations; cnnlab lists up to that many")


def _random_trials(search: Search, space: list[Declared], run_trial: Callable[[dict[str, Any], bool], Any]) -> None:
    rng = random.Random(search.seed)
    run_trial({}, False)  # Keras Tuner builds one model up front to learn the search space
    tried: list[dict[str, Any]] = []
    while len(tried) < (search.max_trials or 0):
        for _ in range(_REPEATS):
            values = {d.name: d.sample(rng) for d in space}
            if values not in tried:
                break
        else:
            return  # the space has no combination left to draw
        tried.append(dict(run_trial(values, True)))


def uses_hp(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the first parameter is a Keras Tuner `hp` (`hp.Int(...)` and the like)."""
    params = fn.args.posonlyargs + fn.args.args
    if not params:
        return False
    hp = params[0].arg
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _DECLARE
        and isinstance(n.func.value, ast.Name) and n.func.value.id == hp
        for n in ast.walk(fn)
    )  # fmt: skip
