"""The Dollar Street 10 edition's questions, answered from the model code (no literals).

The edition asks on 64x64x3 photos: the number of features, Dense(100) (question 1), a
Conv2D of 100 3x3 kernels (question 2), which layer of the small CNN has the most parameters,
what an extra Conv2D + MaxPooling2D block does (network depth), and what dropout changes.
Every number comes from `analyze`; pass other specs and the answers change. No torch.
"""

from __future__ import annotations

import dataclasses

from cnnlab.lesson.answers import Answer, ModelComparison, answer_q1, answer_q2
from cnnlab.models.layers import ModelSpec
from cnnlab.models.presets import DOLLAR_STREET_INPUT, PRESETS
from cnnlab.models.shapes import LayerReport, ModelReport, analyze, fmt

FEATURES = "How many features does one image in the Dollar Street 10 dataset have?"
Q1 = ("Suppose we create a single Dense (fully connected) layer with 100 hidden units that connect "
      "to the input pixels: how many parameters does this layer have?")
Q2 = ("Suppose we apply a convolutional layer with 100 kernels of size 3 * 3 * 3 to our images, "
      "without bias terms: how many parameters do we have, compared to the Dense layer?")
MOST = ("Inspect the small convolutional network: which layer has the most parameters? "
        "Do you find this intuitive?")
DEPTH = ("Network depth: add a Conv2D layer with 50 filters and another MaxPooling2D layer after the "
         "last MaxPooling2D layer. Will this model have more or fewer parameters?")
DROPOUT = ("Add a Dropout(0.8) layer after each pooling layer: how many parameters does the model "
           "have, and what does dropout change in training?")


def _dims(shape) -> str:
    return "x".join(map(str, shape))


def answer_features(shape=DOLLAR_STREET_INPUT) -> Answer:
    flat = analyze(PRESETS["dense100"].spec(shape)).layers[0]  # the Flatten
    h, w = shape[0], shape[1]
    text = (f"{fmt(flat.output_shape[0])} features: {h} * {w} = {fmt(h * w)} pixels, each with "
            f"{shape[2]} channel{'s' if shape[2] != 1 else ''} (RGB): Flatten turns one {_dims(shape)} "
            f"image into {fmt(flat.output_shape[0])} values.")
    return Answer(FEATURES, flat.output_shape[0], text, f"cnnlab summary dollar_street_dense --input-shape "
                                                        f"{','.join(map(str, shape))}")


def answer_dense(shape=DOLLAR_STREET_INPUT) -> Answer:
    return dataclasses.replace(answer_q1(PRESETS["dense100"].spec(shape)), question=Q1)


def answer_conv(q1: Answer, shape=DOLLAR_STREET_INPUT) -> Answer:
    return dataclasses.replace(answer_q2(PRESETS["conv100"].spec(shape), q1=q1), question=Q2)


@dataclasses.dataclass(frozen=True)
class LargestLayer:
    answer: Answer
    model: ModelReport


def answer_most_params(spec: ModelSpec | None = None) -> LargestLayer:
    report = analyze(spec or PRESETS["dollar_street_model_small"].spec())
    top = max(report.layers, key=lambda r: r.params)
    share = top.params / report.total
    text = (f"The {top.layer.kind} layer `{top.layer.name}` has {fmt(top.params)} of the model's "
            f"{fmt(report.total)} parameters ({share:.1%}): {top.formula}.")
    convs = [fmt(r.params) for r in report.layers if r.layer.kind == "Conv2D"]
    if top.layer.kind == "Dense" and convs:
        before = _before(report, top)
        text += (f" It connects every one of the {fmt(top.input_shape[0])} values Flatten makes of the "
                 f"{_dims(before.input_shape)} output of the last convolution to each of its "
                 f"{top.layer.args['units']} units, while the convolutions share their small kernels "
                 f"over all positions and have only {' and '.join(convs)}.")
    command = f"cnnlab summary {report.spec.name} --input-shape {','.join(map(str, report.input_shape))}"
    return LargestLayer(Answer(MOST, top.params, text, command), report)


def _before(report: ModelReport, layer: LayerReport) -> LayerReport:
    """The layer feeding `layer` (the Flatten in front of a Dense)."""
    i = report.layers.index(layer)
    return report.layers[i - 1] if i else layer


def answer_depth(base: ModelSpec | None = None, extra: ModelSpec | None = None) -> ModelComparison:
    """Fewer or more parameters with the extra block, and why: from the shapes at Flatten."""
    small = analyze(base or PRESETS["dollar_street_model"].spec())
    big = analyze(extra or PRESETS["dollar_street_model_extra"].spec())
    diff = big.total - small.total
    verdict = "fewer" if diff < 0 else "more" if diff > 0 else "the same number of"
    text = (f"{verdict.capitalize()} parameters: {fmt(big.total)} with the extra layers against "
            f"{fmt(small.total)} without ({'+' if diff > 0 else ''}{fmt(diff)}).")
    flat_s, flat_b = _flatten(small), _flatten(big)
    if flat_s is not None and flat_b is not None:
        added = big.layers[len(_upto_flatten(small)):len(_upto_flatten(big))]
        dense_s, dense_b = _after(small, flat_s), _after(big, flat_b)
        steps = " -> ".join(f"{r.layer.kind} {_dims(r.output_shape)}" for r in added)
        new_params = sum(r.params for r in added)
        text += (f" The extra layers shrink the feature maps from {_hw(flat_s.input_shape)} to "
                 f"{_hw(flat_b.input_shape)} ({_dims(flat_s.input_shape)} -> {steps}), so Flatten "
                 f"gives {fmt(flat_b.output_shape[0])} instead of {fmt(flat_s.output_shape[0])} values")
        if dense_s is not None and dense_b is not None:
            text += (f" and the Dense layer after it needs {dense_b.formula} instead of {dense_s.formula} "
                     f"parameters")
        text += f", while the new layers add only {fmt(new_params)}."
    command = (f"cnnlab summary {small.spec.name} && cnnlab summary {big.spec.name}")
    return ModelComparison(Answer(DEPTH, big.total, text, command), small, big)


def _flatten(report: ModelReport) -> LayerReport | None:
    return next((r for r in report.layers if r.layer.kind == "Flatten"), None)


def _upto_flatten(report: ModelReport) -> list[LayerReport]:
    flat = _flatten(report)
    return report.layers[: report.layers.index(flat)] if flat else report.layers


def _after(report: ModelReport, layer: LayerReport) -> LayerReport | None:
    i = report.layers.index(layer)
    return next((r for r in report.layers[i + 1:] if r.layer.kind == "Dense"), None)


def _hw(shape) -> str:
    return f"{shape[0]}x{shape[1]}" if len(shape) == 3 else _dims(shape)


@dataclasses.dataclass(frozen=True)
class DropoutAnswer:
    answer: Answer
    without: ModelReport
    with_dropout: ModelReport


def answer_dropout(without: ModelSpec | None = None, with_dropout: ModelSpec | None = None) -> DropoutAnswer:
    plain = analyze(without or PRESETS["dollar_street_model_extra"].spec())
    dropped = analyze(with_dropout or PRESETS["dollar_street_model_dropout"].spec())
    drops = [r for r in dropped.layers if r.layer.kind == "Dropout"]
    rates = sorted({r.layer.args["rate"] for r in drops})
    same_shapes = all(r.input_shape == r.output_shape for r in drops)
    weights = sum(r.params for r in drops)
    same = "the same as" if dropped.total == plain.total else ("more than" if dropped.total > plain.total
                                                               else "fewer than")
    text = (f"{fmt(dropped.total)} parameters, {same} the {fmt(plain.total)} without dropout: the "
            f"{len(drops)} Dropout layer{'s' if len(drops) != 1 else ''} (rate "
            f"{', '.join(f'{r:g}' for r in rates)}) hold {fmt(weights)} weights"
            f"{' and keep the shapes of the feature maps' if same_shapes else ''}. During training each "
            f"one silences a random {', '.join(f'{r:.0%}' for r in rates)} of its inputs (and none at "
            f"prediction time), so the network cannot rely on single values; the training runs below "
            f"show what that does to the gap between training and validation accuracy.")
    command = f"cnnlab summary {dropped.spec.name}"
    return DropoutAnswer(Answer(DROPOUT, dropped.total, text, command), plain, dropped)
