"""Keras Tuner's `build_model(hp)`, read as its GridSearch builds it: one model per combination.

`hp.Int`, `hp.Float` (with `step`), `hp.Choice`, `hp.Boolean` and `hp.Fixed` declare the
values; the grid starts from every default and moves the last-declared value fastest,
each value's default first (the order `cnnlab.keras_tuner.GridSearch` follows). Each
trial calls the function afresh, so a hyperparameter declared only in some trials joins
the grid as Keras Tuner's does. Values must be written in the code; the grid is bounded
by `MAX_TRIALS`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnnlab.models.keras_code.evaluate import MAX_ITEMS, is_known
from cnnlab.models.layers import ModelError

__all__ = ["MAX_TRIALS", "Declared", "TunerHP", "grid_trials", "uses_hp"]

MAX_TRIALS = 100
_DECLARE = ("Int", "Float", "Choice", "Boolean", "Fixed")


@dataclass
class Declared:
    name: str
    values: list[Any]
    default: Any

    def grid(self) -> list[Any]:
        return [self.default] + [v for v in self.values if v != self.default]


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
            raise ValueError("a Float without step= has no values a grid can list; give step=")
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


def grid_trials(space: list[Declared], run_trial: Callable[[dict[str, Any]], None]) -> None:
    """Call `run_trial(values)` for each combination in GridSearch's order. A trial adds what it
    declares to `space` and the defaults of new hyperparameters to `values`."""
    values: dict[str, Any] = {}
    run_trial(values)
    for _ in range(MAX_TRIALS - 1):
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
        run_trial(values)
    raise ModelError(f"the grid has more than {MAX_TRIALS} combinations; cnnlab lists up to that many")


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
