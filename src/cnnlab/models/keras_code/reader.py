"""Keras code -> one `ModelSpec`: which kind of text it is, Sequential models and layer files.

`CodeReader.model` finds the model the statements build: `keras.Sequential([...])`
with any `model.add(...)`, the functional style (`functional.py`), or else a layer
file (one layer call per line). The statements come from `text.statements`; nothing
is executed.
"""

from __future__ import annotations

import ast

from cnnlab.models.keras_code.functional import (
    BRANCH_FIX,
    MERGE_FUNCTIONS,
    MERGE_LAYERS,
    given_name,
    read_functional,
)
from cnnlab.models.keras_code.layer_calls import INPUTS, LayerCalls
from cnnlab.models.keras_code.values import (
    Names,
    call_kind,
    dotted,
    is_method,
    node_line,
    node_pos,
    node_text,
    target,
)
from cnnlab.models.layers import ModelError, ModelSpec, new_spec

__all__ = ["CodeReader", "rejoin_wrapped"]


def rejoin_wrapped(stmts: list[ast.stmt]) -> list[ast.stmt]:
    """`x = layers.Dense(10)` then `(x)` on the next line: a PDF wrapped `...Dense(10)(x)`."""
    out: list[ast.stmt] = []
    for stmt in stmts:
        prev = out[-1] if out else None
        if (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Name)
            and isinstance(prev, ast.Assign)
            and len(prev.targets) == 1
            and isinstance(prev.targets[0], ast.Name)
            and prev.targets[0].id != stmt.value.id
            and isinstance(prev.value, ast.Call)
            and (call_kind(prev.value) or "")[:1].isupper()
            and call_kind(prev.value) not in (*INPUTS, "Sequential", "Model")
            and stmt.lineno == (prev.end_lineno or prev.lineno) + 1
        ):
            applied = ast.Call(func=prev.value, args=[stmt.value], keywords=[])
            out[-1] = ast.copy_location(ast.Assign(targets=prev.targets, value=ast.copy_location(applied, prev.value)), prev)
            continue
        out.append(stmt)
    return out



class CodeReader:
    """The statements of one text of Keras code, read into the model they build."""

    def __init__(self, stmts: list[ast.stmt]):
        self.stmts = stmts
        self.names = Names(stmts)
        self.calls = LayerCalls(self.names)

    def model(self, name: str | None) -> ModelSpec:
        sequential, functional = [], []
        for stmt in self.stmts:
            for node in ast.walk(stmt):
                kind = call_kind(node)
                if kind == "Sequential":
                    sequential.append((stmt, node))
                elif kind in ("Model", "Functional") and not is_method(node):
                    functional.append((stmt, node))
        found = sequential + functional
        for stmt, call in found:
            var = target(stmt)
            for other in self.stmts:
                value = getattr(other, "value", None)
                if var and isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == var:
                    raise ModelError(
                        f"line {node_line(other)}: {var} (the {call_kind(call)} model on line {node_line(call)}) is "
                        "used as a layer; cnnlab does not support models inside models yet: put its "
                        "layers into the model itself"
                    )
        if len(found) > 1:
            listed = ", ".join(f"{target(s) or call_kind(c)} on line {node_line(c)}" for s, c in found)
            raise ModelError(
                f"line {node_line(found[1][1])}: the code defines {len(found)} models ({listed}); "
                "cnnlab reads one model at a time: keep only the one you want"
            )
        if sequential:
            return self.sequential(*sequential[0], name)
        if functional or any(self.flow_statement(s) for s in self.stmts):
            return read_functional(self.names, self.calls, self.stmts, functional[0][1] if functional else None, name)
        return self.layer_file(name)

    def flow_statement(self, stmt: ast.stmt) -> bool:
        """`x = Layer(...)(y)` or `inputs = keras.Input(...)`: functional Keras code."""
        if not isinstance(stmt, ast.Assign):
            return False
        value = stmt.value
        return call_kind(value) in INPUTS or isinstance(value, ast.Call) and isinstance(value.func, ast.Call)

    # -- layer files

    def layer_file(self, name: str | None) -> ModelSpec:
        calls: list[ast.expr] = []
        for stmt in self.stmts:
            if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.Pass)):
                continue
            if not isinstance(stmt, ast.Expr):
                raise ModelError(
                    f"line {node_line(stmt)}: a layer file has one layer call per line, like "
                    f"Conv2D(32, (3, 3)); cannot read {node_text(stmt).splitlines()[0]!r}"
                )
            value = stmt.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                continue  # a docstring
            if isinstance(value, (ast.Tuple, ast.List)):
                calls += value.elts  # pasted from a list: `layers.Dense(10),`
            elif isinstance(value, ast.Call) and call_kind(value) == "add" and is_method(value):
                calls += value.args  # model.add(...) lines without the Sequential
            else:
                calls.append(value)
        return self.stack(calls, name or "sequential", functional=False)

    def stack(self, items: list[ast.expr], name: str, functional: bool) -> ModelSpec:
        """Layers in order; an Input / InputLayer first gives the input shape."""
        shape, layers = None, []
        for node in items:
            call = self.names.resolve_call(node, node_pos(node))
            if call_kind(call) in INPUTS:
                if layers:
                    raise ModelError(f"line {node_line(node)}: the Input must come before the layers")
                if shape is not None or self.calls.hint:
                    raise ModelError(f"line {node_line(node)}: a second Input; a model takes one")
                if call_kind(call) == "InputLayer" and not call.args and not any(
                    k.arg in ("shape", "input_shape", "batch_shape", "batch_input_shape") for k in call.keywords
                ):
                    raise ModelError(f"line {node_line(node)}: InputLayer needs shape=(H, W, C)")
                shape = self.calls.input_shape(call)
                continue
            if isinstance(call, ast.Call) and call_kind(call) in MERGE_FUNCTIONS + MERGE_LAYERS:
                raise ModelError(f"line {node_line(node)}: {call_kind(call)} merges branches, {BRANCH_FIX}")
            if isinstance(node, ast.Name) and not isinstance(call, ast.Call):
                raise ModelError(f"line {node_line(node)}: {node.id} is not a layer cnnlab can find")
            layer = self.calls.layer(call, first=not layers)
            if isinstance(node, ast.Name):
                layer.line = node_line(node)
            layers.append(layer)
        hint = self.calls.hint if shape is None else None
        return new_spec(name, layers, shape, functional=functional, input_hint=hint)

    # -- Sequential

    def sequential(self, stmt: ast.stmt, call: ast.Call, name: str | None) -> ModelSpec:
        line = node_line(call)
        keys = {k.arg: k.value for k in call.keywords if k.arg}
        items: list[ast.expr] = []
        given = call.args[0] if call.args else keys.get("layers")
        if given is not None:
            given = self.names.resolve_call(given, node_pos(call))
            if not isinstance(given, (ast.List, ast.Tuple)):
                raise ModelError(
                    f"line {line}: cannot read the layers of Sequential({node_text(given)}); "
                    "give them as a list: keras.Sequential([layers.Conv2D(...), ...])"
                )
            items += given.elts
        var = target(stmt) if getattr(stmt, "value", None) is call else None
        if var:
            for other in self.stmts:
                value = getattr(other, "value", None)
                if isinstance(other, ast.Expr) and call_kind(value) == "add" and is_method(value):
                    if dotted(value.func.value) == var:
                        if len(value.args) != 1:
                            raise ModelError(f"line {node_line(value)}: {var}.add takes one layer")
                        items.append(value.args[0])
        model_name = given_name(self.names, keys) or name or "sequential"
        return self.stack(items, model_name, functional=False)
