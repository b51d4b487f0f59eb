"""Where a model comes from: a preset name, a file (layer list, Keras code, TOML/JSON), stdin,
or model code held in a string.

`load_model` returns a ModelSpec whose input shape is known: from the model itself,
else from the caller (a dataset or --input-shape). Presets adapt to the data; a
user's model must fit it, or the error says how they differ.
"""

from __future__ import annotations

import os
import re
import sys

from cnnlab.models.layers import ModelError, ModelSpec, parse_shape
from cnnlab.models.presets import PRESETS

MAX_MODEL_TEXT = 1 << 20  # characters: model code is a few hundred lines; /dev/zero never ends
CODE_SOURCE = "the code"  # how messages name model code given as a string
# a file name: a suffix at the end (no layer call ends so), or a folder before the first bracket
_FILE_NAME = re.compile(r"\.[a-z][a-z0-9]{0,9}\s*$|^[^(]*[/\\]", re.IGNORECASE)


_STDIN: dict[str, tuple] = {}  # standard input and its text once read: a sweep reads the model twice


def read_model_text(ref: str) -> tuple[str, str]:
    """(text, source name) for `-` (stdin) or a path, at most MAX_MODEL_TEXT characters."""
    if ref == "-":
        if _STDIN.get("read", (None,))[0] is not sys.stdin:
            _STDIN["read"] = (sys.stdin, sys.stdin.read(MAX_MODEL_TEXT + 1))
        return _bounded(_STDIN["read"][1], "<stdin>"), "<stdin>"
    try:
        with open(ref, encoding="utf-8-sig") as f:
            return _bounded(f.read(MAX_MODEL_TEXT + 1), ref), ref
    except UnicodeDecodeError:
        raise ModelError(f"{ref}: not a text file; give Keras code, a layer list, TOML or JSON") from None
    except OSError as e:
        raise ModelError(f"{ref}: cannot read it ({e.strerror})") from None


def _bounded(text: str, source: str) -> str:
    if len(text) > MAX_MODEL_TEXT:
        raise ModelError(f"{source}: more than {MAX_MODEL_TEXT:,} characters, far more than model code; "
                         "give the file that builds the model")
    return text


def load_model(
    ref: str | ModelSpec,
    input_shape: tuple[int, ...] | str | None = None,
    classes: int | None = None,
    number: int | None = None,
    call: str | None = None,
) -> ModelSpec:
    """A ModelSpec ready for `analyze` / `build`, from `ref`:

    - a preset name (`cnnlab models` lists them: "cifar_model", "mnist_convnet", ...);
    - the path of a model file: Keras code (`.py`, read and never executed), a layer list
      (one `Conv2D(32, (3, 3), activation="relu")` a line), TOML or JSON;
    - Keras code or a layer list held in a string, as pasted into a notebook cell (what
      has a line break, or a call and no file suffix or folder: "Dense(10)" but not "model (1).py");
    - "-" for standard input, or a ModelSpec (checked against the data and returned).

    `input_shape` (H, W, C) is what the data gives, e.g. (32, 32, 3); without it the model
    must declare its own (`keras.Input(shape=...)`). `classes` is the number of labels.
    Code that builds several models needs `number` (1 for the first) to pick one;
    `call` calls a function the code defines (`create_nn(10, 5)`).
    """
    models = load_models(ref, input_shape, classes, call)
    if number is not None:
        return pick_model(models, number)[1]
    if len(models) > 1:
        from cnnlab.models.keras_code import only_model

        return only_model(models, str(ref))
    return models[0][1]


def load_models(
    ref: str | ModelSpec,
    input_shape: tuple[int, ...] | str | None = None,
    classes: int | None = None,
    call: str | None = None,
) -> list[tuple[str, ModelSpec]]:
    """Every model `ref` gives, in order, as (label, spec): one, except for code that builds
    several (a loop, a function called several times); the label names their arguments."""
    shape = _input_shape(input_shape) if input_shape is not None else None
    is_file = isinstance(ref, str) and (ref == "-" or os.path.exists(ref)) and ref not in PRESETS
    code = isinstance(ref, str) and not is_file and ref not in PRESETS and _is_code(ref)
    if call is not None and not (is_file or code):
        raise ModelError("--call needs Keras code that defines the function (a file, or the code itself)")
    if isinstance(ref, ModelSpec):
        models = [("", ref)]
    elif ref in PRESETS:
        return [("", PRESETS[ref].spec(shape, classes))]
    elif ref == "-" or os.path.exists(ref):
        from cnnlab.models.keras_code import parse_models

        text, source = read_model_text(ref)
        models = parse_models(text, source=source, call=call)
    elif code:
        from cnnlab.models.keras_code import parse_models

        models = parse_models(_bounded(ref, CODE_SOURCE), source=CODE_SOURCE, call=call)
    else:
        raise ModelError(f"unknown model {_short(ref)!r}: not a preset ({', '.join(PRESETS)}) and no such file")
    return [(label, fit_to_data(spec, shape, classes)) for label, spec in models]


def _is_code(ref: str) -> bool:
    """Whether a model reference that names no file is model code itself rather than a
    mistyped file name."""
    return "\n" in ref or ("(" in ref and not _FILE_NAME.search(ref))


def _input_shape(value) -> tuple[int, ...]:
    """The caller's input shape, with the error worded for Python and, on the CLI, for its flag."""
    try:
        return parse_shape(value, "input_shape")
    except ModelError as e:
        e.cli_message = str(e).replace("input_shape", "--input-shape", 1)
        raise


def _short(ref) -> str:
    text = str(ref)
    return text if len(text) <= 60 else text[:57] + "..."


def pick_model(models: list[tuple[str, ModelSpec]], number: int) -> tuple[str, ModelSpec]:
    """The `number`th (label, spec) (from 1), as `--model N` asks."""
    if not 1 <= number <= len(models):
        raise ModelError(f"--model {number}: the code builds {len(models)} model(s); give 1 to {len(models)}")
    return models[number - 1]


def fit_to_data(spec: ModelSpec, shape, classes: int | None) -> ModelSpec:
    """Fill a missing input shape from the data; refuse a model that does not fit it."""
    if shape is not None:
        if spec.input_shape is None:
            spec = spec.with_input_shape(shape)
        elif tuple(spec.input_shape) != tuple(shape):
            raise ModelError(
                f"model {spec.name!r} takes input {tuple(spec.input_shape)} but the data is "
                f"{tuple(shape)}; change the model's Input shape or pick a matching dataset"
            )
    if classes is not None:
        last = spec.layers[-1]
        if last.kind == "Dense" and last.args["units"] != classes:
            raise ModelError(
                f"{last.where()} has {last.args['units']} units but the data has {classes} "
                f"classes; make it Dense({classes})"
            )
    return spec
