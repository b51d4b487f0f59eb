"""Model files: JSON (`{"layers": [...]}`) and TOML (`[[layers]]` tables with `kind = ...`).

Both go through `ModelSpec.from_dict`; each layer is checked first so that a message
can name its line (TOML) or its position in the list (JSON).
"""

from __future__ import annotations

import json
import re
from typing import Any

from cnnlab.models.keras_code.layer_calls import ALIASES
from cnnlab.models.layers import ModelError, ModelSpec, make_layer
from cnnlab.tomlparser import tomllib

__all__ = ["looks_like_toml", "parse_json", "parse_toml"]

_TOML_HINTS = (
    re.compile(r"^\s*\[\[\s*layers\s*\]\]\s*(#.*)?$", re.M),
    re.compile(r"^\s*kind\s*=\s*['\"]", re.M),
    re.compile(r"\{\s*kind\s*=\s*['\"]"),
)


TOO_LONG = "a number with more than 4,300 digits; write the sizes a model needs"


def looks_like_toml(text: str) -> bool:
    return any(p.search(text) for p in _TOML_HINTS)


def parse_json(text: str, name: str | None) -> ModelSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelError(f"line {err.lineno}: not valid JSON ({err.msg}, column {err.colno})") from None
    except RecursionError:
        raise ModelError("the JSON is nested too deeply") from None
    except ValueError:  # Python's limit on the digits of an integer
        raise ModelError(TOO_LONG) from None
    return _from_dict(data, name, [])


def parse_toml(text: str, name: str | None) -> ModelSpec:
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
    except ValueError:  # Python's limit on the digits of an integer
        raise ModelError(TOO_LONG) from None
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
