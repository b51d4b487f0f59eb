"""Model text -> `ModelSpec`: layer files, Keras code, TOML and JSON.

`parse_model` tells the formats apart by content:

- JSON (starts with `{`) and TOML (`[[layers]]` tables with `kind = ...`) go through
  `ModelSpec.from_dict` (`files.py`).
- Everything else is read as Python with `ast`; it is never executed. Keras code
  (`keras.Sequential([...])`, `model.add(...)`, or the functional style with
  `keras.Input` and `keras.Model`) is followed through its variable names; text
  without any of those is a layer file, one Keras layer call per line (`reader.py`,
  `functional.py`, one layer call in `layer_calls.py`, values in `values.py`).

Text pasted from web pages and PDFs is cleaned and cut into statements first
(`text.py`: typographic quotes, prompts, lost line breaks, broken indentation).
Data flow follows variable names, not line order, wherever names are assigned once;
line numbers in messages always refer to the user's text.
"""

from __future__ import annotations

from cnnlab.models.keras_code.files import looks_like_toml, parse_json, parse_toml
from cnnlab.models.keras_code.reader import CodeReader, rejoin_wrapped
from cnnlab.models.keras_code.text import clean_chars, clean_lines, statements
from cnnlab.models.layers import ModelError, ModelSpec

__all__ = ["parse_model"]


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
        return parse_json(text, name)
    if looks_like_toml(text):
        return parse_toml(text, name)
    return CodeReader(rejoin_wrapped(statements(clean_lines(text)))).model(name)
