"""Model text -> `ModelSpec`: layer files, Keras code, TOML and JSON.

`parse_model` tells the formats apart by content:

- JSON (starts with `{`) and TOML (`[[layers]]` tables with `kind = ...`) go through
  `ModelSpec.from_dict` (`files.py`).
- Everything else is read as Python with `ast`; it is never executed. Keras code
  (`keras.Sequential([...])`, `model.add(...)`, or the functional style with
  `keras.Input` and `keras.Model`) is followed through its variable names; text
  without any of those is a layer file, one Keras layer call per line (`reader.py`,
  `functional.py`, one layer call in `layer_calls.py`, values in `values.py`).

Code that builds its model in a function it calls, a loop, a branch or a comprehension
is followed in order instead, as Python would run it but without running it
(`program.py` for statements and functions, `expressions.py` for values,
`keras_calls.py` and `symbolic.py` for Keras's objects, `evaluate.py` for operators
and the bounds); `parse_models` returns every model such code builds, in order.

Text pasted from web pages and PDFs is cleaned and cut into statements first
(`text.py`: typographic quotes, prompts, lost line breaks, broken indentation).
Data flow follows variable names, not line order, wherever names are assigned once;
line numbers in messages always refer to the user's text.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from typing import Any

from cnnlab.models.keras_code.evaluate import Unknown
from cnnlab.models.keras_code.expressions import NO_DEFAULT, UserFunction
from cnnlab.models.keras_code.files import looks_like_toml, parse_json, parse_toml
from cnnlab.models.keras_code.program import Built, Program, needs_program, signature
from cnnlab.models.keras_code.reader import CodeReader, rejoin_wrapped
from cnnlab.models.keras_code.symbolic import Session
from cnnlab.models.keras_code.text import clean_chars, clean_lines, statements
from cnnlab.models.keras_code.tuner import Declared, Search, TunerHP, run_search, search_of, uses_hp
from cnnlab.models.layers import ModelError, ModelSpec

__all__ = ["CodeFunction", "TunerTrials", "call_model", "code_functions", "only_model", "parse_model", "parse_models",
           "tuner_trials"]


def parse_model(text: str, source: str = "<stdin>", name: str | None = None) -> ModelSpec:
    """Read a model from text: a layer file, Keras code, TOML or JSON (told apart by content).

    `name` is the model name used when the text gives none (Keras code's `name=`
    and a model file's `name` win); otherwise "sequential", or "functional" for
    functional Keras code, as Keras names them. Every problem raises `ModelError`
    with one message, "SOURCE: line N: ...", naming the layer and the fix; so does
    code that builds several models (`parse_models` reads them all).
    """
    return only_model(parse_models(text, source, name), source)


def only_model(models: list[tuple[str, ModelSpec]], source: str) -> ModelSpec:
    """The one model of a text, or ModelError listing the several it builds."""
    if len(models) > 1:
        listed = "; ".join(f"{i}: {label or spec.name}" for i, (label, spec) in enumerate(models, 1))
        raise ModelError(
            f"{source}: the code builds {len(models)} models ({listed}); keep only the one you "
            "want in the file (cnnlab summary FILE prints each; summary --model N picks one)"
        )
    return models[0][1]


def parse_models(
    text: str, source: str = "<stdin>", name: str | None = None, call: str | None = None
) -> list[tuple[str, ModelSpec]]:
    """Every model the text builds, in order, as (label, spec).

    The label names the loop values and call arguments that built the model (empty
    when the text builds one model plainly). `call` is a call of a function the code
    defines, like `--call "create_nn(0.2, 2)"`: then the models it builds.
    """
    try:
        with warnings.catch_warnings():  # ast's warnings on pasted text (`1x`) are not the user's concern
            warnings.simplefilter("ignore", SyntaxWarning)
            return _parse(text, name, call)
    except ModelError as err:
        raise ModelError(f"{source}: {err}") from None
    except (RecursionError, MemoryError):  # ast's limits on nesting
        raise ModelError(f"{source}: the text is nested too deeply to read as a model") from None


def _parse(text: str, name: str | None, call: str | None) -> list[tuple[str, ModelSpec]]:
    if "\x00" in text:
        raise ModelError("the text contains NUL bytes; give a text file (layers, Keras code, TOML or JSON)")
    text = clean_chars(text)
    if not text.strip():
        raise ModelError("the model text is empty; give one layer per line, Keras code, TOML or JSON")
    if text.lstrip().startswith("{"):
        return [("", parse_json(text, name))]
    if looks_like_toml(text):
        return [("", parse_toml(text, name))]
    code = clean_lines(text)
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        tree = None
    if tree is not None and (call is not None or needs_program(tree)):
        return _follow(tree, name, call)
    if call is not None:
        raise ModelError(f"--call needs code that Python can read as a whole; {_why(code)}")
    return [("", CodeReader(rejoin_wrapped(statements(code))).model(name))]


def _why(code: str) -> str:
    statements(code)  # raises the message that names the line
    return "check its indentation"


def _follow(tree: ast.Module, name: str | None, call: str | None) -> list[tuple[str, ModelSpec]]:
    """Follow the code in order (functions, loops, branches) and read each model it builds."""
    program = Program(tree)
    built = program.run()
    if call is not None:
        built = program.call_text(call)
    elif not built:
        built = _uncalled(program)
    return _specs(built, name)


def _specs(built: list[Built], name: str | None) -> list[tuple[str, ModelSpec]]:
    """(label, spec) of each model built, with the names Keras gave it and its layers where the
    code made them (`name` is the model's name where the code gives none)."""
    return [(b.label, b.model.spec(name or b.model.auto)) for b in built]


def _uncalled(program: Program) -> list[Built]:
    """A model-building function the code defines but never calls: read it as called with its
    defaults, its other parameters left unknown (fine for an input shape the data gives)."""
    uncalled = program.uncalled()
    if not uncalled:
        raise ModelError("the code builds no model; give keras.Sequential([...]) or keras.Model(inputs, outputs)")
    fn = uncalled[0]
    a = fn.node.args
    positional = a.posonlyargs + a.args
    required = [p.arg for p in positional[: len(positional) - len(fn.defaults)]]
    required_kw = [p.arg for p, d in zip(a.kwonlyargs, fn.kw_defaults) if d is NO_DEFAULT]
    never = f"{signature(fn)} is defined but never called, so the code builds no model"
    fix = f'call it in the code, or give --call "{fn.node.name}(...)" with its arguments'
    tuned = [f for f in uncalled if uses_hp(f.node)]
    if len(tuned) == 1:
        return _grid(program, tuned[0])
    if len(uncalled) > 1:
        names = ", ".join(signature(f) for f in uncalled)
        raise ModelError(f"line {fn.node.lineno}: the code defines {names} and calls none of them; {fix}")
    try:
        args = [Unknown(p) for p in required]
        program.call_user(fn, args, {p: Unknown(p) for p in required_kw})
    except ModelError as err:
        if not required + required_kw:
            raise
        raise ModelError(f"line {fn.node.lineno}: {never}; {fix} ({err})") from None
    if not program.built:
        raise ModelError(f"line {fn.node.lineno}: {never}; {fix}")
    unknown = ", ".join(required + required_kw)
    how = f"{unknown} left unknown" if unknown else "its defaults"
    for b in program.built:
        b.label = f"{signature(fn)}, never called in the code: read with {how}"
    return program.built


def _grid(program: Program, fn: UserFunction) -> list[Built]:
    """Keras Tuner's `build_model(hp)`: the model of each trial of the code's tuner (GridSearch's
    combinations, or RandomSearch's draws), each trial in a fresh Keras session as Keras Tuner
    builds them."""
    space: list[Declared] = []
    start = len(program.built)
    search = search_of(program.tuners, fn)

    def run_trial(values: dict[str, Any], keep: bool) -> dict[str, Any]:
        made = len(program.built)
        hp = TunerHP(space, values)
        program.session = Session(program.session.number + 1)  # Keras Tuner clears the session per trial
        program.call_user(fn, [hp], {})
        if not keep:
            del program.built[made:]
        shown = ", ".join(f"{k}={v!r}" for k, v in hp.used.items()) or "no hyperparameters"
        for b in program.built[made:]:
            b.label = f"{fn.node.name}(hp) with {shown}"
        return hp.values

    run_search(search, space, run_trial)
    return program.built[start:]


# --- what a sweep varies: a model function's parameters, or Keras Tuner's hyperparameters -------


@dataclass(frozen=True)
class CodeFunction:
    """A model-building function the code defines at its top level."""

    name: str
    signature: str  # `create_nn(nodes1=100, nodes2=50)`
    params: tuple[tuple[str, bool], ...]  # (parameter, has a default), those a call can name
    tuner: bool  # Keras Tuner's `build_model(hp)`
    called: bool  # the code itself calls it


def code_functions(text: str, source: str = "<stdin>") -> list[CodeFunction]:
    """The model-building functions of Keras code, in order; [] for a layer file, TOML or JSON."""
    program = _program(text, source)
    if program is None:
        return []
    out = []
    for fn in program.functions():
        if fn.node.name not in program.builders:
            continue
        a = fn.node.args
        first_default = len(a.args) - len(fn.defaults)
        params = [(p.arg, i >= first_default) for i, p in enumerate(a.args)]
        params += [(p.arg, d is not NO_DEFAULT) for p, d in zip(a.kwonlyargs, fn.kw_defaults)]
        out.append(CodeFunction(fn.node.name, signature(fn), tuple(params), uses_hp(fn.node), id(fn) in program.called))
    return out


def call_model(text: str, source: str, function: str, kwargs: dict[str, Any]) -> ModelSpec:
    """The model `function(**kwargs)` builds, read after the code's own top level (never run)."""
    program = _program(text, source)
    fn = program.scope.vars.get(function) if program is not None else None
    if not isinstance(fn, UserFunction):
        raise ModelError(f"{source}: the code defines no function {function}")
    start = len(program.built)
    program.session = Session(program.session.number + 1)  # each run of a sweep builds its model afresh
    try:
        program.line = fn.node.lineno
        program.call_user(fn, [], kwargs)
    except ModelError as err:
        raise ModelError(f"{source}: {err}") from None
    built = program.built[start:]
    if len(built) != 1:
        raise ModelError(f"{source}: {signature(fn)} builds {len(built)} models; a sweep needs one")
    return _specs(built, None)[0][1]


@dataclass
class TunerTrials:
    """What Keras Tuner's `build_model(hp)` gives a sweep: its search, its hyperparameters with the
    values each can take in grid order (for RandomSearch, those drawn), each trial's (values, model)."""

    search: Search
    hps: list[tuple[str, list[Any]]]
    trials: list[tuple[dict[str, Any], ModelSpec]]


def tuner_trials(text: str, source: str = "<stdin>") -> TunerTrials:
    """The trials of the code's `build_model(hp)`, in its tuner's order (GridSearch's, or the
    combinations RandomSearch draws)."""
    program = _program(text, source)
    tuned = [f for f in program.functions() if uses_hp(f.node)] if program is not None else []
    if len(tuned) != 1:
        raise ModelError(f"{source}: the code defines {len(tuned)} Keras Tuner functions (def f(hp)); keep one")
    space: list[Declared] = []
    trials: list[tuple[dict[str, Any], ModelSpec]] = []

    def run_trial(values: dict[str, Any], keep: bool) -> dict[str, Any]:
        made = len(program.built)
        hp = TunerHP(space, values)
        program.session = Session(program.session.number + 1)
        program.call_user(tuned[0], [hp], {})
        built = program.built[made:]
        if len(built) != 1:
            raise ModelError(f"{tuned[0].node.name}(hp) builds {len(built)} models in one trial; it should return one")
        if keep:
            trials.append((dict(hp.used), _specs(built, None)[0][1]))
        return hp.values

    try:
        search = search_of(program.tuners, tuned[0])
        run_search(search, space, run_trial)
        hps = [(d.name, d.grid() if not search.random else _drawn(d, trials)) for d in space]
    except ModelError as err:
        raise ModelError(f"{source}: {err}") from None
    return TunerTrials(search, hps, trials)


def _drawn(d: Declared, trials: list[tuple[dict[str, Any], ModelSpec]]) -> list[Any]:
    """The values of `d` the trials drew, in its grid's order (numbers: ascending)."""
    drawn = list(dict.fromkeys(used[d.name] for used, _ in trials if d.name in used))
    if d.values is None:
        return sorted(drawn)
    order = [d.default] + [v for v in d.values if v != d.default]
    return sorted(drawn, key=lambda v: order.index(v) if v in order else len(order))


def _program(text: str, source: str) -> Program | None:
    """The code followed through its top level, or None when it defines no function."""
    text = clean_chars(text)
    if "\x00" in text or text.lstrip().startswith("{") or looks_like_toml(text):
        return None
    try:
        tree = ast.parse(clean_lines(text))
    except (SyntaxError, ValueError):
        return None
    if not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in tree.body):
        return None
    program = Program(tree)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            program.run()
    except ModelError as err:
        raise ModelError(f"{source}: {err}") from None
    return program
