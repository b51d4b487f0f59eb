"""Expressions of model-building code, worked out in order without running anything.

`Expressions.eval` gives a plain value (numbers, strings, tuples, lists, dicts) where
the code determines one, an `Unknown` where only running it would (data, library
calls), and the symbolic objects of `symbolic.py` for Keras calls: a layer call, a
tensor, a model. Calls to functions the code defines go to `call_user` (the
statement reader, `program.py`); nothing else is ever called except the few pure
builtins in `evaluate.BUILTINS`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from cnnlab.models.keras_code.evaluate import (
    BUILTINS,
    TooBig,
    Unknown,
    binop,
    call_builtin,
    call_method,
    check_size,
    compare,
    format_value,
    is_known,
    truth,
    unary,
)
from cnnlab.models.keras_code.functional import BRANCH_FIX, MERGE_FUNCTIONS
from cnnlab.models.keras_code.keras_calls import (
    apply,
    make_functional,
    make_input,
    make_layer_call,
    make_sequential,
)
from cnnlab.models.keras_code.layer_calls import INPUTS
from cnnlab.models.keras_code.symbolic import (
    FunctionalModel,
    LayerCall,
    SequentialModel,
    Session,
    Tensor,
)
from cnnlab.models.keras_code.tuner import TUNERS, TunerHP
from cnnlab.models.keras_code.values import NotConstant, call_kind, node_text, pretrained
from cnnlab.models.layers import ModelError

__all__ = ["MAX_LAYERS", "NO_DEFAULT", "Expressions", "Method", "Scope", "UserFunction"]

NO_DEFAULT = object()  # a keyword-only parameter without a default
MAX_LAYERS = 2_000  # layers made in one text; the lesson's largest model has a dozen


class Scope:
    """Names bound in one function call (or the module), and the scope the function was defined in."""

    def __init__(self, parent: Scope | None = None):
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.global_names: set[str] = set()  # `global n` in a function: n lives in the module

    def root(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def find(self, name: str) -> Scope | None:
        scope: Scope | None = self
        while scope is not None and name not in scope.vars:
            scope = scope.parent
        return scope


@dataclass(eq=False)
class UserFunction:
    """A `def` of the code, with its defaults worked out where it stands (as Python does)."""

    node: ast.FunctionDef | ast.AsyncFunctionDef
    scope: Scope
    defaults: list[Any]
    kw_defaults: list[Any]


@dataclass(eq=False)
class Method:
    """`obj.name`, to be called (`model.add`, `sizes.append`) or left unknown."""

    obj: Any
    name: str


class Expressions:
    def __init__(self) -> None:
        self.scope = Scope()
        self.scope.vars["__name__"] = "__main__"
        self.line = 0
        self.session = Session()
        self.layers_made = 0
        self.applications: set[str] = set()  # names the code imports from keras.applications
        self.tainted: dict[int, Any] = {}  # containers an unknown call may have changed
        self.tuners: list[tuple[str, list[Any], dict[str, Any], int]] = []  # keras_tuner.GridSearch(...) and the like

    # -- hooks for the statement reader

    def call_user(self, fn: UserFunction, args: list[Any], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def record(self, model: SequentialModel | FunctionalModel) -> None:
        raise NotImplementedError

    # -- names and text

    def lookup(self, name: str) -> Any:
        scope = self.scope.find(name)
        if scope is None:
            return Unknown(name)
        value = scope.vars[name]
        if isinstance(value, (list, dict)) and id(value) in self.tainted:
            return Unknown(name)
        return value

    def describe(self, node: ast.AST) -> str:
        """The source of `node`, with names of unknown values replaced by where they come from."""
        return self.unknown(node).text

    def unknown(self, node: ast.AST) -> Unknown:
        """An unknown value; its text is written only when a message needs it."""
        sources = {}
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and name.id not in sources:
                v = self.lookup(name.id)
                if isinstance(v, Unknown) and v.text != name.id and len(v.text) <= 80:
                    sources[name.id] = v.text
        return Unknown(node=node, sources=sources)

    # -- expressions

    def eval(self, node: ast.expr) -> Any:
        try:
            return self._eval(node)
        except NotConstant:
            return self.unknown(node)

    def _eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value if isinstance(node.value, (int, float, str, bool, type(None))) else self.unknown(node)
        if isinstance(node, ast.Name):
            return self.lookup(node.id)
        if isinstance(node, (ast.Tuple, ast.List)):
            items: list[Any] = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    inner = self.eval(elt.value)
                    if not isinstance(inner, (tuple, list)):
                        return self.unknown(node)
                    items += inner
                else:
                    items.append(self.eval(elt))
            return check_size(tuple(items) if isinstance(node, ast.Tuple) else items)
        if isinstance(node, ast.Dict):
            keys = [self.eval(k) if k is not None else None for k in node.keys]
            if not all(k is not None and is_known(k) and hashable(k) for k in keys):
                return self.unknown(node)
            return check_size(dict(zip(keys, (self.eval(v) for v in node.values))))
        if isinstance(node, ast.BinOp):
            left, right = self.eval(node.left), self.eval(node.right)
            if isinstance(node.op, ast.Add) and type(left) is type(right) and isinstance(left, (tuple, list)):
                return binop(node.op, left, right)  # lists of layers too
            if not (is_known(left) and is_known(right)):
                raise NotConstant
            return binop(node.op, left, right)
        if isinstance(node, ast.UnaryOp):
            return unary(node.op, self.known(node.operand))
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                v = self.known(value)
                if truth(v) == isinstance(node.op, ast.Or) or value is node.values[-1]:
                    return v
        if isinstance(node, ast.Compare):
            left = self.known(node.left)
            for op, comparator in zip(node.ops, node.comparators):
                right = self.known(comparator)
                if not compare(op, left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.eval(node.body if truth(self.known(node.test)) else node.orelse)
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    spec = self.known(part.format_spec) if part.format_spec else ""
                    parts.append(format_value(self.known(part.value), part.conversion, spec))
                else:
                    parts.append(self.known(part))
            return check_size("".join(parts))
        if isinstance(node, ast.Subscript):
            return self.subscript(node)
        if isinstance(node, ast.Attribute):
            base = self.eval(node.value)
            if isinstance(base, (list, dict, str, SequentialModel, FunctionalModel, TunerHP)):
                return Method(base, node.attr)
            return self.unknown(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return self.comprehension(node)
        return self.unknown(node)

    def known(self, node: ast.expr) -> Any:
        """A plain value, or NotConstant (which makes the whole expression unknown)."""
        v = self.eval(node)
        if not is_known(v):
            raise NotConstant
        return v

    def subscript(self, node: ast.Subscript) -> Any:
        base = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            parts = [self.known(p) if p is not None else None for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            if not isinstance(base, (tuple, list, str)) or not all(p is None or type(p) is int for p in parts) or parts[2] == 0:
                raise NotConstant
            return base[slice(*parts)]
        index = self.eval(node.slice)
        if isinstance(base, (tuple, list, str)) and type(index) is int and -len(base) <= index < len(base):
            return base[index]
        if isinstance(base, dict) and is_known(index) and hashable(index) and index in base:
            return base[index]
        raise NotConstant

    def iterate(self, v: Any) -> list[Any] | None:
        """The items a `for` goes through, or None when they cannot be known."""
        if isinstance(v, (tuple, list, str)):
            return list(v)
        if isinstance(v, dict):
            return list(v)
        return None

    def comprehension(self, node: ast.ListComp | ast.GeneratorExp) -> Any:
        out: list[Any] = []
        saved = self.scope
        self.scope = Scope(parent=saved)
        try:
            if not self._generate(node, 0, out):
                return self.unknown(node)
        finally:
            self.scope = saved
        return check_size(out if isinstance(node, ast.ListComp) else tuple(out))

    def _generate(self, node: ast.ListComp | ast.GeneratorExp, i: int, out: list[Any]) -> bool:
        if i == len(node.generators):
            out.append(self.eval(node.elt))
            check_size(out)
            return True
        gen = node.generators[i]
        items = self.iterate(self.eval(gen.iter))
        if items is None:
            return False
        for item in items:
            self.bind(gen.target, item)
            conditions = [self.eval(c) for c in gen.ifs]
            if not all(is_known(c) for c in conditions):
                return False
            if all(conditions) and not self._generate(node, i + 1, out):
                return False
        return True

    def bind(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            scope = self.scope.root() if target.id in self.scope.global_names else self.scope
            scope.vars[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, (tuple, list)) and len(value) == len(target.elts):
                for t, v in zip(target.elts, value):
                    self.bind(t, v)
            else:
                for t in target.elts:
                    self.bind(t, Unknown(node_text(t)))
        elif isinstance(target, ast.Starred):
            self.bind(target.value, Unknown(node_text(target.value)))
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            base = self.eval(target.value)
            if isinstance(base, (SequentialModel, FunctionalModel, LayerCall, Tensor)):
                raise ModelError(
                    f"line {self.line}: cnnlab does not follow `{node_text(target)} = ...` on a Keras "
                    "object; set it in the layer or model call instead"
                )
            if isinstance(base, (list, dict)):
                self.tainted[id(base)] = base

    # -- calls

    def arguments(self, node: ast.Call) -> tuple[list[Any], dict[str, Any], bool]:
        """(positional, keyword, complete): complete is False when *args/**kwargs are unknown."""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        complete = True
        for a in node.args:
            if isinstance(a, ast.Starred):
                v = self.eval(a.value)
                if isinstance(v, (tuple, list)):
                    args += v
                else:
                    complete = False
            else:
                args.append(self.eval(a))
        for k in node.keywords:
            v = self.eval(k.value)
            if k.arg is not None:
                kwargs[k.arg] = v
            elif isinstance(v, dict) and all(isinstance(key, str) for key in v):
                kwargs.update(v)
            else:
                complete = False
        return args, kwargs, complete

    def call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Name) and func.id in BUILTINS and self.scope.find(func.id) is None:
            args, kwargs, complete = self.arguments(node)
            if not complete:
                raise NotConstant
            if func.id == "len" and len(args) == 1 and isinstance(args[0], (tuple, list, dict)):
                return len(args[0])  # a list of layers has a known length too
            return call_builtin(func.id, args, kwargs)
        callee = self.eval(func)
        if isinstance(callee, UserFunction):
            args, kwargs, complete = self.arguments(node)
            if not complete:
                raise ModelError(
                    f"line {self.line}: cannot read the *args or **kwargs of this call to "
                    f"{callee.node.name}; write the arguments out"
                )
            saved = self.line
            try:
                return self.call_user(callee, args, kwargs)
            finally:
                self.line = saved
        if isinstance(callee, Method):
            return self.call_method(callee, node)
        if isinstance(callee, LayerCall):
            return apply(self, callee, node)
        if isinstance(callee, (SequentialModel, FunctionalModel)):
            kind = "Sequential" if isinstance(callee, SequentialModel) else "Model"
            raise ModelError(
                f"line {self.line}: {node_text(func)} (the {kind} model on line {callee.line}) is used as a layer; "
                "cnnlab does not support models inside models yet: put its layers into the model itself"
            )
        if not isinstance(callee, Unknown):
            return self.unknown(node)
        kind = call_kind(node) or ""
        if kind == "clear_session" and not node.args:  # keras.backend.clear_session(): names start again
            self.session = Session(self.session.number + 1)
            return None
        if pretrained(node, self.applications):
            raise ModelError(
                f"line {self.line}: {node_text(node.func)} is a pretrained model whose layers exist only when "
                "Keras loads it; cnnlab reads models built from layers: summarise this one with Keras itself"
            )
        if kind in TUNERS:
            args, kwargs, _ = self.arguments(node)
            self.tuners.append((kind, args, kwargs, self.line))
            return self.unknown(node)
        if kind in INPUTS:
            return Tensor(make_input(self, node))
        if kind == "Sequential":
            return make_sequential(self, node)
        if kind in ("Model", "Functional"):
            return make_functional(self, node)
        if kind[:1].isupper():  # a Keras class: checked when a model uses it
            return make_layer_call(self, node, kind)
        args, kwargs, _ = self.arguments(node)
        for v in (*args, *kwargs.values()):
            if kind in MERGE_FUNCTIONS and isinstance(v, (list, tuple)) and any(isinstance(x, Tensor) for x in v):
                raise ModelError(f"line {self.line}: the model has branches ({kind} of {node_text(node.args[0])}), {BRANCH_FIX}")
            if isinstance(v, (list, dict)):
                self.tainted[id(v)] = v  # an unknown function may change it
        return self.unknown(node)

    def count_layer(self) -> None:
        self.layers_made += 1
        if self.layers_made > MAX_LAYERS:
            raise TooBig(f"the code makes more than {MAX_LAYERS:,} layers; cnnlab reads models up to that size")

    def call_method(self, method: Method, node: ast.Call) -> Any:
        obj, name = method.obj, method.name
        args, kwargs, complete = self.arguments(node)
        if isinstance(obj, SequentialModel):
            if name == "add":
                if len(args) != 1:
                    raise ModelError(f"line {self.line}: {node_text(node.func)} takes one layer")
                obj.add(args[0], self.line, self.session)
                return None
            if name == "pop":
                raise ModelError(f"line {self.line}: cnnlab does not follow model.pop(); leave the layer out instead")
            return self.unknown(node)
        if isinstance(obj, TunerHP):
            return obj.call(name, args, kwargs, self.line)
        if isinstance(obj, FunctionalModel) or not complete:
            return self.unknown(node)
        try:
            return call_method(obj, name, args, kwargs)
        except NotConstant:
            if isinstance(obj, (list, dict)):
                self.tainted[id(obj)] = obj
            return self.unknown(node)


def hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True
