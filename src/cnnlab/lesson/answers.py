"""The exercise page's questions 1-3, answered from the model code (no literals).

Every number comes from `analyze` on a model spec; pass other specs and the answers
change with them. Pure Python: no torch.
"""

from __future__ import annotations

import dataclasses

from cnnlab.models.layers import ModelSpec
from cnnlab.models.presets import PRESETS
from cnnlab.models.shapes import LayerReport, ModelReport, analyze, fmt, shape_text

Q1 = (
    "A single Dense layer with 100 hidden units connected to the 32x32x3 input pixels: "
    "how many parameters does it have?"
)
Q2 = (
    "A convolutional layer with 100 kernels of size 3x3x3 without bias on the same images: "
    "how many parameters, compared to the previous answer?"
)
Q3 = (
    "Add a Conv2D layer with 32 filters after the last MaxPooling2D layer of the CIFAR-10 "
    "model. Does it have more or fewer parameters? Train it and plot the results."
)
Q4 = "Repeat the classification on MNIST or Fashion-MNIST. What do you observe?"


@dataclasses.dataclass(frozen=True)
class Answer:
    question: str
    value: int  # the number asked for
    text: str  # the answer in a sentence or two, with the formula
    command: str  # the cnnlab command that computes it


def _first(report: ModelReport, kind: str) -> LayerReport:
    return next(r for r in report.layers if r.layer.kind == kind)


def answer_q1(spec: ModelSpec | None = None) -> Answer:
    report = analyze(spec or PRESETS["dense100"].spec())
    dense = _first(report, "Dense")
    inputs = dense.input_shape[-1]
    dims = "x".join(map(str, report.input_shape))
    text = (
        f"{fmt(dense.params)} parameters: each of the {dense.layer.args['units']} units has one weight "
        f"per input value ({dims} = {fmt(inputs)}) plus a bias: {dense.formula}."
    )
    command = f"cnnlab params dense --input {dims} --units {dense.layer.args['units']}"
    return Answer(Q1, dense.params, text, command)


def answer_q2(spec: ModelSpec | None = None, q1: Answer | None = None) -> Answer:
    report = analyze(spec or PRESETS["conv100"].spec())
    conv = _first(report, "Conv2D")
    a = conv.layer.args
    q1 = q1 or answer_q1()
    ratio = q1.value / conv.params
    text = (
        f"{fmt(conv.params)} parameters: {conv.formula}. The kernels are shared across all "
        f"positions, so the count does not depend on the image size: about {ratio:,.0f} times "
        f"fewer than the Dense layer's {fmt(q1.value)}."
    )
    kh, kw = a["kernel_size"]
    dims = "x".join(map(str, report.input_shape))
    bias = "" if a["use_bias"] else " --no-bias"
    command = f"cnnlab params conv --input {dims} --kernel {kh}x{kw} --filters {a['filters']}{bias}"
    return Answer(Q2, conv.params, text, command)


@dataclasses.dataclass(frozen=True)
class ModelComparison:
    answer: Answer
    without: ModelReport  # the lesson's model
    with_extra: ModelReport  # with the extra Conv2D


def answer_q3(
    without: ModelSpec | None = None,
    with_extra: ModelSpec | None = None,
    input_shape: tuple[int, ...] | None = None,
    classes: int | None = None,
) -> ModelComparison:
    small = analyze(without or PRESETS["cifar_model_small"].spec(input_shape, classes), input_shape)
    extra = analyze(with_extra or PRESETS["cifar_model"].spec(input_shape, classes), input_shape)
    diff = extra.total - small.total
    verdict = "fewer" if diff < 0 else "more" if diff > 0 else "the same number of"
    text = (
        f"{verdict.capitalize()} parameters: {fmt(extra.total)} with the extra Conv2D against "
        f"{fmt(small.total)} without ({'+' if diff > 0 else ''}{fmt(diff)})."
    )
    try:
        f_small, f_extra = _first(small, "Flatten"), _first(extra, "Flatten")
        d_small, d_extra = _first_after(small, f_small), _first_after(extra, f_extra)
        new_conv = [r for r in extra.layers if r.layer.kind == "Conv2D"][-1]
    except StopIteration:
        f_small = None
    if f_small is not None and d_small is not None and d_extra is not None:
        text += (
            f" The extra {new_conv.layer.args['kernel_size'][0]}x{new_conv.layer.args['kernel_size'][1]} "
            f"'{new_conv.layer.args['padding']}' convolution turns the "
            f"{_hw(f_small.input_shape)} feature maps into {_hw(f_extra.input_shape)}, so Flatten "
            f"gives {fmt(f_extra.output_shape[0])} instead of {fmt(f_small.output_shape[0])} values "
            f"and the Dense layer after it needs {d_extra.formula} instead of {d_small.formula} "
            f"parameters, while the new Conv2D adds only {fmt(new_conv.params)} ({new_conv.formula})."
        )
    dims = ",".join(map(str, small.input_shape))
    command = (
        f"cnnlab summary {small.spec.name} --input-shape {dims} && "
        f"cnnlab summary {extra.spec.name} --input-shape {dims}"
    )
    return ModelComparison(Answer(Q3, extra.total, text, command), small, extra)


def _first_after(report: ModelReport, layer: LayerReport) -> LayerReport | None:
    i = report.layers.index(layer)
    return next((r for r in report.layers[i + 1:] if r.layer.kind == "Dense"), None)


def _hw(shape) -> str:
    return f"{shape[0]}x{shape[1]}" if len(shape) == 3 else shape_text(shape)
