"""Keras calls met while following code: Input, layer calls, applying a layer, the models.

Each takes the `Expressions` that is following the code (`ev`): arguments are worked
out there and then (a loop's current value, a function's arguments), and each model
is recorded in the order the code builds it.
"""

from __future__ import annotations

import ast
from typing import Any, Protocol

from cnnlab.models.keras_code.evaluate import Unknown, is_known
from cnnlab.models.keras_code.functional import BRANCH_FIX
from cnnlab.models.keras_code.layer_calls import ALIASES, LayerCalls
from cnnlab.models.keras_code.symbolic import (
    Frozen,
    FunctionalModel,
    Input,
    LayerCall,
    SequentialModel,
    Session,
    Tensor,
    describe,
)
from cnnlab.models.keras_code.values import call_kind, node_line, node_text
from cnnlab.models.layers import LAYER_ARGS, ModelError, default_base_name

__all__ = ["apply", "make_functional", "make_input", "make_layer_call", "make_sequential"]


class Expressions(Protocol):
    """What these calls need of the reader following the code (`expressions.Expressions`)."""

    line: int
    session: Session

    def eval(self, node: ast.expr) -> Any: ...
    def describe(self, node: ast.AST) -> str: ...
    def unknown(self, node: ast.AST) -> Unknown: ...
    def record(self, model: SequentialModel | FunctionalModel) -> None: ...
    def count_layer(self) -> None: ...


def frozen(ev: Expressions, node: ast.Call) -> tuple[ast.Call, Frozen]:
    """The call with known `*args` / `**kwargs` written out, and its argument values here and now."""
    args: list[ast.expr] = []
    keywords: list[ast.keyword] = []
    values: dict[int, Any] = {}
    texts: dict[int, Unknown] = {}

    def keep(arg: ast.expr, value: Any) -> ast.expr:
        values[id(arg)] = value
        if not is_known(value):
            texts[id(arg)] = value if isinstance(value, Unknown) else ev.unknown(arg)
        return arg

    def item(of: ast.expr, key: Any) -> ast.expr:
        return ast.copy_location(ast.Subscript(of, ast.Constant(key), ast.Load()), of)

    for arg in node.args:
        v = ev.eval(arg.value if isinstance(arg, ast.Starred) else arg)
        if isinstance(arg, ast.Starred) and isinstance(v, (tuple, list)):
            args += [keep(item(arg.value, i), x) for i, x in enumerate(v)]
        else:
            args.append(keep(arg, v))
    for k in node.keywords:
        v = ev.eval(k.value)
        if k.arg is None and isinstance(v, dict) and all(isinstance(key, str) for key in v):
            keywords += [ast.keyword(arg=key, value=keep(item(k.value, key), x)) for key, x in v.items()]
        else:
            keywords.append(ast.keyword(arg=k.arg, value=keep(k.value, v)))
    return ast.copy_location(ast.Call(node.func, args, keywords), node), Frozen(values, texts)


def make_layer_call(ev: Expressions, node: ast.Call, kind: str) -> LayerCall:
    ev.count_layer()
    call, values = frozen(ev, node)
    made = LayerCall(call, kind, values, node_line(node, ev.line))
    cls = ALIASES.get(kind, kind)
    if cls in LAYER_ARGS and name_given(call, values) is None:
        made.name = ev.session.auto(default_base_name(cls))
    return made


def make_input(ev: Expressions, node: ast.Call) -> Input:
    node, values = frozen(ev, node)
    calls = LayerCalls(values)  # type: ignore[arg-type]
    if call_kind(node) == "InputLayer" and not node.args and not any(
        k.arg in ("shape", "input_shape", "batch_shape", "batch_input_shape") for k in node.keywords
    ):
        raise ModelError(f"line {ev.line}: InputLayer needs shape=(H, W, C)")
    shape = calls.input_shape(node)
    return Input(shape, calls.hint, ev.line, name_given(node, values) or ev.session.auto("input_layer"))


def name_given(call: ast.Call, values: Frozen) -> str | None:
    for k in call.keywords:
        if k.arg == "name":
            v = values.values[id(k.value)]
            return v if isinstance(v, str) and v else None
    return None


def make_sequential(ev: Expressions, node: ast.Call) -> SequentialModel:
    call, values = frozen(ev, node)
    given = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "layers"), None)
    items: list[tuple[Any, int]] = []
    if given is not None:
        v = values.values[id(given)]
        if not isinstance(v, (list, tuple)):
            raise ModelError(
                f"line {ev.line}: cannot read the layers of Sequential({values.source_of(given, (0, 0))}); "
                "give them as a list: keras.Sequential([layers.Conv2D(...), ...])"
            )
        lines = [node_line(e) for e in given.elts] if isinstance(given, (ast.List, ast.Tuple)) else []
        for i, item in enumerate(v):
            at = lines[i] if len(lines) == len(v) else getattr(item, "line", ev.line)
            items.append((item, at))
    name = name_given(call, values)
    model = SequentialModel([], name, ev.line, auto=name or ev.session.auto("sequential"))
    for item, at in items:  # Keras adds the layers one by one, then builds the model once
        model.add(item, at, ev.session, rebuild=False)
    if model.items:
        model.rebuild(ev.session)
    ev.record(model)
    return model


def make_functional(ev: Expressions, node: ast.Call) -> FunctionalModel:
    call, values = frozen(ev, node)
    keys = {k.arg: k.value for k in call.keywords if k.arg}
    ends = []
    for i, names in enumerate((("inputs", "input"), ("outputs", "output"))):
        given = keys.get(names[0], keys.get(names[1], call.args[i] if len(call.args) > i else None))
        if given is None:
            raise ModelError(
                f"line {ev.line}: keras.Model needs inputs and outputs, "
                "e.g. keras.Model(inputs=inputs, outputs=outputs)"
            )
        v = values.values[id(given)]
        if isinstance(v, (list, tuple)) and len(v) == 1:
            v = v[0]
        if isinstance(v, (list, tuple, dict)):
            raise ModelError(f"line {ev.line}: the model has branches ({len(v)} {names[0]}), {BRANCH_FIX}")
        if not isinstance(v, Tensor):
            raise ModelError(
                f"line {ev.line}: cannot follow {names[0]}={values.source_of(given, (0, 0))}; give the "
                f"result of keras.Input (inputs) and of the last layer (outputs)"
            )
        ends.append(v)
    name = name_given(call, values)
    model = FunctionalModel(ends[0], ends[1], name, ev.line, auto=name or ev.session.auto("functional"))
    ev.record(model)
    return model


def apply(ev: Expressions, layer: LayerCall, node: ast.Call) -> Tensor:
    if not node.args:
        raise ModelError(f"line {ev.line}: {layer.kind}(...)() is applied to nothing; give it a tensor")
    arg = ev.eval(node.args[0])
    if isinstance(arg, (list, tuple)):
        raise ModelError(
            f"line {ev.line}: the model has branches ({layer.kind} of {node_text(node.args[0])}), {BRANCH_FIX}"
        )
    if not isinstance(arg, Tensor):
        raise ModelError(
            f"line {ev.line}: {layer.kind} is applied to {describe(arg)}, which is not the result "
            "of keras.Input or of a layer; start the model with inputs = keras.Input(shape=(H, W, C))"
        )
    return Tensor(arg.root, (*arg.steps, (layer, ev.line)))
