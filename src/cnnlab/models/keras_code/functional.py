"""The functional style: `inputs = keras.Input(...)`, `x = layers.Conv2D(...)(x)`, `keras.Model(...)`.

The data flow is followed through variable names back from the model's outputs to its
Input, so lines may come in any order where each name is assigned once; a name assigned
several times (`x = ...(x)`) makes the line order matter, and the messages say so.
Branches (a tensor feeding two layers, merges, shared layers) are refused: cnnlab's
models are one chain of layers.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from cnnlab.models.keras_code.layer_calls import INPUTS, LayerCalls
from cnnlab.models.keras_code.values import (
    Names,
    NotConstant,
    call_kind,
    node_line,
    node_pos,
    node_text,
    target,
)
from cnnlab.models.layers import ModelError, ModelSpec, new_spec

__all__ = ["BRANCH_FIX", "MERGE_FUNCTIONS", "MERGE_LAYERS", "given_name", "read_functional"]

MERGE_FUNCTIONS = ("add", "concatenate", "average", "maximum", "minimum", "multiply",
                   "subtract", "dot")  # fmt: skip
MERGE_LAYERS = ("Add", "Concatenate", "Average", "Maximum", "Minimum", "Multiply",
                "Subtract", "Dot")  # fmt: skip
BRANCH_FIX = "which cnnlab does not support yet; give it one chain of layers from the Input to the output"


@dataclass
class _Def:
    """`var = <layers applied to src>` (or an Input when `is_input`)."""

    var: str
    src: str | None
    calls: list[ast.Call]
    pos: tuple[int, int]  # (line, column): the order of statements
    is_input: bool = False
    shape: tuple[int, ...] | None = None
    hint: str | None = None
    name: str = "input_layer"  # an Input's name



def read_functional(names: Names, calls: LayerCalls, stmts: list[ast.stmt], model: ast.Call | None, name: str | None) -> ModelSpec:
    """The functional model that ends at `model` (keras.Model(...)), or at the last layer when None."""
    defs: list[_Def] = []
    for stmt in stmts:
        var = target(stmt)
        if var is None:
            continue
        value = stmt.value  # type: ignore[attr-defined]
        if call_kind(value) in INPUTS:
            calls.hint = None
            shape = calls.input_shape(value)
            name_arg = given_name(names, {k.arg: k.value for k in value.keywords if k.arg}) or "input_layer"
            defs.append(_Def(var, None, [], node_pos(stmt), is_input=True, shape=shape, hint=calls.hint,
                             name=name_arg))
            continue
        found = flow(names, value)
        if found is not None:
            defs.append(_Def(var, found[0], found[1], node_pos(stmt)))
    # `a = b` only matters when b is a tensor: drop `x = x_train` and the like.
    flowing = {d.var for d in defs if d.is_input or d.calls}
    defs = [d for d in defs if d.is_input or d.calls or d.src in flowing]
    inputs = outputs = None
    keys: dict[str, ast.expr] = {}
    at = node_pos(model) if model is not None else (0, 0)
    if model is not None:
        keys = {k.arg: k.value for k in model.keywords if k.arg}
        inputs = keys.get("inputs", keys.get("input", model.args[0] if model.args else None))
        outputs = keys.get("outputs", keys.get("output", model.args[1] if len(model.args) > 1 else None))
        if inputs is None or outputs is None:
            raise ModelError(
                f"line {at[0]}: keras.Model needs inputs and outputs, "
                "e.g. keras.Model(inputs=inputs, outputs=outputs)"
            )
        inputs = _single(inputs, "inputs", at[0])
        outputs = _single(outputs, "outputs", at[0])
        if not isinstance(outputs, ast.Name):  # outputs=layers.Dense(10)(x)
            found = flow(names, outputs)
            if found is None or not found[1]:
                raise ModelError(
                    f"line {at[0]}: cannot follow outputs={node_text(outputs)}; "
                    "give the name of the last layer's result, e.g. outputs=outputs"
                )
            defs.append(_Def("<outputs>", found[0], found[1], at))
            outputs = ast.Name("<outputs>", ast.Load())
    chain, root = _chain(defs, outputs.id if isinstance(outputs, ast.Name) else None, at)
    if isinstance(inputs, ast.Name) and inputs.id != root.var:
        raise ModelError(
            f"line {at[0]}: the model's inputs ({inputs.id}) are not where its layers "
            f"start ({root.var}, line {root.pos[0]})"
        )
    layers = []
    applied: dict[int, int] = {}
    for d in chain:
        for call in d.calls:
            if id(call) in applied:
                raise ModelError(
                    f"line {d.pos[0]}: the layer made on line {node_line(call)} is applied a second "
                    f"time (shared weights: also on line {applied[id(call)]}), {BRANCH_FIX}"
                )
            applied[id(call)] = d.pos[0]
            layer = calls.layer(call, first=False)
            layer.line = d.pos[0]
            layers.append(layer)
    model_name = given_name(names, keys) or name or "functional"
    return new_spec(model_name, layers, root.shape, functional=True, input_hint=root.hint, input_name=root.name)


def _single(node: ast.expr, what: str, line: int) -> ast.expr:
    if isinstance(node, (ast.List, ast.Tuple)):
        if len(node.elts) != 1:
            names = ", ".join(node_text(e) for e in node.elts)
            raise ModelError(f"line {line}: the model has branches ({len(node.elts)} {what}: {names}), {BRANCH_FIX}")
        return node.elts[0]
    if isinstance(node, ast.Dict):
        raise ModelError(f"line {line}: the model has branches (named {what}), {BRANCH_FIX}")
    return node


def flow(names: Names, node: ast.expr) -> tuple[str, list[ast.Call]] | None:
    """`L2(...)(L1(...)(x))` -> ("x", [L1 call, L2 call]); None if not layers applied to a name."""
    if isinstance(node, ast.Name):
        return node.id, []
    if not isinstance(node, ast.Call):
        return None
    line = node_line(node)
    kind = call_kind(node)
    if kind in MERGE_FUNCTIONS and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
        names = ", ".join(node_text(e) for e in node.args[0].elts)
        raise ModelError(f"line {line}: the model has branches ({kind} of {names}), {BRANCH_FIX}")
    if len(node.args) != 1:
        return None
    func = node.func
    if isinstance(func, ast.Call):
        layer = func
    elif isinstance(func, ast.Name):
        layer = names.resolve_call(func, node_pos(func))
        if not isinstance(layer, ast.Call) or call_kind(layer) in ("Sequential", "Model"):
            return None
    else:
        return None
    arg = node.args[0]
    if isinstance(arg, (ast.List, ast.Tuple)):
        names = ", ".join(node_text(e) for e in arg.elts)
        raise ModelError(
            f"line {line}: the model has branches ({call_kind(layer)} of {names}), {BRANCH_FIX}"
        )
    inner = flow(names, arg)
    if inner is None:
        return None
    return inner[0], [*inner[1], layer]


def given_name(names: Names, keys: dict[str, ast.expr]) -> str | None:
    """The model's `name=` when it is a constant string."""
    if "name" not in keys:
        return None
    try:
        value = names.value(keys["name"], node_pos(keys["name"]))
    except NotConstant:
        return None
    return value if isinstance(value, str) and value else None



def _chain(defs: list[_Def], output: str | None, at: tuple[int, int]) -> tuple[list[_Def], _Def]:
    """Follow the data flow back from the output to an Input: the layer chain, in order.

    A name assigned once is found wherever its line is (shuffled lines are fine). A
    name assigned several times (`x = ...(x)`) makes the order of the lines matter: a
    use then refers to the last assignment before it. `output` None: the model ends
    at the result nothing else uses.
    """
    by_var: dict[str, list[_Def]] = {}
    for d in defs:
        by_var.setdefault(d.var, []).append(d)
    reused = {v for v, ds in by_var.items() if len(ds) > 1}

    def resolve(var: str, at: tuple[int, int], user: str) -> _Def:
        ds = by_var.get(var)
        if not ds:
            raise ModelError(
                f"line {at[0]}: {user} uses {var}, which no Input or layer call assigns; "
                "start the model with inputs = keras.Input(shape=(H, W, C))"
            )
        if len(ds) == 1:
            return ds[0]
        before = [d for d in ds if d.pos < at]
        if not before:
            lines = ", ".join(str(d.pos[0]) for d in ds)
            first = min(d.pos for d in ds if d.pos > at)[0]  # where the chain really starts
            raise ModelError(
                f"line {at[0]}: {var} is used before it is assigned, and it is assigned "
                f"{len(ds)} times (lines {lines}), so the order of the lines matters and "
                f"cnnlab cannot tell it. In a notebook this line would take the {var} left over "
                f"from an earlier cell, and line {first} overwrites its result. Put the lines "
                f"in the lesson's order (move line {at[0]} below line {first}), or give each "
                "result its own name (x1, x2, ...)"
            )
        return before[-1]

    consumers: dict[int, list[_Def]] = {}
    for d in defs:
        if d.src is not None:
            try:
                src = resolve(d.src, d.pos, "")
            except ModelError:
                continue  # code off the model's path; only the chain must make sense
            consumers.setdefault(id(src), []).append(d)
    if output is not None:
        out = resolve(output, at, "the model")
    else:
        layered = [d for d in defs if d.calls]
        if not layered:
            raise ModelError("the model has no layers; add at least one, e.g. x = layers.Dense(10)(inputs)")
        sinks = [d for d in layered if id(d) not in consumers]
        out = (sinks or layered)[-1]
    chain: list[_Def] = []
    node, seen = out, set()
    while not node.is_input:
        if id(node) in seen:
            raise ModelError(f"line {node.pos[0]}: {node.var} is computed from itself; check the variable names")
        seen.add(id(node))
        chain.append(node)
        assert node.src is not None
        node = resolve(node.src, node.pos, f"the layer on line {node.pos[0]}")
        users = consumers.get(id(node), [])
        if len(users) > 1:
            lines = " and ".join(str(u.pos[0]) for u in users)
            order = (
                f" (or, if lines are out of order, put them back: {node.var} is assigned several "
                "times, so the order of the lines matters)"
                if node.var in reused
                else ""
            )
            raise ModelError(
                f"line {users[1].pos[0]}: the model has branches ({node.var} feeds the layers on "
                f"lines {lines}), {BRANCH_FIX}{order}"
            )
    chain.reverse()
    if reused:
        on_chain = {id(d) for d in chain}
        dead = [d for d in defs if d.calls and id(d) not in on_chain and d.var in reused]
        for d in dead:  # a use above every assignment is the clearer message
            if d.src is not None:
                resolve(d.src, d.pos, f"the layer on line {d.pos[0]}")
        if dead:
            d = dead[0]
            raise ModelError(
                f"line {d.pos[0]}: the result of this line ({d.var}) is never used by the model; "
                f"{d.var} is assigned several times, so the order of the lines matters: put the "
                "lines back in order, or give each result its own name (x1, x2, ...)"
            )
    return chain, node
