"""What model-building code makes when the reader follows it: layers, tensors, models.

A `LayerCall` is `layers.Conv2D(32, (3, 3))` with its arguments worked out where the
call stands (inside a loop or a function, with the values of that moment); applying
it to a `Tensor` gives the next tensor of the chain that started at a `keras.Input`.
`SequentialModel` and `FunctionalModel` become a `ModelSpec` through the same layer
checks as flat code (`layer_calls.py`), so messages and layer names are the same.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from cnnlab.models.keras_code.evaluate import Unknown, is_known
from cnnlab.models.keras_code.functional import BRANCH_FIX
from cnnlab.models.keras_code.layer_calls import LayerCalls
from cnnlab.models.keras_code.values import NotConstant, node_text
from cnnlab.models.layers import Layer, ModelError, ModelSpec, new_spec

__all__ = ["Frozen", "FunctionalModel", "Input", "LayerCall", "SequentialModel", "Session", "Tensor", "describe"]


class Session:
    """Keras's default names, counted as one Keras session counts them: each object made
    without `name=` takes the next name of its prefix (dense, dense_1, ...), in the order the
    code makes them, models and InputLayers included; `keras.backend.clear_session()` and a
    Keras Tuner trial start a new session."""

    def __init__(self, number: int = 0):
        self.number = number
        self.counters: dict[str, int] = {}

    def auto(self, prefix: str) -> str:
        n = self.counters.get(prefix, 0)
        self.counters[prefix] = n + 1
        return prefix if n == 0 else f"{prefix}_{n}"


class Frozen:
    """The argument values of one call as they were where it stood, for `LayerCalls`."""

    def __init__(self, values: dict[int, Any], texts: dict[int, Unknown]):
        self.values = values
        self.texts = texts

    def value(self, node: ast.expr, at: tuple[int, int]) -> Any:
        if id(node) in self.values:
            v = self.values[id(node)]
        elif isinstance(node, ast.Subscript) and id(node.value) in self.values:
            v = self.values[id(node.value)]  # batch_input_shape[1:], made by LayerCalls
            v = v[1:] if isinstance(v, (tuple, list)) else Unknown("")
        else:
            raise NotConstant
        if not is_known(v):
            raise NotConstant
        return v

    def source_of(self, node: ast.expr, at: tuple[int, int]) -> str:
        return self.texts[id(node)].text if id(node) in self.texts else node_text(node)


@dataclass(eq=False)
class Input:
    """`keras.Input(shape=...)`: the shape, or the text the data gives it from (`hint`)."""

    shape: tuple[int, ...] | None
    hint: str | None
    line: int
    name: str = "input_layer"  # the InputLayer's name in the summary


@dataclass(eq=False)
class LayerCall:
    """A layer made by a call, not yet placed in a model."""

    call: ast.Call
    kind: str
    frozen: Frozen
    line: int
    name: str = ""  # the name Keras gives it where it is made, when the code gives none

    def build(self, first: bool, line: int) -> tuple[Layer, str | None]:
        calls = LayerCalls(self.frozen)  # type: ignore[arg-type]
        layer = calls.layer(self.call, first)
        layer.line = line
        layer.name = layer.name or self.name
        return layer, calls.hint

    def declares_input(self) -> bool:
        """Whether it has `input_shape=` (Keras 2's way): a Sequential makes an InputLayer for it."""
        return any(k.arg in ("input_shape", "batch_input_shape") for k in self.call.keywords)


@dataclass(eq=False)
class Tensor:
    """The output of `root` after the layers in `steps` (each with the line applying it)."""

    root: Input
    steps: tuple[tuple[LayerCall, int], ...] = ()


@dataclass(eq=False)
class SequentialModel:
    items: list[tuple[Any, int]]
    name: str | None
    line: int
    label: str = ""
    auto_named: list[bool] = field(default_factory=list)  # layers given Keras's default names
    auto: str = "sequential"  # Keras's default name in its session

    legacy_input: bool = False  # the first layer's input_shape= made an InputLayer

    def add(self, item: Any, line: int, session: Session, rebuild: bool = True) -> None:
        """`model.add(item)` as Keras does it: a first layer with `input_shape=` brings its own
        InputLayer, and each add after an InputLayer rebuilds the model (a new Functional)."""
        if not self.items and isinstance(item, LayerCall) and item.declares_input():
            session.auto("input_layer")
            self.legacy_input = True
        self.items.append((item, line))
        if rebuild:
            self.rebuild(session)

    def rebuild(self, session: Session) -> None:
        starts_with_input = self.legacy_input or bool(self.items) and _is_input(self.items[0][0])
        if starts_with_input and len(self.items) + self.legacy_input > 1:
            session.auto("functional")

    def spec(self, default_name: str | None) -> ModelSpec:
        shape = hint = None
        layers: list[Layer] = []
        for item, line in self.items:
            if isinstance(item, Tensor) and not item.steps:
                if layers:
                    raise ModelError(f"line {line}: the Input must come before the layers")
                if shape is not None or hint:
                    raise ModelError(f"line {line}: a second Input; a model takes one")
                shape, hint = item.root.shape, item.root.hint
                continue
            if isinstance(item, (SequentialModel, FunctionalModel)):
                raise ModelError(
                    f"line {line}: a model (line {item.line}) is used as a layer; cnnlab does not "
                    "support models inside models yet: put its layers into the model itself"
                )
            if not isinstance(item, LayerCall):
                raise ModelError(f"line {line}: {describe(item)} is not a layer cnnlab can find")
            layer, first_hint = item.build(first=not layers, line=line)
            if not layers and first_hint and shape is None:
                hint = first_hint
            layers.append(layer)
        self.auto_named = [not layer.name for layer in layers]
        return new_spec(self.name or default_name or "sequential", layers, shape, functional=False,
                        input_hint=hint if shape is None else None)  # fmt: skip


@dataclass(eq=False)
class FunctionalModel:
    inputs: Tensor
    outputs: Tensor
    name: str | None
    line: int
    label: str = ""
    auto_named: list[bool] = field(default_factory=list)
    auto: str = "functional"  # Keras's default name in its session

    def spec(self, default_name: str | None) -> ModelSpec:
        if self.inputs.steps or self.inputs.root is not self.outputs.root:
            raise ModelError(
                f"line {self.line}: the model's inputs are not the Input where its layers "
                f"start (line {self.outputs.root.line})"
            )
        layers: list[Layer] = []
        applied: dict[int, int] = {}
        for call, line in self.outputs.steps:
            if id(call) in applied:
                raise ModelError(
                    f"line {line}: the layer made on line {call.line} is applied a second time "
                    f"(shared weights: also on line {applied[id(call)]}), {BRANCH_FIX}"
                )
            applied[id(call)] = line
            layers.append(call.build(first=False, line=line)[0])
        root = self.outputs.root
        self.auto_named = [not layer.name for layer in layers]
        return new_spec(self.name or default_name or "functional", layers, root.shape, functional=True,
                        input_hint=root.hint, input_name=root.name)  # fmt: skip


def _is_input(item: Any) -> bool:
    return isinstance(item, Tensor) and not item.steps


def describe(v: Any) -> str:
    """A value as the user wrote or would recognise it, for messages."""
    if isinstance(v, Unknown):
        return v.text
    if isinstance(v, LayerCall):
        return f"{v.kind}(...) (line {v.line})"
    if isinstance(v, Tensor):
        return "a tensor"
    if isinstance(v, (SequentialModel, FunctionalModel)):
        return f"the model built on line {v.line}"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
