"""The `params`, `summary` and `models` commands (argument values in, text out)."""

from __future__ import annotations

import math

from cnnlab.models.layers import ModelError, parse_shape
from cnnlab.models.shapes import conv_params, dense_params, fmt, shape_text, window_output


def dense_answer(input_shape, units: int, use_bias: bool = True) -> tuple[int, str]:
    """Dense(units) connected to every input value: (count, explanation lines)."""
    shape = parse_shape(input_shape, "--input")
    if units < 1:
        raise ModelError(f"--units {units} must be a positive integer")
    inputs = math.prod(shape)
    n, formula = dense_params(inputs, units, use_bias)
    dims = "x".join(map(str, shape))
    lines = [
        f"Dense({units}{'' if use_bias else ', use_bias=False'}) on {dims} inputs "
        f"(flattened: {'*'.join(map(str, shape))} = {fmt(inputs)} values)",
        f"parameters = (inputs{' + 1 bias' if use_bias else ''}) * units = {formula}",
    ]
    return n, "\n".join(lines)


def conv_answer(
    kernel, filters: int, channels: int | None = None, input_shape=None,
    strides="1", padding: str = "valid", use_bias: bool = True,
) -> tuple[int, str]:
    """Conv2D(filters, kernel): (count, explanation lines incl. output shape when known)."""
    kh, kw = _pair(kernel, "--kernel")
    sh, sw = _pair(strides, "--strides")
    shape = parse_shape(input_shape, "--input") if input_shape else None
    if shape is not None:
        if len(shape) != 3:
            raise ModelError(f"--input {input_shape} must be height x width x channels, like 32x32x3")
        if channels is not None and channels != shape[2]:
            raise ModelError(f"--channels {channels} disagrees with --input {input_shape}")
        channels = shape[2]
    if channels is None:
        raise ModelError("give --input HxWxC (e.g. 32x32x3) or --channels C")
    if filters < 1 or channels < 1:
        raise ModelError("--filters and --channels must be positive integers")
    n, formula = conv_params((kh, kw), channels, filters, use_bias)
    lines = [
        f"Conv2D({filters}, ({kh}, {kw}){'' if use_bias else ', use_bias=False'}) "
        f"on {channels} input channel{'s' if channels != 1 else ''}",
        f"parameters = (kernel height * width * input channels{' + 1 bias' if use_bias else ''})"
        f" * filters = {formula}",
    ]
    if shape is not None:
        out = tuple(window_output(s, k, st, padding) for s, k, st in zip(shape[:2], (kh, kw), (sh, sw)))
        if min(out) < 1:
            raise ModelError(
                f"the {kh}x{kw} kernel is larger than the {shape[0]}x{shape[1]} input; "
                "use padding='same' or a smaller kernel"
            )
        lines.append(f"output shape = {shape_text(out + (filters,))} (padding='{padding}')")
    return n, "\n".join(lines)


def _pair(text, what: str) -> tuple[int, int]:
    shape = parse_shape(str(text), what)
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) != 2:
        raise ModelError(f"{what} {text} should be one or two sizes, like 3x3")
    return shape


def params(args) -> int:
    if args.layer == "dense":
        n, text = dense_answer(args.input, args.units, not args.no_bias)
    else:
        n, text = conv_answer(
            args.kernel, args.filters, args.channels, args.input, args.strides, args.padding,
            not args.no_bias,
        )
    print(text)
    print(fmt(n))
    return 0


def resolve_data(dataset: str | None, input_shape, classes: int | None):
    """(input_shape, classes) from --dataset / --input-shape / --classes."""
    if dataset:
        from cnnlab.datasets import dataset_meta

        meta = dataset_meta(dataset)
        if input_shape is None:
            input_shape = meta.input_shape
        if classes is None:
            classes = meta.num_classes
    return input_shape, classes


MIN_LINE, MAX_LINE = 40, 1000  # Keras's table needs room for its columns; wider is only slower


def summary(args) -> int:
    from cnnlab.models.shapes import analyze
    from cnnlab.models.source import load_models, pick_model
    from cnnlab.models.summary import format_summary

    if args.line_length is not None and not MIN_LINE <= args.line_length <= MAX_LINE:
        raise ModelError(f"--line-length {args.line_length}: give a width from {MIN_LINE} to {MAX_LINE} characters")
    shape, classes = resolve_data(args.dataset, args.input_shape, args.classes)
    models = load_models(args.model, shape, classes, call=getattr(args, "call", None))
    number = getattr(args, "model_number", None)
    if number is not None:
        models = [pick_model(models, number)]
    for i, (label, spec) in enumerate(models, 1):
        report = analyze(spec)
        if len(models) > 1:
            print(f"{'' if i == 1 else chr(10)}Model {i} of {len(models)}: {label or spec.name}")
        print(_explained(report, args) if args.explain else
              format_summary(report, macs=args.macs, line_length=args.line_length), end="")
    return 0


def _explained(report, args) -> str:
    """The summary with its formulas: as a column where the terminal is wide enough (or
    --line-length is given), else Keras's table with the formulas listed under it."""
    import shutil

    from cnnlab.models.summary import format_summary, summary_rows

    text = format_summary(report, explain=True, macs=args.macs, line_length=args.line_length)
    if args.line_length is not None or max(map(len, text.splitlines())) <= shutil.get_terminal_size().columns:
        return text
    rows = [row for row in summary_rows(report) if row["formula"]]
    width = max(len(row["name"]) for row in rows) if rows else 0
    listed = "".join(f"   {row['name']:<{width}}  {row['formula']}\n" for row in rows)
    return format_summary(report, macs=args.macs) + " Param # formulas:\n" + listed


def list_models(args) -> int:
    from cnnlab.models.presets import PRESETS
    from cnnlab.models.shapes import analyze

    width = max(map(len, PRESETS)) + 2  # the longest preset name still leaves two spaces
    print(f"{'name':<{width}}{'input':<14}{'params':>10}  about")
    for name, preset in PRESETS.items():
        total = analyze(preset.spec()).total
        dims = "x".join(map(str, preset.default_input))
        print(f"{name:<{width}}{dims:<14}{fmt(total):>10}  {preset.about}")
    return 0
