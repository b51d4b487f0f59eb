"""Text pasted from web pages, PDFs, consoles and notebooks -> Python statements.

`clean_chars` turns typographic quotes and dashes, odd spaces and ligatures into
ASCII; `clean_lines` drops `>>>` / `...` / `In [3]:` prompts, console output,
Markdown fences, notebook magics and line numbers, keeping every line where it was.
`statements` parses the result with `ast` (never executing it); when the text is not
Python as a whole (statements run together on one line, broken indentation), it cuts
it into statements where a new one must begin and reads each on its own. Line numbers
always refer to the user's text; bodies of `def`, `with`, `if`, ... are flattened.
"""

from __future__ import annotations

import ast
import keyword
import re
import textwrap
import unicodedata

from cnnlab.models.layers import ModelError

__all__ = ["clean_chars", "clean_lines", "statements"]

_CHARS = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2212": "-", "\u2013": "-", "\u2010": "-", "\u2011": "-",
    "\u2028": "\n", "\u2029": "\n", "\x85": "\n",
    "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
})  # fmt: skip


def clean_chars(text: str) -> str:
    """Quotes, dashes, spaces and ligatures from web pages and PDFs -> ASCII; \\n line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CHARS)
    # NFKC: non-breaking and other spaces -> " ", ligatures (ﬁ) -> "fi", full-width -> ASCII.
    return unicodedata.normalize("NFKC", text)


_FENCE = re.compile(r"\s*(```|~~~)")
_JUPYTER_IN = re.compile(r"\s*In\s*\[\s*\d*\s*\]:\s?")
_JUPYTER_OUT = re.compile(r"\s*Out\s*\[\s*\d*\s*\]:")
_PROMPT = re.compile(r"\s*(>>>|\.\.\.)( |$)")
_IPYTHON_MORE = re.compile(r"\s*\.\.\.:( |$)")
_NUMBERED = re.compile(r"\s*(\d+)(\s|$)")


def clean_lines(text: str) -> str:
    """Drop prompts, Markdown fences, notebook magics; keep the line count (line numbers)."""
    lines = _strip_line_numbers(text.split("\n"))
    doctest = any(re.match(r"\s*>>>( |$)", line) for line in lines)
    out = []
    for line in lines:
        if _FENCE.match(line) or _JUPYTER_OUT.match(line):
            line = ""
        line = _JUPYTER_IN.sub("", line, count=1) if _JUPYTER_IN.match(line) else line
        line = _IPYTHON_MORE.sub("", line, count=1) if _IPYTHON_MORE.match(line) else line
        if doctest:  # a console session: only prompted lines are code, the rest is output
            m = _PROMPT.match(line)
            line = line[m.end() :] if m else ""
        if re.match(r"\s*[%!]", line):  # IPython magics and shell escapes
            line = ""
        out.append(line.replace("`", ""))
    return textwrap.dedent("\n".join(out))


def _strip_line_numbers(lines: list[str]) -> list[str]:
    """Code copied from a page that numbers its lines: `1 import keras`, `2 ...`."""
    numbered = [(i, _NUMBERED.match(line)) for i, line in enumerate(lines) if line.strip()]
    if len(numbered) < 3 or not all(m for _, m in numbered):
        return lines
    numbers = [int(m.group(1)) for _, m in numbered if m]
    if any(b - a != j - i for (i, _), (j, _), a, b in zip(numbered, numbered[1:], numbers, numbers[1:])):
        return lines  # numbers must count the lines (blank lines included)
    return [line[m.end() :] if m else line for line, m in ((ln, _NUMBERED.match(ln)) for ln in lines)]


# ---------------------------------------------------------------- statements, with recovery


def statements(code: str) -> list[ast.stmt]:
    """The statements of `code`, compound bodies flattened, with the user's line numbers."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return _recover(code)
    return _flatten(tree.body)


def _flatten(body: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # Parameter defaults are constants the body may use: def make(n_filters=32).
            params = stmt.args.posonlyargs + stmt.args.args
            pairs = list(zip(params[len(params) - len(stmt.args.defaults) :], stmt.args.defaults))
            pairs += [(a, d) for a, d in zip(stmt.args.kwonlyargs, stmt.args.kw_defaults) if d]
            for arg, default in pairs:
                assign = ast.Assign(targets=[ast.Name(arg.arg, ast.Store())], value=default)
                out.append(ast.copy_location(assign, stmt))
            out += _flatten(stmt.body)
        elif isinstance(stmt, ast.ClassDef):
            bases = [ast.unparse(b) for b in stmt.bases]
            if any(b.split(".")[-1] in ("Model", "Layer") for b in bases):
                raise ModelError(
                    f"line {stmt.lineno}: class {stmt.name} subclasses {bases[0]}; cnnlab reads "
                    "Sequential and functional Keras models, not subclassed ones (their layers "
                    "exist only when the code runs)"
                )
        elif isinstance(stmt, (ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While, ast.If)):
            out += _flatten(stmt.body)
        elif isinstance(stmt, ast.Try):
            out += _flatten(stmt.body)
        else:
            out.append(stmt)
    return out


_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\f\v]+|\\\n)
  | (?P<newline>\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>[rRbBuUfF]{0,2}(?:'''[\s\S]*?(?:'''|\Z)|\"\"\"[\s\S]*?(?:\"\"\"|\Z)
        |'(?:[^'\\\n]|\\[\s\S])*(?:'|(?=\n)|\Z)|"(?:[^"\\\n]|\\[\s\S])*(?:"|(?=\n)|\Z)))
  | (?P<name>[^\W\d]\w*)
  | (?P<number>\d[\w.]*|\.\d[\w.]*)
  | (?P<op>[^\s\w])
    """,
    re.VERBOSE,
)
# Keywords that continue an expression or statement: `a if b else c`, `x not in y`, `import a as b`.
_GLUE = {"if", "else", "for", "in", "not", "is", "and", "or", "as", "lambda", "await", "async",
         "yield", "import", "from", "elif", "except", "finally", "while", "with"}  # fmt: skip
_VALUES = {"True", "False", "None"}


def _segments(code: str) -> list[tuple[int, int, list[int]]]:
    """Cut `code` into statements: at line ends and `;` outside brackets, and where a
    new statement must begin because lines were run together, e.g. `...(inputs) x = ...`.

    Each statement comes with the places where another one may begin (`import keras
    (x, y), z = ...`): tried only when the statement does not parse as it is.
    """
    cuts: list[tuple[int, int, list[int]]] = []
    start = depth = 0
    soft: list[int] = []
    prev = ""  # "end" when the previous significant token ends an expression
    first = ""  # first word of the current statement
    spaced = False  # whitespace before the current token
    for m in _TOKEN.finditer(code):
        kind, tok = m.lastgroup, m.group()
        if kind in ("space", "comment"):
            spaced = True
            continue
        if kind == "newline" and depth == 0 or tok == ";" and depth == 0:
            cuts.append((start, m.start(), soft))
            start, prev, first, soft = m.end(), "", "", []
            continue
        if kind == "newline":
            spaced = True
            continue
        if depth == 0 and prev == "end" and kind == "name":
            glue = tok in _GLUE and not (tok == "from" and first != "raise")
            glue = glue and not (tok == "import" and first != "from")
            if not glue:
                cuts.append((start, m.start(), soft))
                start, first, soft = m.start(), "", []
        elif depth == 0 and prev == "end" and spaced and (kind in ("string", "number") or tok in "(["):
            soft.append(m.start())
        if not first:
            first = tok
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth = max(depth - 1, 0)
        ends = kind in ("number", "string") or tok in ")]}"
        ends = ends or kind == "name" and (tok in _VALUES or not _is_keyword(tok))
        prev, spaced = ("end" if ends else ""), False
    cuts.append((start, len(code), soft))
    return [(a, b, [c for c in soft if a < c < b]) for a, b, soft in cuts if code[a:b].strip()]


def _is_keyword(word: str) -> bool:
    return keyword.iskeyword(word)


def _split_further(code: str, a: int, b: int, soft: list[int]) -> list[tuple[int, int]] | None:
    """Pieces of code[a:b] that each parse, cut at some of the `soft` places; None if none do."""
    soft = [c for c in soft if a < c < b][:30]  # a few candidates: the search is quadratic
    memo: dict[int, list[tuple[int, int]] | None] = {}

    def pieces(i: int) -> list[tuple[int, int]] | None:
        if i not in memo:
            memo[i] = None
            for c in [*(c for c in soft if c > i), b]:
                if _parses(code[i:c]):
                    rest = [] if c == b else pieces(c)
                    if rest is not None:
                        memo[i] = [(i, c), *rest]
                        break
        return memo[i]

    return pieces(a)


def _parses(text: str) -> bool:
    try:
        ast.parse(text.strip())
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _recover(code: str) -> list[ast.stmt]:
    """Read text that is not Python as a whole, statement by statement."""
    # Indentation from PDFs and web pages is unreliable: read every line unindented and
    # drop compound-statement headers (`def f():`, `with scope:`), keeping their bodies.
    flat = "\n".join(line.lstrip() for line in code.split("\n"))
    out: list[ast.stmt] = []
    for a, b, soft in _segments(flat):
        piece = flat[a:b].strip()
        if piece.startswith("@") or re.search(r":\s*(#.*)?$", piece) and _is_header(piece):
            continue
        parts = [(a, b)]
        if soft and len(piece) < 5000 and not _parses(piece):
            parts = _split_further(flat, a, b, soft) or parts
        for a, b in parts:
            out += _read_piece(code, flat, a, b)
    return out


def _read_piece(code: str, flat: str, a: int, b: int) -> list[ast.stmt]:
    """Parse flat[a:b] with line numbers and columns as in the whole text."""
    a += len(flat[a:b]) - len(flat[a:b].lstrip())
    piece = flat[a:b].rstrip()
    line = flat.count("\n", 0, a) + 1
    try:
        tree = ast.parse(piece)
    except (SyntaxError, ValueError) as err:
        at = line + (err.lineno or 1) - 1 if isinstance(err, SyntaxError) else line
        raise ModelError(_syntax_message(code, at, err)) from None
    # Statements run together on one line: keep their columns in the line, for their order.
    col = len(flat[flat.rfind("\n", 0, a) + 1 : a].encode())
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) == 1:
            node.col_offset += col
        if getattr(node, "end_lineno", None) == 1:
            node.end_col_offset += col
    ast.increment_lineno(tree, line - 1)
    return _flatten(tree.body)


def _is_header(piece: str) -> bool:
    word = re.match(r"\w*", piece).group()
    return word in {"def", "class", "with", "if", "elif", "else", "for", "while", "try",
                    "except", "finally", "async"}  # fmt: skip


def _syntax_message(code: str, line: int, err: Exception) -> str:
    lines = code.split("\n")
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    snippet = text if len(text) <= 70 else text[:67] + "..."
    why = getattr(err, "msg", None) or str(err)
    if "4300 digits" in why:  # Python's limit on integer literals
        return f"line {line}: a number with more than 4,300 digits; write the sizes a model needs"
    return (
        f"line {line}: cannot read {snippet!r} as a layer or Keras code ({why}); "
        "check its brackets and quotes"
    )
