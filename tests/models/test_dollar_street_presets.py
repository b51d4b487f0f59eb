"""The Dollar Street 10 edition's models: every total and layer shape checked against Keras."""

import pytest
from helpers.keras_oracle import keras, keras_model

from cnnlab.models.presets import PRESETS
from cnnlab.models.shapes import analyze

# The totals the lesson's pages print (Keras 3, 64x64x3 images, 10 classes).
LESSON_TOTALS = {
    "dollar_street_model_small": 1_823_960,
    "dollar_street_model": 514_510,
    "dollar_street_dense": 617_510,
    "dollar_street_model_extra": 137_060,
    "dollar_street_model_dropout": 137_060,
}


@pytest.mark.parametrize("name, total", LESSON_TOTALS.items())
def test_totals_and_shapes_match_keras(name, total):
    spec = PRESETS[name].spec((64, 64, 3), 10)
    report = analyze(spec)
    model = keras_model(spec)
    assert report.total == model.count_params() == total
    theirs_layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    assert len(theirs_layers) == len(report.layers)
    for ours, theirs in zip(report.layers, theirs_layers):
        assert tuple(ours.output_shape) == tuple(theirs.output.shape[1:]), ours.layer.name
        assert ours.params == theirs.count_params(), ours.layer.name


def test_the_defaults_are_the_lessons_images():
    assert all(PRESETS[name].default_input == (64, 64, 3) for name in LESSON_TOTALS)


def test_dropout_model_drops_80_percent_after_each_pooling():
    kinds = [(layer.kind, layer.args.get("rate")) for layer in PRESETS["dollar_street_model_dropout"].spec().layers]
    after_pooling = [kinds[i + 1] for i, (kind, _) in enumerate(kinds) if kind == "MaxPooling2D"]
    assert after_pooling == [("Dropout", 0.8)] * 3


def test_question_1_on_the_lessons_images_matches_keras():
    spec = PRESETS["dense100"].spec((64, 64, 3))
    keras.backend.clear_session()
    inputs = keras.Input(shape=(64 * 64 * 3,))
    dense = keras.layers.Dense(100)
    dense(inputs)
    assert analyze(spec).total == dense.count_params() == 1_228_900
