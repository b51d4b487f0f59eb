"""Model code a sweep varies, read and never run: a model function's parameters, or Keras
Tuner's `build_model(hp)` hyperparameters, as grid axes with the model of each combination.

    cnnlab sweep lesson.py --dataset cifar10                      # build_model(hp)'s grid
    cnnlab sweep lesson.py --dataset cifar10 --set n_layers=1,2 --set dropout_rate=0.2,0.5

`grid.resolve_axes` turns the other --set names into axes as for any model.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from typing import Any

from cnnlab.models.keras_code import (
    CodeFunction,
    TunerTrials,
    call_model,
    code_functions,
    parse_models,
    tuner_trials,
)
from cnnlab.models.layers import ModelError, ModelSpec
from cnnlab.sweeps.grid import Axis, SweepError, value_text


@dataclasses.dataclass(frozen=True)
class ModelCode:
    """Keras code whose model takes the swept values, read and never run: Keras Tuner's
    `build_model(hp)` (its hyperparameters are axes, in GridSearch's order) or a model function
    (the --set names among its parameters are its call's arguments; the others keep defaults)."""

    source: str
    text: str
    function: CodeFunction
    input_shape: tuple[int, ...] | None = None  # the data's, for models that leave it to the data
    classes: int | None = None

    @property
    def name(self) -> str:
        return self.function.name

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "function": self.function.name, "text": self.text}

    @classmethod
    def from_dict(cls, data: dict[str, Any], input_shape: tuple[int, ...] | None) -> ModelCode:
        found = [f for f in _functions(data["text"], data["source"]) if f.name == data["function"]]
        if not found:
            raise SweepError(f"the stored code of {data['source']} defines no model function {data['function']}")
        return cls(data["source"], data["text"], found[0], input_shape)

    def axis_names(self, names: list[str]) -> list[str]:
        """The names of the sweep's axes, in grid order, given these --set names."""
        hps = [name for name, _ in self._tuner().hps] if self.function.tuner else []
        return hps + [name for name in names if name not in hps]

    def axes_and_models(self, sets: list[tuple[str, tuple[Any, ...]]]) -> tuple[list[Axis], dict[tuple, ModelSpec]]:
        """The code axes (hyperparameters, or the function's swept parameters) and the model of
        each combination of their values; every model read and fitted to the data."""
        if self.function.tuner:
            return self._tuner_axes(dict(sets))
        params = dict(self.function.params)
        shown = self.function.signature
        axes = [Axis(name, values, name, code=shown) for name, values in sets if name in params]
        missing = [p for p, has_default in self.function.params if not has_default and p not in dict(sets)]
        if missing:
            them = "it" if len(missing) == 1 else "them"
            too = " too" if axes else ""
            raise SweepError(
                f"{self.source}: {shown} has no default for {', '.join(missing)}; sweep {them}{too} "
                f"(--set {missing[0]}=V1,V2,...) or give {them} a default in the code"
            )
        models = {}
        for combo in itertools.product(*(axis.values for axis in axes)):
            kwargs = {axis.name: value for axis, value in zip(axes, combo)}
            try:
                models[combo] = self._fit(call_model(self.text, self.source, self.function.name, kwargs))
            except ModelError as e:
                raise SweepError(f"--set {_label(axes, combo)}: {e}") from None
        return axes, models

    def _tuner(self) -> TunerTrials:
        try:
            return tuner_trials(self.text, self.source)
        except ModelError as e:
            raise SweepError(str(e)) from None

    def _tuner_axes(self, given: dict[str, tuple[Any, ...]]) -> tuple[list[Axis], dict[tuple, ModelSpec]]:
        """GridSearch: every combination of the hyperparameters (those --set picks); RandomSearch:
        the combinations it draws (those with the values --set picks)."""
        found = self._tuner()
        hps, search = found.hps, found.search
        shown = self.function.signature
        if not hps:
            raise SweepError(f"{self.source}: {shown} declares no hyperparameters (hp.Int, hp.Float, hp.Choice, "
                             "hp.Boolean); a sweep of it needs some")
        code = f"{shown}, {search}" if search.random else shown
        axes = []
        for name, grid in hps:  # a --set of a hyperparameter picks some of its values
            values = tuple(_among(name, v, grid, shown, search) for v in given[name]) if name in given else tuple(grid)
            axes.append(Axis(name, values, name, code=code))
        by_values = {tuple(used.get(name) for name, _ in hps): spec for used, spec in found.trials}
        combos = itertools.product(*(axis.values for axis in axes))
        if search.random:  # only the drawn combinations
            combos = [c for c in by_values if all(v in axis.values for v, axis in zip(c, axes))]
        models = {}
        for combo in combos:
            if combo not in by_values:
                raise SweepError(f"{shown} declares some hyperparameters only in some trials ({_label(axes, combo)} "
                                 "is not one); a sweep needs every hyperparameter in every trial")
            try:
                models[combo] = self._fit(by_values[combo])
            except ModelError as e:
                raise SweepError(f"--set {_label(axes, combo)}: {e}") from None
        return axes, models

    def _fit(self, spec: ModelSpec) -> ModelSpec:
        from cnnlab.models.source import fit_to_data

        return fit_to_data(spec, self.input_shape, self.classes)


def model_code(ref: Any, names: list[str], input_shape=None, classes: int | None = None) -> ModelCode | None:
    """The model code a sweep of `ref` varies: the function whose parameters the --set `names`
    include (when the file also has a `build_model(hp)`: only if they give all it needs), else
    Keras Tuner's `build_model(hp)`; None for a preset, a plain model or a layer file."""
    from cnnlab.models.presets import PRESETS
    from cnnlab.models.source import read_model_text

    if not isinstance(ref, str) or ref in PRESETS or not (ref == "-" or os.path.isfile(ref)):
        return None
    text, source = read_model_text(ref)
    try:
        functions = _functions(text, source)
    except SweepError:
        return None  # reading it as a plain model gives the reader's own message
    named = [f for f in functions if not f.tuner and any(n in dict(f.params) for n in names)]
    if len(named) > 1:
        shown = ", ".join(f.signature for f in named)
        raise SweepError(f"--set {', '.join(names)}: several functions take them ({shown}); a sweep calls "
                         "one, so keep only its function in the file or rename the parameters")
    tuned = [f for f in functions if f.tuner]
    if named and tuned and not _covers(named[0], names):
        named = []  # build_model(hp) beside the function it calls: its hyperparameters, picked by --set
    function = named[0] if named else tuned[0] if tuned else _needs_arguments(functions, text, source)
    return None if function is None else ModelCode(source, text, function, input_shape, classes)


def _needs_arguments(functions: list[CodeFunction], text: str, source: str) -> CodeFunction | None:
    """The one model function of code that builds no model until it is called with arguments:
    its missing arguments are then the sweep's to give."""
    waiting = [f for f in functions if not f.tuner and not _covers(f, [])]
    if len(waiting) != 1 or any(f.called for f in functions):
        return None
    try:
        parse_models(text, source)
    except ModelError:
        return waiting[0]
    return None  # the code builds its model without the function's arguments


def _covers(function: CodeFunction, names: list[str]) -> bool:
    """Whether `names` give every parameter of `function` that has no default."""
    return all(has_default or param in names for param, has_default in function.params)


def _functions(text: str, source: str) -> list[CodeFunction]:
    try:
        return code_functions(text, source)
    except ModelError as e:
        raise SweepError(str(e)) from None


def _among(name: str, value: Any, grid: list[Any], shown: str, search: Any) -> Any:
    """The grid's own value that `value` names (a float as printed, e.g. 0.8)."""
    for g in grid:
        if g == value or isinstance(g, float) and isinstance(value, (int, float)) and math.isclose(g, value):
            return g
    gives = f"{search} of {shown} draws for {name}" if search.random else f"{shown} gives {name}"
    raise SweepError(f"--set {name}={value_text(value)}: {gives} the values "
                     f"{', '.join(value_text(g) for g in grid)}; pick some of those or change them in the code")


def _label(axes: list[Axis], combo: tuple) -> str:
    return ",".join(f"{axis.name}={value_text(value)}" for axis, value in zip(axes, combo))
