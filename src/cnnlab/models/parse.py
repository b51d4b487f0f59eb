"""Model text -> `ModelSpec`: layer files, Keras code, TOML and JSON.

`parse_model` tells the formats apart by content:

- JSON (starts with `{`) and TOML (`[[layers]]` tables with `kind = ...`) go through
  `ModelSpec.from_dict`.
- Everything else is read as Python with `ast`; it is never executed. Keras code
  (`keras.Sequential([...])`, `model.add(...)`, or the functional style with
  `keras.Input` and `keras.Model`) is followed through its variable names; text
  without any of those is a layer file, one Keras layer call per line.

Text pasted from web pages and PDFs is cleaned and cut into statements first
(`pasted.py`: typographic quotes, prompts, lost line breaks, broken indentation).
Data flow follows variable names, not line order, wherever names are assigned once;
line numbers in messages always refer to the user's text.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from cnnlab.models.layers import (
    ACTIVATIONS,
    COMMON_ARGS,
    DEFAULT_ONLY_ARGS,
    LAYER_ARGS,
    Layer,
    ModelError,
    ModelSpec,
    make_layer,
    new_spec,
    parse_shape,
)
from cnnlab.models.pasted import clean_chars, clean_lines, statements

__all__ = ["parse_model"]

# Keras's other names for the same classes (the summary names them by class).
ALIASES = {
    "Convolution2D": "Conv2D",
    "MaxPool2D": "MaxPooling2D",
    "AvgPool2D": "AveragePooling2D",
    "GlobalAvgPool2D": "GlobalAveragePooling2D",
    "GlobalMaxPool2D": "GlobalMaxPooling2D",
}
# Keras's positional parameter order (keras 3 signatures); names cnnlab does not
# know are listed so that make_layer reports them as unknown arguments.
POSITIONAL = {
    "Conv2D": ("filters", "kernel_size", "strides", "padding", "data_format",
               "dilation_rate", "groups", "activation", "use_bias"),
    "MaxPooling2D": ("pool_size", "strides", "padding", "data_format"),
    "AveragePooling2D": ("pool_size", "strides", "padding", "data_format"),
    "GlobalAveragePooling2D": ("data_format", "keepdims"),
    "GlobalMaxPooling2D": ("data_format", "keepdims"),
    "Flatten": ("data_format",),
    "Dense": ("units", "activation", "use_bias", "kernel_initializer", "bias_initializer"),
    "Dropout": ("rate", "noise_shape", "seed"),
    "BatchNormalization": ("axis", "momentum", "epsilon", "center", "scale"),
    "Activation": ("activation",),
    "ReLU": ("max_value", "negative_slope", "threshold"),
}  # fmt: skip
MERGE_FUNCTIONS = ("add", "concatenate", "average", "maximum", "minimum", "multiply",
                   "subtract", "dot")  # fmt: skip
MERGE_LAYERS = ("Add", "Concatenate", "Average", "Maximum", "Minimum", "Multiply",
                "Subtract", "Dot")  # fmt: skip
INPUTS = ("Input", "InputLayer")
BRANCH_FIX = "which cnnlab does not support yet; give it one chain of layers from the Input to the output"


def parse_model(text: str, source: str = "<stdin>", name: str | None = None) -> ModelSpec:
    """Read a model from text: a layer file, Keras code, TOML or JSON (told apart by content).

    `name` is the model name used when the text gives none (Keras code's `name=`
    and a model file's `name` win); otherwise "sequential", or "functional" for
    functional Keras code, as Keras names them. Every problem raises `ModelError`
    with one message, "SOURCE: line N: ...", naming the layer and the fix.
    """
    try:
        return _parse(text, name)
    except ModelError as err:
        raise ModelError(f"{source}: {err}") from None
    except (RecursionError, MemoryError):  # ast's limits on nesting
        raise ModelError(f"{source}: the text is nested too deeply to read as a model") from None


def _parse(text: str, name: str | None) -> ModelSpec:
    if "\x00" in text:
        raise ModelError("the text contains NUL bytes; give a text file (layers, Keras code, TOML or JSON)")
    text = clean_chars(text)
    if not text.strip():
        raise ModelError("the model text is empty; give one layer per line, Keras code, TOML or JSON")
    if text.lstrip().startswith("{"):
        return _parse_json(text, name)
    if _looks_like_toml(text):
        return _parse_toml(text, name)
    return _Reader(_rejoin_wrapped(statements(clean_lines(text)))).model(name)


def _rejoin_wrapped(stmts: list[ast.stmt]) -> list[ast.stmt]:
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
            and (_kind(prev.value) or "")[:1].isupper()
            and _kind(prev.value) not in (*INPUTS, "Sequential", "Model")
            and stmt.lineno == (prev.end_lineno or prev.lineno) + 1
        ):
            applied = ast.Call(func=prev.value, args=[stmt.value], keywords=[])
            out[-1] = ast.copy_location(ast.Assign(targets=prev.targets, value=ast.copy_location(applied, prev.value)), prev)
            continue
        out.append(stmt)
    return out


# ---------------------------------------------------------------- reading the statements


class _NotConstant(Exception):
    pass


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


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _kind(node: ast.AST) -> str | None:
    """The class or function a call calls, without prefixes: `layers.Conv2D(...)` -> Conv2D."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _text(node: ast.AST) -> str:
    return ast.unparse(node)


def _line(node: ast.AST, default: int = 0) -> int:
    return getattr(node, "lineno", default) or default


def _pos(node: ast.AST) -> tuple[int, int]:
    """Where a node starts, to order statements (several may share a line)."""
    return (_line(node), getattr(node, "col_offset", 0) or 0)


class _Reader:
    def __init__(self, stmts: list[ast.stmt]):
        self.stmts = stmts
        self.assigned: dict[str, list[tuple[tuple[int, int], ast.expr]]] = {}
        for stmt in stmts:
            targets: list[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets = stmt.targets
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets = [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    self.assigned.setdefault(target.id, []).append((_pos(stmt), stmt.value))
        self.hint: str | None = None

    # -- names and constants

    def lookup(self, name: str, at: tuple[int, int]) -> ast.expr | None:
        """The expression last assigned to `name` before `at` (or its only assignment)."""
        defs = self.assigned.get(name)
        if not defs:
            return None
        before = [expr for pos, expr in defs if pos < at]
        return before[-1] if before else defs[-1][1]

    def value(self, node: ast.expr, at: tuple[int, int], depth: int = 0) -> Any:
        """Evaluate constants, tuples, lists, arithmetic and constant names; never runs code."""
        if depth > 40:
            raise _NotConstant
        ev = lambda n: self.value(n, at, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, type(None))):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(ev(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            if not _is_number(v):
                raise _NotConstant
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            return _arith(node.op, ev(node.left), ev(node.right))
        if isinstance(node, ast.Subscript):  # shape[1:], sizes[0]
            seq, index = ev(node.value), node.slice
            if not isinstance(seq, (tuple, list)):
                raise _NotConstant
            if isinstance(index, ast.Slice):
                parts = [ev(p) if p is not None else None for p in (index.lower, index.upper, index.step)]
                if not all(p is None or type(p) is int for p in parts) or parts[2] == 0:
                    raise _NotConstant
                return seq[slice(*parts)]
            i = ev(index)
            if type(i) is not int or not -len(seq) <= i < len(seq):
                raise _NotConstant
            return seq[i]
        if isinstance(node, ast.Name):
            expr = self.lookup(node.id, at)
            if expr is None:
                raise _NotConstant
            return self.value(expr, _pos(expr), depth + 1)
        raise _NotConstant

    def source_of(self, node: ast.expr, at: tuple[int, int]) -> str:
        """Source text for a value we cannot work out; follows a name to its expression."""
        if isinstance(node, ast.Name):
            expr = self.lookup(node.id, at)
            if expr is not None and not isinstance(expr, ast.Name):
                return _text(expr)
        return _text(node)

    def resolve_call(self, node: ast.expr, at: tuple[int, int]) -> ast.expr:
        """A name bound to a call (a layer kept in a variable) -> that call."""
        seen = 0
        while isinstance(node, ast.Name) and seen < 20:
            expr = self.lookup(node.id, at)
            if expr is None:
                break
            node, seen = expr, seen + 1
        return node

    # -- which kind of text

    def model(self, name: str | None) -> ModelSpec:
        sequential, functional = [], []
        for stmt in self.stmts:
            for node in ast.walk(stmt):
                kind = _kind(node)
                if kind == "Sequential":
                    sequential.append((stmt, node))
                elif kind in ("Model", "Functional") and not _is_method(node):
                    functional.append((stmt, node))
        found = sequential + functional
        for stmt, call in found:
            var = _target(stmt)
            for other in self.stmts:
                value = getattr(other, "value", None)
                if var and isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == var:
                    raise ModelError(
                        f"line {_line(other)}: {var} (the {_kind(call)} model on line {_line(call)}) is "
                        "used as a layer; cnnlab does not support models inside models yet: put its "
                        "layers into the model itself"
                    )
        if len(found) > 1:
            listed = ", ".join(f"{_target(s) or _kind(c)} on line {_line(c)}" for s, c in found)
            raise ModelError(
                f"line {_line(found[1][1])}: the code defines {len(found)} models ({listed}); "
                "cnnlab reads one model at a time: keep only the one you want"
            )
        if sequential:
            return self.sequential(*sequential[0], name)
        if functional or any(self.flow_statement(s) for s in self.stmts):
            return self.functional(functional[0][1] if functional else None, name)
        return self.layer_file(name)

    def flow_statement(self, stmt: ast.stmt) -> bool:
        """`x = Layer(...)(y)` or `inputs = keras.Input(...)`: functional Keras code."""
        if not isinstance(stmt, ast.Assign):
            return False
        value = stmt.value
        return _kind(value) in INPUTS or isinstance(value, ast.Call) and isinstance(value.func, ast.Call)

    # -- layers

    def layer(self, call: ast.expr, first: bool) -> Layer:
        """One layer call -> a checked `Layer`; the first may declare `input_shape=`."""
        line = _line(call)
        at = f"line {line}: " if line else ""
        if not isinstance(call, ast.Call):
            raise ModelError(f"{at}expected a layer call like Conv2D(32, (3, 3)), not {_text(call)!r}")
        kind = _kind(call) or _text(call.func)
        kind = ALIASES.get(kind, kind)
        if kind not in LAYER_ARGS:
            make_layer(kind, {}, line)  # raises: unknown layer (or Input in the wrong place)
        names = POSITIONAL.get(kind, ())
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            raise ModelError(f"{at}{kind}: cannot read *args or **kwargs; write the arguments out")
        if len(call.args) > len(names):
            raise ModelError(
                f"{at}{kind}: too many positional arguments ({len(call.args)}); "
                f"{kind} takes {', '.join(names) or 'none'} in that order, others by name"
            )
        given: list[tuple[str, ast.expr]] = list(zip(names, call.args))
        given += [(k.arg, k.value) for k in call.keywords if k.arg]
        args: dict[str, Any] = {}
        for key, node in given:
            if key == "batch_input_shape":  # Keras 2: input_shape with the batch size first
                key = "input_shape"
                node = ast.copy_location(ast.Subscript(node, ast.Slice(ast.Constant(1)), ast.Load()), node)
            if key in args:
                raise ModelError(f"{at}{kind}: {key} is given twice")
            passed_on = key in COMMON_ARGS or key in DEFAULT_ONLY_ARGS or (kind, key) == ("Dropout", "seed")
            if key not in LAYER_ARGS[kind] and not passed_on:
                make_layer(kind, {key: None}, line)  # raises: unknown argument, naming the known ones
            try:
                args[key] = self.argument(key, node, _pos(node))
            except _NotConstant:
                if key == "input_shape" and first:
                    self.hint = self.source_of(node, _pos(node))
                    continue
                if key == "activation" and not isinstance(node, ast.Name):
                    make_layer(kind, {key: _text(node)}, line)  # raises: should be one of ...
                shown = _text(node)
                origin = self.source_of(node, _pos(node))
                if isinstance(node, ast.Name) and origin != shown:
                    shown += f" (from {shown} = {origin})"
                raise ModelError(
                    f"{at}{kind}: {key}={shown} is not a value cnnlab can work out without "
                    "running the code; write the value itself, e.g. " + _example(key)
                ) from None
            if key == "input_shape" and first and _has_none(args[key]):
                self.hint = _text(node)
                del args[key]
        return make_layer(kind, args, line)

    def argument(self, key: str, node: ast.expr, at: tuple[int, int]) -> Any:
        try:
            return self.value(node, at)
        except _NotConstant:
            last = (_dotted(node) or "").split(".")[-1]
            if key == "activation" and last.lower() in (*ACTIVATIONS, "linear"):
                return last.lower()  # activation=tf.nn.relu, keras.activations.softmax
            raise

    def input_shape(self, call: ast.Call) -> tuple[int, ...] | None:
        """keras.Input(shape=...) / InputLayer(input_shape=...) -> shape, or note a hint."""
        line = _line(call)
        keys = {k.arg: k.value for k in call.keywords if k.arg}
        node = call.args[0] if call.args else None
        batch = False
        for key in ("shape", "input_shape", "batch_shape", "batch_input_shape"):
            if node is None and key in keys:
                node, batch = keys[key], key.startswith("batch")
        if node is None:
            raise ModelError(f"line {line}: {_kind(call)} needs a shape, e.g. keras.Input(shape=(32, 32, 3))")
        try:
            value = self.value(node, _pos(node))
        except _NotConstant:
            self.hint = self.source_of(node, _pos(node)) + ("[1:]" if batch else "")
            return None
        if batch and isinstance(value, (tuple, list)):
            value = value[1:]
        if _has_none(value):
            self.hint = _text(node)
            return None
        return parse_shape(value, f"line {line}: {_kind(call)} shape")

    # -- layer files

    def layer_file(self, name: str | None) -> ModelSpec:
        calls: list[ast.expr] = []
        for stmt in self.stmts:
            if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.Pass)):
                continue
            if not isinstance(stmt, ast.Expr):
                raise ModelError(
                    f"line {_line(stmt)}: a layer file has one layer call per line, like "
                    f"Conv2D(32, (3, 3)); cannot read {_text(stmt).splitlines()[0]!r}"
                )
            value = stmt.value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                continue  # a docstring
            if isinstance(value, (ast.Tuple, ast.List)):
                calls += value.elts  # pasted from a list: `layers.Dense(10),`
            elif isinstance(value, ast.Call) and _kind(value) == "add" and _is_method(value):
                calls += value.args  # model.add(...) lines without the Sequential
            else:
                calls.append(value)
        return self.stack(calls, name or "sequential", functional=False)

    def stack(self, items: list[ast.expr], name: str, functional: bool) -> ModelSpec:
        """Layers in order; an Input / InputLayer first gives the input shape."""
        shape, layers = None, []
        for node in items:
            call = self.resolve_call(node, _pos(node))
            if _kind(call) in INPUTS:
                if layers:
                    raise ModelError(f"line {_line(node)}: the Input must come before the layers")
                if shape is not None or self.hint:
                    raise ModelError(f"line {_line(node)}: a second Input; a model takes one")
                if _kind(call) == "InputLayer" and not call.args and not any(
                    k.arg in ("shape", "input_shape", "batch_shape", "batch_input_shape") for k in call.keywords
                ):
                    raise ModelError(f"line {_line(node)}: InputLayer needs shape=(H, W, C)")
                shape = self.input_shape(call)
                continue
            if isinstance(call, ast.Call) and _kind(call) in MERGE_FUNCTIONS + MERGE_LAYERS:
                raise ModelError(f"line {_line(node)}: {_kind(call)} merges branches, {BRANCH_FIX}")
            if isinstance(node, ast.Name) and not isinstance(call, ast.Call):
                raise ModelError(f"line {_line(node)}: {node.id} is not a layer cnnlab can find")
            layer = self.layer(call, first=not layers)
            if isinstance(node, ast.Name):
                layer.line = _line(node)
            layers.append(layer)
        hint = self.hint if shape is None else None
        return new_spec(name, layers, shape, functional=functional, input_hint=hint)

    # -- Sequential

    def sequential(self, stmt: ast.stmt, call: ast.Call, name: str | None) -> ModelSpec:
        line = _line(call)
        keys = {k.arg: k.value for k in call.keywords if k.arg}
        items: list[ast.expr] = []
        given = call.args[0] if call.args else keys.get("layers")
        if given is not None:
            given = self.resolve_call(given, _pos(call))
            if not isinstance(given, (ast.List, ast.Tuple)):
                raise ModelError(
                    f"line {line}: cannot read the layers of Sequential({_text(given)}); "
                    "give them as a list: keras.Sequential([layers.Conv2D(...), ...])"
                )
            items += given.elts
        var = _target(stmt) if getattr(stmt, "value", None) is call else None
        if var:
            for other in self.stmts:
                value = getattr(other, "value", None)
                if isinstance(other, ast.Expr) and _kind(value) == "add" and _is_method(value):
                    if _dotted(value.func.value) == var:
                        if len(value.args) != 1:
                            raise ModelError(f"line {_line(value)}: {var}.add takes one layer")
                        items.append(value.args[0])
        model_name = self._name(keys) or name or "sequential"
        return self.stack(items, model_name, functional=False)

    def _name(self, keys: dict[str, ast.expr]) -> str | None:
        if "name" not in keys:
            return None
        try:
            value = self.value(keys["name"], _pos(keys["name"]))
        except _NotConstant:
            return None
        return value if isinstance(value, str) and value else None

    # -- functional

    def functional(self, model: ast.Call | None, name: str | None) -> ModelSpec:
        defs: list[_Def] = []
        for stmt in self.stmts:
            target = _target(stmt)
            if target is None:
                continue
            value = stmt.value  # type: ignore[attr-defined]
            if _kind(value) in INPUTS:
                self.hint = None
                shape = self.input_shape(value)
                defs.append(_Def(target, None, [], _pos(stmt), is_input=True, shape=shape, hint=self.hint))
                continue
            flow = self.flow(value)
            if flow is not None:
                defs.append(_Def(target, flow[0], flow[1], _pos(stmt)))
        # `a = b` only matters when b is a tensor: drop `x = x_train` and the like.
        flowing = {d.var for d in defs if d.is_input or d.calls}
        defs = [d for d in defs if d.is_input or d.calls or d.src in flowing]
        inputs = outputs = None
        keys: dict[str, ast.expr] = {}
        at = _pos(model) if model is not None else (0, 0)
        if model is not None:
            keys = {k.arg: k.value for k in model.keywords if k.arg}
            inputs = keys.get("inputs", keys.get("input", model.args[0] if model.args else None))
            outputs = keys.get("outputs", keys.get("output", model.args[1] if len(model.args) > 1 else None))
            if inputs is None or outputs is None:
                raise ModelError(
                    f"line {at[0]}: keras.Model needs inputs and outputs, "
                    "e.g. keras.Model(inputs=inputs, outputs=outputs)"
                )
            inputs = self._single(inputs, "inputs", at[0])
            outputs = self._single(outputs, "outputs", at[0])
            if not isinstance(outputs, ast.Name):  # outputs=layers.Dense(10)(x)
                flow = self.flow(outputs)
                if flow is None or not flow[1]:
                    raise ModelError(
                        f"line {at[0]}: cannot follow outputs={_text(outputs)}; "
                        "give the name of the last layer's result, e.g. outputs=outputs"
                    )
                defs.append(_Def("<outputs>", flow[0], flow[1], at))
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
                        f"line {d.pos[0]}: the layer made on line {_line(call)} is applied a second "
                        f"time (shared weights: also on line {applied[id(call)]}), {BRANCH_FIX}"
                    )
                applied[id(call)] = d.pos[0]
                layer = self.layer(call, first=False)
                layer.line = d.pos[0]
                layers.append(layer)
        model_name = self._name(keys) or name or "functional"
        return new_spec(model_name, layers, root.shape, functional=True, input_hint=root.hint)

    def _single(self, node: ast.expr, what: str, line: int) -> ast.expr:
        if isinstance(node, (ast.List, ast.Tuple)):
            if len(node.elts) != 1:
                names = ", ".join(_text(e) for e in node.elts)
                raise ModelError(f"line {line}: the model has branches ({len(node.elts)} {what}: {names}), {BRANCH_FIX}")
            return node.elts[0]
        if isinstance(node, ast.Dict):
            raise ModelError(f"line {line}: the model has branches (named {what}), {BRANCH_FIX}")
        return node

    def flow(self, node: ast.expr) -> tuple[str, list[ast.Call]] | None:
        """`L2(...)(L1(...)(x))` -> ("x", [L1 call, L2 call]); None if not layers applied to a name."""
        if isinstance(node, ast.Name):
            return node.id, []
        if not isinstance(node, ast.Call):
            return None
        line = _line(node)
        kind = _kind(node)
        if kind in MERGE_FUNCTIONS and node.args and isinstance(node.args[0], (ast.List, ast.Tuple)):
            names = ", ".join(_text(e) for e in node.args[0].elts)
            raise ModelError(f"line {line}: the model has branches ({kind} of {names}), {BRANCH_FIX}")
        if len(node.args) != 1:
            return None
        func = node.func
        if isinstance(func, ast.Call):
            layer = func
        elif isinstance(func, ast.Name):
            layer = self.resolve_call(func, _pos(func))
            if not isinstance(layer, ast.Call) or _kind(layer) in ("Sequential", "Model"):
                return None
        else:
            return None
        arg = node.args[0]
        if isinstance(arg, (ast.List, ast.Tuple)):
            names = ", ".join(_text(e) for e in arg.elts)
            raise ModelError(
                f"line {line}: the model has branches ({_kind(layer)} of {names}), {BRANCH_FIX}"
            )
        inner = self.flow(arg)
        if inner is None:
            return None
        return inner[0], [*inner[1], layer]

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
            raise ModelError(
                f"line {at[0]}: {var} is used before it is assigned, and it is assigned "
                f"{len(ds)} times (lines {lines}), so the order of the lines matters and "
                "cnnlab cannot tell it; put the lines back in order, or give each result "
                "its own name (x1, x2, ...)"
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


def _target(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return None


def _is_method(call: ast.Call) -> bool:
    """`model.add(...)` / `x.Model` style call on a lowercase variable, not a module."""
    func = call.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id not in (
        "keras", "layers", "models", "tf", "K", "kl", "L", "nn"
    )  # fmt: skip


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _has_none(v: Any) -> bool:
    return isinstance(v, (tuple, list)) and any(x is None for x in v)


def _arith(op: ast.operator, a: Any, b: Any) -> Any:
    if isinstance(a, tuple) and isinstance(b, tuple) and isinstance(op, ast.Add) and len(a) + len(b) <= 16:
        return a + b  # (28, 28) + (1,)
    if isinstance(a, str) and isinstance(b, str) and isinstance(op, ast.Add) and len(a) + len(b) <= 200:
        return a + b
    if not (_is_number(a) and _is_number(b)):
        raise _NotConstant
    if isinstance(op, ast.Pow) and (abs(b) > 64 or abs(a) > 1e6):
        raise _NotConstant
    if isinstance(op, ast.Mult) and isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > 256:
        raise _NotConstant
    ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
           ast.Div: lambda: a / b, ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b,
           ast.Pow: lambda: a**b}  # fmt: skip
    fn = ops.get(type(op))
    if fn is None:
        raise _NotConstant
    try:
        result = fn()
    except (ZeroDivisionError, OverflowError):
        raise _NotConstant from None
    if isinstance(result, complex):
        raise _NotConstant
    return result


def _example(key: str) -> str:
    return {
        "filters": "filters=32", "units": "units=10", "kernel_size": "kernel_size=(3, 3)",
        "pool_size": "pool_size=(2, 2)", "strides": "strides=(1, 1)", "padding": "padding='same'",
        "activation": "activation='relu'", "use_bias": "use_bias=False", "rate": "rate=0.5",
        "input_shape": "input_shape=(32, 32, 3)", "name": "name='conv_a'",
    }.get(key, f"{key}=...")  # fmt: skip


# ---------------------------------------------------------------- TOML and JSON

_TOML_HINTS = (
    re.compile(r"^\s*\[\[\s*layers\s*\]\]\s*(#.*)?$", re.M),
    re.compile(r"^\s*kind\s*=\s*['\"]", re.M),
    re.compile(r"\{\s*kind\s*=\s*['\"]"),
)


def _looks_like_toml(text: str) -> bool:
    return any(p.search(text) for p in _TOML_HINTS)


def _parse_json(text: str, name: str | None) -> ModelSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelError(f"line {err.lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
    except RecursionError:
        raise ModelError("the JSON is nested too deeply") from None
    return _from_dict(data, name, [])


def _parse_toml(text: str, name: str | None) -> ModelSpec:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ModelError(
                "reading a TOML model needs Python 3.11+ or the tomli package "
                "(pip install tomli); or write the model as JSON"
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        msg = str(err)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if m:
            msg = f"line {m.group(1)}: not valid TOML ({msg[: m.start()].strip()}, column {m.group(2)})"
        else:
            msg = f"not valid TOML ({msg})"
        raise ModelError(msg) from None
    headers = [i for i, line in enumerate(text.split("\n"), 1) if _TOML_HINTS[0].match(line)]
    return _from_dict(data, name, headers)


def _from_dict(data: Any, name: str | None, lines: list[int]) -> ModelSpec:
    if isinstance(data, dict) and isinstance(data.get("layers"), list):
        items = data["layers"]
        fixed = []
        for i, item in enumerate(items, start=1):
            if isinstance(item, dict) and "kind" in item:
                item = {**item, "kind": ALIASES.get(str(item["kind"]), str(item["kind"]))}
                line = lines[i - 1] if len(lines) == len(items) else None
                args = {k: v for k, v in item.items() if k != "kind"}
                try:  # check each layer first, so a message can name its line
                    make_layer(item["kind"], args, line)
                except ModelError as err:
                    raise ModelError(str(err) if line else f"layer {i}: {err}") from None
                except (TypeError, ValueError, AttributeError) as err:
                    raise ModelError(f"layer {i}: cannot read {item!r} ({err})") from None
            fixed.append(item)
        data = {**data, "layers": fixed}
        if name and not data.get("name"):
            data["name"] = name
    try:
        return ModelSpec.from_dict(data)
    except ModelError:
        raise
    except (TypeError, ValueError, AttributeError) as err:
        raise ModelError(f"cannot read the model file ({err})") from None
