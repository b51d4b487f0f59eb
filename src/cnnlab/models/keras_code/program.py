"""Model-building code followed statement by statement, as Python would run it, never running it.

The subset read (everything else leaves its names unknown, and an unknown value that a
layer needs is refused with its line):

- assignments, tuple unpacking, `+=`; numbers, strings, tuples, lists, dicts,
  arithmetic, comparisons, `and`/`or`/`not`, f-strings, `x if c else y`, list
  comprehensions and a few pure builtins (`range`, `len`, `int`, `min`, ...);
- `def f(a, b=2, *args, **kw)` with calls by position and keyword, `return`, nested
  functions and functions that build nothing (`def compile_model(model)`);
- `for NAME in range(...)` or over a list, tuple or dict (unrolled; `break`,
  `continue`, `else`), `while` on known values, `if`/`elif`/`else` on known values;
  a loop or branch that depends on data is skipped, and refused if it builds layers;
- Keras: `keras.Input`, layer calls, `keras.Sequential([...])` and `model.add`,
  `keras.Model(inputs, outputs)`; each model the code builds is kept, in order, with
  the loop values and the call arguments that built it.

Bounds: `MAX_STEPS` statements, `MAX_ITERATIONS` loop iterations, `MAX_DEPTH` nested
calls, `MAX_LAYERS` layers, and `evaluate.MAX_ITEMS` items in any value.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from cnnlab.models.keras_code.evaluate import TooBig, Unknown, is_known, metered, truth
from cnnlab.models.keras_code.expressions import NO_DEFAULT, Expressions, Scope, UserFunction
from cnnlab.models.keras_code.layer_calls import ALIASES, INPUTS
from cnnlab.models.keras_code.symbolic import FunctionalModel, SequentialModel, describe
from cnnlab.models.keras_code.values import (
    NotConstant,
    applications_imports,
    call_kind,
    is_method,
    node_text,
    pretrained,
)
from cnnlab.models.layers import LAYER_ARGS, ModelError

__all__ = ["Built", "MAX_ITERATIONS", "MAX_STEPS", "Program", "needs_program"]

MAX_STEPS = 200_000
MAX_ITERATIONS = 10_000
MAX_DEPTH = 50
_KERAS = {*LAYER_ARGS, *ALIASES, *INPUTS, "Sequential", "Model"}


class _Return(Exception):
    def __init__(self, value: Any):
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass
class Built:
    """One model the code builds: `label` names the loop values and call arguments."""

    model: SequentialModel | FunctionalModel
    label: str
    session: int = 0  # models of one Keras session share its name counters


def builders(tree: ast.AST) -> set[str]:
    """Names of the functions that build layers or models (directly or through each other)."""
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    found: set[str] = set()
    while True:
        more = {d.name for d in defs if d.name not in found and _builds(d, found)}
        if not more:
            return found
        found |= more


def _builds(node: ast.AST, functions: set[str]) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            kind = call_kind(n)
            if kind in _KERAS and not (kind == "Model" and is_method(n)) or kind in functions:
                return True
            if kind == "add" and is_method(n):
                return True
    return False


def needs_program(tree: ast.Module) -> bool:
    """Whether the code needs following in order: several models, a model-building function it
    calls or cannot call without arguments, or a loop, branch or comprehension around layers."""
    functions = builders(tree)
    made = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and call_kind(n) in ("Sequential", "Model")
            and not is_method(n)]  # fmt: skip
    applications = applications_imports(tree)
    if len(made) > 1 or any(pretrained(n, applications) for n in ast.walk(tree)):  # several models, or one it refuses by name
        return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
            return True
        if isinstance(node, (ast.For, ast.While, ast.If, ast.ListComp, ast.GeneratorExp)) and _builds(node, functions):
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in functions:
            a = node.args
            if len(a.defaults) < len(a.posonlyargs + a.args) or None in a.kw_defaults:
                return True
    return False


class Program(Expressions):
    def __init__(self, tree: ast.Module):
        super().__init__()
        self.tree = tree
        self.builders = builders(tree)
        self.applications = applications_imports(tree)
        self.built: list[Built] = []
        self.context: list[tuple[str, str, Any]] = []  # ("loop", target, value) / ("call", name, arguments)
        self.called: set[int] = set()
        self.depth = self.steps = self.iterations = 0

    def run(self) -> list[Built]:
        try:
            with metered():
                self.block(self.tree.body)
        except (_Return, _Break, _Continue) as err:
            word = {"_Return": "return", "_Break": "break", "_Continue": "continue"}[type(err).__name__]
            raise ModelError(f"line {self.line}: `{word}` outside a function or loop; check the indentation") from None
        return self.built

    def record(self, model: SequentialModel | FunctionalModel) -> None:
        self.built.append(Built(model, self.label(), self.session.number))

    def label(self) -> str:
        """The arguments of the call building the model, else the loop values and calls around it."""
        calls = [(name, bound) for what, name, bound in self.context if what == "call"]
        if calls and calls[-1][1]:
            name, bound = calls[-1]
            return f"{name}({', '.join(f'{k}={short(v)}' for k, v in bound.items())})"
        return ", ".join(f"{name}={short(v)}" if what == "loop" else f"{name}()" for what, name, v in self.context)

    # -- statements

    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: ast.stmt) -> None:
        self.steps += 1
        self.line = stmt.lineno
        if self.steps > MAX_STEPS:
            raise ModelError(
                f"line {self.line}: the code runs more than {MAX_STEPS:,} statements; cnnlab "
                "follows model-building code up to that bound: make the loops smaller"
            )
        try:
            self._statement(stmt)
        except TooBig as err:
            raise ModelError(f"line {self.line}: {err}") from None

    def _statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value)
            for target in stmt.targets:
                self.bind(target, value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.bind(stmt.target, self.eval(stmt.value))
        elif isinstance(stmt, ast.AugAssign):
            load = copy_as_load(stmt.target)
            self.bind(stmt.target, self.eval(ast.copy_location(ast.BinOp(load, stmt.op, stmt.value), stmt)))
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = stmt.args
            defaults = [self.eval(d) for d in a.defaults]
            kw_defaults = [self.eval(d) if d is not None else NO_DEFAULT for d in a.kw_defaults]
            self.scope.vars[stmt.name] = UserFunction(stmt, self.scope, defaults, kw_defaults)
        elif isinstance(stmt, ast.Return):
            raise _Return(self.eval(stmt.value) if stmt.value is not None else None)
        elif isinstance(stmt, ast.If):
            self.branch(stmt)
        elif isinstance(stmt, ast.For):
            self.loop(stmt)
        elif isinstance(stmt, ast.While):
            self.while_loop(stmt)
        elif isinstance(stmt, ast.Break):
            raise _Break
        elif isinstance(stmt, ast.Continue):
            raise _Continue
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self.bind(item.optional_vars, Unknown(node_text(item.optional_vars)))
            self.block(stmt.body)
        elif isinstance(stmt, ast.Try):
            for handler in stmt.handlers:
                if self.builds(handler):
                    raise ModelError(
                        f"line {handler.lineno}: this `except` builds layers, and whether it runs "
                        "depends on running the code; write the model without try/except"
                    )
            self.block(stmt.body)
            self.block(stmt.orelse)
            self.block(stmt.finalbody)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                name = (alias.asname or alias.name).split(".")[0]
                if name != "*":
                    self.scope.vars[name] = Unknown(alias.asname or alias.name)
        elif isinstance(stmt, ast.ClassDef):
            bases = [node_text(b) for b in stmt.bases]
            if any(b.split(".")[-1] in ("Model", "Layer") for b in bases):
                raise ModelError(
                    f"line {stmt.lineno}: class {stmt.name} subclasses {bases[0]}; cnnlab reads "
                    "Sequential and functional Keras models, not subclassed ones (their layers "
                    "exist only when the code runs)"
                )
            self.scope.vars[stmt.name] = Unknown(stmt.name)
        elif isinstance(stmt, ast.Global):
            self.scope.global_names.update(stmt.names)
        elif isinstance(stmt, (ast.Pass, ast.Nonlocal, ast.Assert, ast.Delete)):
            pass
        else:  # raise, match, async for: what follows depends on running the code
            self.skip(stmt, f"`{node_text(stmt).splitlines()[0]}`")

    def builds(self, node: ast.AST) -> bool:
        return _builds(node, self.builders)

    def skip(self, stmt: ast.stmt, why: str) -> None:
        """Leave a statement whose effect needs the data: refused if it builds layers."""
        if self.builds(stmt):
            raise ModelError(
                f"line {stmt.lineno}: {why} depends on values cnnlab cannot work out without "
                "running the code, and it builds layers; write the values themselves"
            )
        for node in ast.walk(stmt):  # what it would assign or change is unknown from here on
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.scope.vars[node.id] = Unknown(node.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver = node.func.value
                if isinstance(receiver, ast.Name):
                    self.scope.vars[receiver.id] = Unknown(receiver.id)

    def branch(self, stmt: ast.If) -> None:
        test = self.eval(stmt.test)
        try:
            taken = truth(test)
        except NotConstant:
            return self.skip(stmt, f"the condition {quoted(stmt.test, test)}")
        self.block(stmt.body if taken else stmt.orelse)

    def loop(self, stmt: ast.For) -> None:
        over = self.eval(stmt.iter)
        items = self.iterate(over)
        if items is None:
            return self.skip(stmt, f"the loop over {quoted(stmt.iter, over)}")
        for item in items:
            self.bind(stmt.target, item)
            if not self.iteration(stmt.body, (node_text(stmt.target), item)):
                return
        self.block(stmt.orelse)

    def while_loop(self, stmt: ast.While) -> None:
        while True:
            test = self.eval(stmt.test)
            try:
                go = truth(test)
            except NotConstant:
                return self.skip(stmt, f"the condition {quoted(stmt.test, test)}")
            if not go:
                break
            if not self.iteration(stmt.body, None):
                return
        self.block(stmt.orelse)

    def iteration(self, body: list[ast.stmt], label: tuple[str, Any] | None) -> bool:
        """Run one pass of a loop body; False after `break`."""
        self.iterations += 1
        if self.iterations > MAX_ITERATIONS:
            raise ModelError(
                f"line {self.line}: the loops run more than {MAX_ITERATIONS:,} times; cnnlab "
                "unrolls loops up to that bound: make them smaller"
            )
        if label:
            self.context.append(("loop", *label))
        try:
            self.block(body)
        except _Break:
            return False
        except _Continue:
            pass
        finally:
            if label:
                self.context.pop()
        return True

    # -- functions

    def call_user(self, fn: UserFunction, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if self.depth >= MAX_DEPTH:
            raise ModelError(f"line {self.line}: calls nest more than {MAX_DEPTH} deep; cnnlab follows them up to that")
        bound = self.bind_arguments(fn, args, kwargs)
        self.called.add(id(fn))
        self.context.append(("call", fn.node.name, bound))
        saved = self.scope
        self.scope = Scope(parent=fn.scope)
        self.scope.vars.update(bound)
        self.depth += 1
        try:
            self.block(fn.node.body)
            return None
        except _Return as ret:
            return ret.value
        finally:
            self.depth -= 1
            self.scope = saved
            self.context.pop()

    def bind_arguments(self, fn: UserFunction, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Python's rules for matching a call's arguments to a def's parameters."""
        a, name = fn.node.args, fn.node.name
        at = f"line {self.line}: {name}()"
        positional = [p.arg for p in a.posonlyargs + a.args]
        if len(args) > len(positional) and a.vararg is None:
            raise ModelError(f"{at} takes {len(positional)} positional arguments but {len(args)} were given")
        bound: dict[str, Any] = dict(zip(positional, args))
        extra: dict[str, Any] = {}
        keywords = positional[len(a.posonlyargs) :] + [p.arg for p in a.kwonlyargs]
        for key, value in kwargs.items():
            if key in bound:
                raise ModelError(f"{at} got two values for {key}")
            if key in keywords:
                bound[key] = value
            elif a.kwarg is not None:
                extra[key] = value
            else:
                raise ModelError(f"{at} has no parameter {key}; it takes {', '.join(keywords) or 'none'}")
        defaults = dict(zip(positional[len(positional) - len(fn.defaults) :], fn.defaults))
        defaults.update({p.arg: d for p, d in zip(a.kwonlyargs, fn.kw_defaults) if d is not NO_DEFAULT})
        missing = [p for p in positional + [k.arg for k in a.kwonlyargs] if p not in bound and p not in defaults]
        if missing:
            raise ModelError(f"{at} is called without {', '.join(missing)}; give a value for each")
        out = {p: bound.get(p, defaults.get(p)) for p in positional + [k.arg for k in a.kwonlyargs]}
        if a.vararg is not None:
            out[a.vararg.arg] = tuple(args[len(positional) :])
        if a.kwarg is not None:
            out[a.kwarg.arg] = extra
        return out

    def uncalled(self) -> list[UserFunction]:
        """Model-building functions of the top level that the code never calls."""
        return [
            v for v in self.scope.vars.values()
            if isinstance(v, UserFunction) and v.node.name in self.builders and id(v) not in self.called
        ]  # fmt: skip

    def call_text(self, text: str) -> list[Built]:
        """The models built by `--call "f(0.8, 2)"`, after the code itself has been followed."""
        try:
            call = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            call = None
        names = ", ".join(signature(f) for f in self.functions()) or "none"
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            raise ModelError(f"--call {text!r} is not a call like create_nn(0.2, 2); the code defines: {names}")
        if not isinstance(self.scope.vars.get(call.func.id), UserFunction):
            raise ModelError(f"--call {text!r}: the code defines no function {call.func.id}; it defines: {names}")
        start = len(self.built)
        self.line = 0
        try:
            self.eval(call)
        except ModelError as err:
            raise ModelError(f"--call {text!r}: {str(err).removeprefix('line 0: ')}") from None
        if len(self.built) == start:
            raise ModelError(f"--call {text!r} builds no model")
        return self.built[start:]

    def functions(self) -> list[UserFunction]:
        return [v for v in self.scope.vars.values() if isinstance(v, UserFunction)]


def signature(fn: UserFunction) -> str:
    """`create_nn(nodes1=100, nodes2=50)`: a def's name and parameters, with their defaults."""
    a = fn.node.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    first_default = len(positional) - len(fn.defaults)
    parts = [p if i < first_default else f"{p}={fn.defaults[i - first_default]!r}" for i, p in enumerate(positional)]
    if a.vararg is not None:
        parts.append(f"*{a.vararg.arg}")
    parts += [p.arg if d is NO_DEFAULT else f"{p.arg}={d!r}" for p, d in zip(a.kwonlyargs, fn.kw_defaults)]
    if a.kwarg is not None:
        parts.append(f"**{a.kwarg.arg}")
    return f"{fn.node.name}({', '.join(parts)})"


def short(v: Any) -> str:
    """A value in a label: as Python prints it, cut to a readable length."""
    text = repr(v) if is_known(v) else describe(v)
    return text if len(text) <= 40 else text[:37] + "..."


def quoted(node: ast.expr, value: Any) -> str:
    """`code` (= where its value comes from), for messages."""
    text, origin = node_text(node), describe(value)
    return f"`{text}`" if origin == text else f"`{text}` (= {origin})"


def copy_as_load(target: ast.expr) -> ast.expr:
    """`x` of `x += 1` as an expression to read."""
    node = ast.parse(node_text(target), mode="eval").body
    return ast.copy_location(node, target)
