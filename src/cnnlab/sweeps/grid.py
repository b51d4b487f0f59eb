"""The grid of a sweep: `--set NAME=V1,V2,...` axes, what each name changes, and the runs.

On model code (`model_code.py`), a parameter of the model function, or a hyperparameter of
Keras Tuner's `build_model(hp)` (whose grid is the sweep's without any --set), comes first: each
combination of their values is a model the code builds. Any other NAME is looked up in this order:
  1. a training setting (a TrainSettings field): lr, batch_size, optimizer, epochs, ...
  2. `dropout`: the rate of every Dropout layer (the lesson's exercise)
  3. LAYER.ARG: one layer by its Keras name, e.g. conv2d.filters, dense.units, dropout_1.rate
  4. ARG: a layer argument, set on every layer that has it except the output layer (whose
     units are the number of classes), e.g. filters=16,32 or activation=relu,tanh
A name that matches nothing, and a value a layer or setting refuses, is a SweepError before
anything is written. The grid is every combination of the axes, times the seeds.

Nothing here touches torch.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from typing import Any, Protocol

from cnnlab.errors import CnnlabError
from cnnlab.models.layers import LAYER_ARGS, Layer, ModelError, ModelSpec, make_layer
from cnnlab.settings import ConfigError, TrainSettings

# Settings a sweep owns: seeds come from --seeds, threads from --workers.
NOT_SWEPT = {
    "seed": "give --seeds N instead (seeds 0 .. N-1)",
    "threads": "the sweep gives each worker its share of the cores (see --workers)",
}
SETTING_NAMES = tuple(f.name for f in dataclasses.fields(TrainSettings))


class CodeModels(Protocol):
    """Model code (model_code.ModelCode): its own axes and the model of each combination."""

    def axes_and_models(self, sets: list[tuple[str, tuple[Any, ...]]]
                        ) -> tuple[list[Axis], dict[tuple, ModelSpec]]: ...


class SweepError(CnnlabError):
    """A sweep that cannot run as asked; the message names the --set or flag at fault."""


@dataclasses.dataclass(frozen=True)
class Axis:
    """One `--set`: a name, its values, and what it changes."""

    name: str
    values: tuple[Any, ...]
    arg: str  # the setting, layer argument, function parameter or hyperparameter changed
    layers: tuple[str, ...] = ()  # layer names changed; empty for a training setting
    code: str = ""  # the model code's function the value is passed to, e.g. build_model(hp)

    @property
    def is_setting(self) -> bool:
        return not self.layers and not self.code

    def describes(self) -> str:
        if self.code:
            return f"{self.arg} of {self.code}"
        if self.is_setting:
            return f"training setting {self.arg}"
        return f"{self.arg} of {', '.join(self.layers)}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "values": [_jsonable(v) for v in self.values],
                "changes": self.describes()}


@dataclasses.dataclass(frozen=True)
class Point:
    """One grid point: a value per axis, and the seed."""

    values: tuple[tuple[str, Any], ...]  # (axis name, value), in axis order
    seed: int

    @property
    def setting(self) -> str:
        """`dropout=0.3,lr=0.001`: the label shared by the seeds of one setting."""
        return ",".join(f"{name}={value_text(value)}" for name, value in self.values)

    @property
    def name(self) -> str:
        """The run folder name, e.g. `dropout=0.3,seed=0`."""
        return f"{self.setting},seed={self.seed}"


# --- parsing ---------------------------------------------------------------------------


def parse_set(text: str) -> tuple[str, tuple[Any, ...]]:
    """`dropout=0.1,0.3` -> ("dropout", (0.1, 0.3)). Values are Python literals or words."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not name or not rest.strip():
        raise SweepError(f"--set {text!r}: write NAME=VALUE,VALUE,..., e.g. --set dropout=0.1,0.3,0.5")
    values = tuple(parse_value(item) for item in split_values(rest))
    for i, value in enumerate(values):
        if value in values[:i]:
            raise SweepError(f"--set {name}: the value {value_text(value)} is listed twice")
    return name, values


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets: `(3, 3),(5, 5)` -> ["(3, 3)", "(5, 5)"]."""
    items, depth, current = [], 0, []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    if any(not item.strip() for item in items):
        raise SweepError(f"--set ...={text}: an empty value between commas")
    return [item.strip() for item in items]


def parse_value(text: str) -> Any:
    """A number, tuple, True/False/None as Python writes them; anything else is a word."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.strip("'\"")
    return tuple(value) if isinstance(value, list) else value


def value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "x".join(value_text(v) for v in value)
    return str(value)


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --- what a name changes ------------------------------------------------------------------


def resolve_axis(name: str, values: tuple[Any, ...], spec: ModelSpec | list[ModelSpec],
                 settings: TrainSettings) -> Axis:
    """The Axis for `--set name=values` on this model (or each of a code sweep's models); every
    value is checked."""
    specs = spec if isinstance(spec, list) else [spec]
    if name in NOT_SWEPT:
        raise SweepError(f"--set {name}: {NOT_SWEPT[name]}")
    if name in SETTING_NAMES:
        axis = Axis(name, values, name)
    else:
        targets = [_layer_target(name, s) for s in specs]
        layers = dict.fromkeys(layer.name for _, found in targets for layer in found)
        axis = Axis(name, values, targets[0][0], tuple(layers))
    for value in values:  # every value must be one the setting or the layer accepts
        try:
            if axis.is_setting:
                apply_settings(settings, [(axis, value)])
            for s in specs if axis.layers else []:
                apply_model(s, [(_on_model(axis, s), value)])
        except (ConfigError, ModelError) as e:
            raise SweepError(f"--set {name}={value_text(value)}: {e}") from None
    return axis


def _on_model(axis: Axis, spec: ModelSpec) -> Axis:
    """A layer axis aimed at this model's own layers (a code sweep's models differ in layers)."""
    if not axis.layers:
        return axis
    return dataclasses.replace(axis, layers=tuple(layer.name for layer in _layer_target(axis.name, spec)[1]))


def _layer_target(name: str, spec: ModelSpec) -> tuple[str, list[Layer]]:
    """(argument, the layers it is set on) for a layer name; SweepError if nothing has it."""
    layers = spec.layers
    if name == "dropout":
        found = [layer for layer in layers if layer.kind == "Dropout"]
        if not found:
            raise SweepError(
                f"--set dropout: model {spec.name!r} has no Dropout layer; add one (e.g. "
                "Dropout(0.2) before Flatten, as cifar_model_dropout does) or sweep another name"
            )
        return "rate", found
    if "." in name:
        layer_name, arg = name.split(".", 1)
        found = [layer for layer in layers if layer.name == layer_name]
        if not found:
            names = ", ".join(layer.name for layer in layers)
            raise SweepError(f"--set {name}: model {spec.name!r} has no layer {layer_name!r}; its layers are {names}")
        if arg not in LAYER_ARGS[found[0].kind]:
            takes = ", ".join(LAYER_ARGS[found[0].kind]) or "no arguments"
            raise SweepError(f"--set {name}: {layer_name} ({found[0].kind}) has no argument {arg!r}; it takes {takes}")
        return arg, found
    found = [layer for layer in layers[:-1] if name in LAYER_ARGS[layer.kind]]
    if not found:
        if name in LAYER_ARGS[layers[-1].kind]:
            raise SweepError(
                f"--set {name}: only the output layer {layers[-1].name} has {name!r}, and a bare name "
                f"leaves the output layer alone; write {layers[-1].name}.{name}=... to change it"
            )
        raise SweepError(
            f"--set {name}: no training setting or layer argument is called {name!r}; settings are "
            f"{', '.join(n for n in SETTING_NAMES if n not in NOT_SWEPT)}; layers are named as in the "
            f"summary ({', '.join(layer.name for layer in layers)}), e.g. --set {_example(layers)}"
        )
    return name, found


def _example(layers: list[Layer]) -> str:
    for layer in layers:
        if layer.kind == "Conv2D":
            return f"{layer.name}.filters=16,32"
    return "dropout=0.2,0.5" if any(layer.kind == "Dropout" for layer in layers) else "lr=1e-3,3e-4"


def apply_settings(settings: TrainSettings, assignment: list[tuple[Axis, Any]]) -> TrainSettings:
    values = settings.to_dict()
    values.update({axis.arg: value for axis, value in assignment if axis.is_setting})
    return TrainSettings.from_dict(values)


def apply_model(spec: ModelSpec, assignment: list[tuple[Axis, Any]]) -> ModelSpec:
    """A copy of `spec` with the layer arguments of `assignment` set (each layer re-checked)."""
    layers = list(spec.layers)
    for axis, value in assignment:
        if not axis.layers:
            continue
        for i, layer in enumerate(layers):
            if layer.name in axis.layers:
                layers[i] = _with_arg(layer, axis.arg, value)
    return dataclasses.replace(spec, layers=layers)


def _with_arg(layer: Layer, arg: str, value: Any) -> Layer:
    args = dict(layer.args)
    if arg == "pool_size" and args.get("strides") == args.get("pool_size"):
        args["strides"] = None  # Keras: strides default to the pool size
    args[arg] = value
    changed = make_layer(layer.kind, {**args, "name": layer.name}, layer.line)
    return changed


def resolve_axes(sets: list[tuple[str, tuple[Any, ...]]], model: ModelSpec | CodeModels,
                 settings: TrainSettings) -> tuple[list[Axis], dict[tuple, ModelSpec]]:
    """The axes of the --set's on this model, and for model code the model of each combination
    of its code axes' values (empty for a plain model)."""
    names = [name for name, _ in sets]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise SweepError(f"--set {name} is given twice; list all its values in one --set")
    if isinstance(model, ModelSpec):
        return [resolve_axis(name, values, model, settings) for name, values in sets], {}
    code_axes, models = model.axes_and_models(sets)
    specs = list(models.values())
    for name, values in sets:  # each model of the code on its own, so a message names its values
        for combo, spec in models.items() if name not in {axis.name for axis in code_axes} else ():
            try:
                resolve_axis(name, values, spec, settings)
            except SweepError as e:
                shown = ",".join(f"{axis.name}={value_text(v)}" for axis, v in zip(code_axes, combo))
                raise SweepError(f"{e} (the model of {shown})") from None
    by_name = {axis.name: axis for axis in code_axes}
    axes = [by_name[name] if name in by_name else resolve_axis(name, values, specs, settings)
            for name, values in sets]
    _not_varied_by_code(axes, code_axes, specs)
    # the code's axes first, in their own order: the order of the keys of `models`
    return code_axes + [axis for axis in axes if axis.name not in by_name], models


def _not_varied_by_code(axes: list[Axis], code_axes: list[Axis], specs: list[ModelSpec]) -> None:
    """A layer axis may not set what the code's own axes already vary (its value would win unseen)."""
    for axis in axes:
        for layer in axis.layers:
            seen = {repr(each.args.get(axis.arg)) for spec in specs for each in spec.layers if each.name == layer}
            if len(seen) > 1:
                code = ", ".join(a.name for a in code_axes)
                raise SweepError(f"--set {axis.name} sets {axis.arg} of {layer}, which the code's {code} already "
                                 "vary; keep one of them")


# --- the grid --------------------------------------------------------------------------------


def grid_points(axes: list[Axis], seeds: list[int]) -> list[Point]:
    """Every combination of the axes' values (first axis slowest), each with every seed."""
    combos = itertools.product(*[[(axis.name, v) for v in axis.values] for axis in axes])
    return [Point(tuple(combo), seed) for combo in combos for seed in seeds]


def point_config(point: Point, axes: list[Axis], spec: ModelSpec, settings: TrainSettings,
                 models: dict[tuple, ModelSpec] | None = None):
    """(ModelSpec, TrainSettings) of one grid point, the seed included. A code sweep's `models`
    give the model of each combination of its code axes' values."""
    by_name = {axis.name: axis for axis in axes}
    assignment = [(by_name[name], value) for name, value in point.values]
    run_settings = dataclasses.replace(apply_settings(settings, assignment), seed=point.seed)
    if models:
        spec = models[code_key(point.values, axes)]
        assignment = [(_on_model(axis, spec), value) for axis, value in assignment]
    return apply_model(spec, assignment), run_settings


def code_key(values: tuple[tuple[str, Any], ...], axes: list[Axis]) -> tuple:
    """The values of the code axes: which of a code sweep's models a point trains."""
    code = {axis.name for axis in axes if axis.code}
    return tuple(value for name, value in values if name in code)
