"""Known values in model-building code: operators, comparisons, f-strings and a few builtins.

Everything here computes on plain Python values (numbers, strings, tuples, lists,
dicts, None) that the reader has already worked out; `Unknown` stands for a value
only running the code would give (data, a library call) and spreads through every
operation. Every value the reader builds is bounded (`MAX_ITEMS` items, `MAX_CHARS`
characters), so pasted text cannot make it allocate without end.
"""

from __future__ import annotations

import ast
import copy
import operator
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from cnnlab.models.keras_code.values import NotConstant, arith, is_number

__all__ = [
    "BUILTINS", "MAX_CHARS", "MAX_ITEMS", "TooBig", "Unknown", "binop", "call_builtin",
    "call_method", "check_size", "compare", "format_value", "is_known", "metered", "truth", "unary",
]  # fmt: skip

MAX_ITEMS = 10_000  # items in one value: far above any shape, layer list or grid of settings
MAX_CHARS = 10_000
MAX_WORK = 2_000_000  # items visited while following one text: about a second at most


class Unknown:
    """A value only running the code would give; `text` is the code that gives it, with the
    names in it replaced by where their values come from (`sources`), written when asked for."""

    __slots__ = ("_text", "node", "sources")

    def __init__(self, text: str | None = None, node: ast.AST | None = None, sources: dict[str, str] | None = None):
        self._text = text
        self.node = node
        self.sources = sources or {}

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _source(self.node, self.sources) if self.node is not None else ""
        return self._text

    def __repr__(self) -> str:
        return f"Unknown({self.text!r})"


class _Sources(ast.NodeTransformer):
    def __init__(self, sources: dict[str, str]):
        self.sources = sources

    def visit_Name(self, name: ast.Name) -> ast.AST:
        return ast.Name(self.sources[name.id], ast.Load()) if name.id in self.sources else name


def _source(node: ast.AST, sources: dict[str, str]) -> str:
    text = ast.unparse(_Sources(sources).visit(copy.deepcopy(node)) if sources else node)
    return text if len(text) <= 200 else text[:197] + "..."


class TooBig(Exception):
    """A value past the reader's bounds; the message says which and why."""


def is_known(v: Any) -> bool:
    """A plain value (numbers, strings, None and containers of them), all the way down."""
    seen, stack = 0, [v]
    try:
        while stack:
            x = stack.pop()
            seen += 1
            if isinstance(x, (tuple, list)):
                stack.extend(x)
            elif isinstance(x, dict):
                stack.extend(x.keys())
                stack.extend(x.values())
            elif not (x is None or isinstance(x, (bool, int, float, str))):
                return False
        return True
    finally:
        spend(seen)


def check_size(v: Any) -> Any:
    """`v`, or TooBig when it holds more than MAX_ITEMS items (shared parts counted each time)."""
    count, stack = -1, [v]  # the items inside v, not v itself
    try:
        while stack:
            x = stack.pop()
            count += 1
            if count > MAX_ITEMS:
                raise TooBig(
                    f"this builds a value of more than {MAX_ITEMS:,} items; cnnlab reads the code "
                    "that builds a model, not data: write the sizes the model needs"
                )
            if isinstance(x, (tuple, list)):
                stack.extend(x)
            elif isinstance(x, dict):
                stack.extend(x.values())
            elif isinstance(x, str) and len(x) > MAX_CHARS:
                raise TooBig(f"this builds a string of more than {MAX_CHARS:,} characters")
    finally:
        spend(count + 1)
    return v


_work: ContextVar[list[int] | None] = ContextVar("keras_code_work", default=None)


@contextmanager
def metered() -> Iterator[None]:
    """Count the items every check visits while following one text, up to MAX_WORK."""
    token = _work.set([0])
    try:
        yield
    finally:
        _work.reset(token)


def spend(n: int) -> None:
    work = _work.get()
    if work is not None:
        work[0] += n
        if work[0] > MAX_WORK:
            raise TooBig(
                f"the code's values add up to more than {MAX_WORK:,} items to go through; cnnlab "
                "reads the code that builds a model, not data: make the loops or values smaller"
            )


def _repeat(seq: Any, n: Any) -> Any:
    if type(n) is not int:
        raise NotConstant
    limit = MAX_CHARS if isinstance(seq, str) else MAX_ITEMS
    if n > 0 and len(seq) * n > limit:
        raise TooBig(f"this builds a value of more than {limit:,} items")
    return check_size(seq * n)


def binop(op: ast.operator, a: Any, b: Any) -> Any:
    """`a op b` on known values; NotConstant when Python would refuse or the bounds forbid it."""
    if isinstance(op, ast.Mult) and isinstance(a, (tuple, list, str)) and not isinstance(b, (tuple, list, str)):
        return _repeat(a, b)
    if isinstance(op, ast.Mult) and isinstance(b, (tuple, list, str)) and not isinstance(a, (tuple, list, str)):
        return _repeat(b, a)
    if isinstance(op, ast.Add) and type(a) is type(b) and isinstance(a, (tuple, list, str)):
        if len(a) + len(b) > (MAX_CHARS if isinstance(a, str) else MAX_ITEMS):
            raise TooBig(f"this builds a value of more than {MAX_ITEMS:,} items")
        return check_size(a + b)
    if isinstance(a, bool):
        a = int(a)
    if isinstance(b, bool):
        b = int(b)
    return arith(op, a, b)


def unary(op: ast.unaryop, v: Any) -> Any:
    if isinstance(op, ast.Not):
        return not truth(v)
    if not is_number(v) and not isinstance(v, bool):
        raise NotConstant
    if isinstance(op, ast.USub):
        return -v
    if isinstance(op, ast.UAdd):
        return +v
    if isinstance(op, ast.Invert) and isinstance(v, int):
        return ~v
    raise NotConstant


def truth(v: Any) -> bool:
    if not is_known(v):
        raise NotConstant
    return bool(v)


_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}  # fmt: skip


def compare(op: ast.cmpop, a: Any, b: Any) -> bool:
    if not (is_known(a) and is_known(b)):
        raise NotConstant
    if isinstance(op, (ast.Is, ast.IsNot)) and not (a is None or b is None):
        raise NotConstant  # identity of other values depends on the interpreter
    try:
        return bool(_COMPARE[type(op)](a, b))
    except TypeError:
        raise NotConstant from None


def format_value(v: Any, conversion: int, spec: str) -> str:
    """One `{v!r:spec}` of an f-string."""
    if not is_known(v):
        raise NotConstant
    if any(len(part) > 3 for part in "".join(c if c.isdigit() else " " for c in spec).split()):
        raise TooBig("an f-string asks for a field wider than 999 characters")
    if conversion == ord("r"):
        v = repr(v)
    elif conversion == ord("s"):
        v = str(v)
    elif conversion == ord("a"):
        v = ascii(v)
    try:
        out = format(v, spec)
    except (TypeError, ValueError):
        raise NotConstant from None
    if len(out) > MAX_CHARS:
        raise TooBig(f"this builds a string of more than {MAX_CHARS:,} characters")
    return out


def _range(*args: Any) -> tuple[int, ...]:
    if not all(type(a) is int for a in args) or not 1 <= len(args) <= 3:
        raise NotConstant
    try:
        r = range(*args)
    except ValueError:
        raise NotConstant from None
    if len(r) > MAX_ITEMS:
        raise TooBig(f"range(...) of {len(r):,} numbers; cnnlab unrolls at most {MAX_ITEMS:,}")
    return tuple(r)


def _number(kind: type, v: Any = 0) -> Any:
    if isinstance(v, str) and len(v.strip()) > 4300:
        raise TooBig("a number with more than 4,300 digits; give the sizes a model needs")
    try:
        return kind(v)
    except (TypeError, ValueError, OverflowError):
        raise NotConstant from None


def _str(v: Any = "") -> str:
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 14_000:
        raise TooBig("a number with more than 4,300 digits; give the sizes a model needs")
    return check_size(str(v))


BUILTINS = {
    "range": _range,
    "len": len,
    "int": lambda *a: _number(int, *a),
    "float": lambda *a: _number(float, *a),
    "str": _str,
    "bool": bool,
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "round": round,
    "tuple": lambda v=(): check_size(tuple(v)),
    "list": lambda v=(): check_size(list(v)),
    "enumerate": lambda v, start=0: check_size(tuple(enumerate(v, start))),
    "zip": lambda *vs: check_size(tuple(zip(*vs))),
    "sorted": lambda v, reverse=False: check_size(sorted(v, reverse=reverse)),
    "reversed": lambda v: check_size(tuple(reversed(v))),
}


def call_builtin(name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """A builtin on known values; NotConstant when Python would raise or a value is unknown."""
    if not all(is_known(a) for a in (*args, *kwargs.values())):
        raise NotConstant
    try:
        return check_size(BUILTINS[name](*args, **kwargs))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        raise NotConstant from None


_LIST_METHODS = {"append", "extend", "insert", "pop", "remove", "clear", "reverse", "index", "count", "copy"}
_DICT_METHODS = {"get", "keys", "values", "items", "copy", "update", "pop", "setdefault"}
_STR_METHODS = {"lower", "upper", "strip", "title", "capitalize", "startswith", "endswith", "split"}


def call_method(obj: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """A method of a known list, dict or string (lists and dicts change in place, as in Python)."""
    allowed = (
        _LIST_METHODS if isinstance(obj, list)
        else _DICT_METHODS if isinstance(obj, dict)
        else _STR_METHODS if isinstance(obj, str)
        else set()
    )  # fmt: skip
    if name not in allowed:
        raise NotConstant
    check_size((args, kwargs))
    try:
        out = getattr(obj, name)(*args, **kwargs)
    except (TypeError, ValueError, IndexError, KeyError):
        raise NotConstant from None
    if len(obj) > MAX_ITEMS:
        raise TooBig(f"this builds a value of more than {MAX_ITEMS:,} items")
    if name in ("keys", "values", "items"):
        out = tuple(out)
    return out
