"""Values in Keras code, worked out from the text alone: constants, tuples, arithmetic, names.

`Names` follows a name to the expression last assigned to it and evaluates constants,
tuples, lists, slices and arithmetic over them; anything else raises `NotConstant`.
Nothing is executed. The small helpers name what a node is (`kind`, `dotted`) and
where it is (`line`, `pos`) for the other modules of the reader.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import Any

from cnnlab.models.layers import ModelError

__all__ = ["Names", "NotConstant", "arith", "call_kind", "dotted", "has_none", "is_method", "is_number", "node_line", "node_pos", "node_text", "target"]


MAX_WORK = 10_000  # evaluation steps for one value: names used many times multiply


class NotConstant(Exception):
    """The value cannot be worked out without running the code."""


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def pretrained(node: ast.AST, imported: Collection[str] = ()) -> bool:
    """Whether `node` calls a model of `keras.applications` (DenseNet121(...) and the like).
    `imported`: the names the code imports from there (applications_imports)."""
    name = dotted(node.func) if isinstance(node, ast.Call) else None
    return name is not None and (".applications." in f".{name}" or name.split(".")[0] in imported)


def applications_imports(tree: ast.AST) -> set[str]:
    """Names bound to keras.applications or its models: `from keras.applications import
    DenseNet121`, `from tensorflow.keras.applications.densenet import DenseNet121 as D`,
    `import keras.applications.densenet as densenet`."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and "applications" in (node.module or "").split("."):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.asname for alias in node.names
                         if alias.asname and "applications" in alias.name.split("."))
    return names


def call_kind(node: ast.AST) -> str | None:
    """The class or function a call calls, without prefixes: `layers.Conv2D(...)` -> Conv2D."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def node_text(node: ast.AST) -> str:
    return ast.unparse(node)


def node_line(node: ast.AST, default: int = 0) -> int:
    return getattr(node, "lineno", default) or default


def node_pos(node: ast.AST) -> tuple[int, int]:
    """Where a node starts, to order statements (several may share a line)."""
    return (node_line(node), getattr(node, "col_offset", 0) or 0)


def target(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    return None


def is_method(call: ast.Call) -> bool:
    """`model.add(...)` / `x.Model` style call on a lowercase variable, not a module."""
    func = call.func
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id not in (
        "keras", "layers", "models", "tf", "K", "kl", "L", "nn"
    )  # fmt: skip


class Names:
    """The assignments of a list of statements, and the constant values they give."""

    def __init__(self, stmts: list[ast.stmt]):
        self.work = self.work_line = 0
        self.assigned: dict[str, list[tuple[tuple[int, int], ast.expr]]] = {}
        for stmt in stmts:
            targets: list[ast.expr] = []
            if isinstance(stmt, ast.Assign):
                targets = stmt.targets
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                targets = [stmt.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    self.assigned.setdefault(target.id, []).append((node_pos(stmt), stmt.value))

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
            raise NotConstant
        if depth == 0:
            self.work, self.work_line = 0, at[0]
        self.work += 1
        if self.work > MAX_WORK:
            raise ModelError(
                f"line {self.work_line}: this value is built from more than {MAX_WORK:,} items; cnnlab reads "
                "the code that builds a model, not data: write the sizes the model needs"
            )
        ev = lambda n: self.value(n, at, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, type(None))):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(ev(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            if not is_number(v):
                raise NotConstant
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            return arith(node.op, ev(node.left), ev(node.right))
        if isinstance(node, ast.Subscript):  # shape[1:], sizes[0]
            seq, index = ev(node.value), node.slice
            if not isinstance(seq, (tuple, list)):
                raise NotConstant
            if isinstance(index, ast.Slice):
                parts = [ev(p) if p is not None else None for p in (index.lower, index.upper, index.step)]
                if not all(p is None or type(p) is int for p in parts) or parts[2] == 0:
                    raise NotConstant
                return seq[slice(*parts)]
            i = ev(index)
            if type(i) is not int or not -len(seq) <= i < len(seq):
                raise NotConstant
            return seq[i]
        if isinstance(node, ast.Name):
            expr = self.lookup(node.id, at)
            if expr is None:
                raise NotConstant
            return self.value(expr, node_pos(expr), depth + 1)
        raise NotConstant

    def source_of(self, node: ast.expr, at: tuple[int, int]) -> str:
        """Source text for a value we cannot work out; follows a name to its expression."""
        if isinstance(node, ast.Name):
            expr = self.lookup(node.id, at)
            if expr is not None and not isinstance(expr, ast.Name):
                return node_text(expr)
        return node_text(node)

    def resolve_call(self, node: ast.expr, at: tuple[int, int]) -> ast.expr:
        """A name bound to a call (a layer kept in a variable) -> that call."""
        seen = 0
        while isinstance(node, ast.Name) and seen < 20:
            expr = self.lookup(node.id, at)
            if expr is None:
                break
            node, seen = expr, seen + 1
        return node


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def has_none(v: Any) -> bool:
    return isinstance(v, (tuple, list)) and any(x is None for x in v)


def arith(op: ast.operator, a: Any, b: Any) -> Any:
    if isinstance(a, tuple) and isinstance(b, tuple) and isinstance(op, ast.Add) and len(a) + len(b) <= 16:
        return a + b  # (28, 28) + (1,)
    if isinstance(a, str) and isinstance(b, str) and isinstance(op, ast.Add) and len(a) + len(b) <= 200:
        return a + b
    if not (is_number(a) and is_number(b)):
        raise NotConstant
    if isinstance(op, ast.Pow) and (abs(b) > 64 or abs(a) > 1e6):
        raise NotConstant
    if isinstance(op, ast.Mult) and isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > 256:
        raise NotConstant
    ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
           ast.Div: lambda: a / b, ast.FloorDiv: lambda: a // b, ast.Mod: lambda: a % b,
           ast.Pow: lambda: a**b}  # fmt: skip
    fn = ops.get(type(op))
    if fn is None:
        raise NotConstant
    try:
        result = fn()
    except (ZeroDivisionError, OverflowError):
        raise NotConstant from None
    if isinstance(result, complex):
        raise NotConstant
    return result

