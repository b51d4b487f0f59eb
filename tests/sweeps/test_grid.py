"""What `--set NAME=V1,V2` means: parsing, the name lookup order, and refused values."""

import pytest

from cnnlab.models.source import load_model
from cnnlab.settings import TrainSettings
from cnnlab.sweeps.grid import (
    Point,
    SweepError,
    grid_points,
    parse_set,
    point_config,
    resolve_axis,
    split_values,
)


@pytest.fixture
def spec():
    return load_model("cifar_model_dropout", input_shape=(28, 28, 1), classes=10)


def axis(name, values, spec, settings=None):
    return resolve_axis(name, values, spec, settings or TrainSettings())


def test_values_are_python_literals_or_words():
    assert parse_set("dropout=0.1,0.3") == ("dropout", (0.1, 0.3))
    assert parse_set("lr=1e-3, 3e-4") == ("lr", (1e-3, 3e-4))
    assert parse_set("kernel_size=(3, 3),(5,5)") == ("kernel_size", ((3, 3), (5, 5)))
    assert parse_set("optimizer=sgd,'adam'") == ("optimizer", ("sgd", "adam"))
    assert split_values("[1, 2],3") == ["[1, 2]", "3"]


@pytest.mark.parametrize("text, message", [
    ("dropout", "--set 'dropout': write NAME=VALUE,VALUE,..., e.g. --set dropout=0.1,0.3,0.5"),
    ("=0.1", "--set '=0.1': write NAME=VALUE,VALUE,..., e.g. --set dropout=0.1,0.3,0.5"),
    ("dropout=0.1,,0.2", "--set ...=0.1,,0.2: an empty value between commas"),
    ("dropout=0.1,0.10", "--set dropout: the value 0.1 is listed twice"),
])
def test_malformed_sets_are_refused(text, message):
    with pytest.raises(SweepError) as e:
        parse_set(text)
    assert str(e.value) == message


def test_dropout_sets_every_dropout_layer_and_nothing_else(spec):
    a = axis("dropout", (0.5,), spec)
    assert (a.arg, a.layers) == ("rate", ("dropout",))
    changed, _ = point_config(Point((("dropout", 0.5),), 0), [a], spec, TrainSettings())
    assert [layer.args for layer in changed.layers if layer.kind == "Dropout"] == [{"rate": 0.5}]
    assert [layer.args for layer in changed.layers if layer.kind != "Dropout"] == \
        [layer.args for layer in spec.layers if layer.kind != "Dropout"]
    assert spec.layers[5].args == {"rate": 0.2}  # the base spec is not changed


def test_a_layer_by_its_keras_name(spec):
    a = axis("conv2d_1.filters", (16, 64), spec)
    assert (a.arg, a.layers) == ("filters", ("conv2d_1",))
    changed, _ = point_config(Point((("conv2d_1.filters", 64),), 0), [a], spec, TrainSettings())
    assert [layer.args.get("filters") for layer in changed.layers[:5]] == [32, None, 64, None, 32]


def test_a_bare_argument_sets_every_layer_but_the_output(spec):
    a = axis("units", (64,), spec)
    assert a.layers == ("dense",)  # not dense_1, the output layer
    assert axis("filters", (8,), spec).layers == ("conv2d", "conv2d_1", "conv2d_2")
    assert axis("activation", ("relu", "tanh"), spec).layers == ("conv2d", "conv2d_1", "conv2d_2", "dense")


def test_a_training_setting_changes_the_settings_and_the_seed_comes_from_the_point(spec):
    a = axis("lr", (1e-3, 3e-4), spec)
    assert a.is_setting and a.describes() == "training setting lr"
    model, settings = point_config(Point((("lr", 3e-4),), 2), [a], spec, TrainSettings(epochs=3))
    assert (settings.lr, settings.seed, settings.epochs) == (3e-4, 2, 3)
    assert model.layers == spec.layers


def test_pool_size_brings_keras_default_strides_along(spec):
    a = axis("max_pooling2d.pool_size", (3,), spec)
    changed, _ = point_config(Point((("max_pooling2d.pool_size", 3),), 0), [a], spec, TrainSettings())
    assert changed.layers[1].args == {"pool_size": (3, 3), "strides": (3, 3), "padding": "valid"}


def test_grid_is_settings_times_seeds_first_axis_slowest(spec):
    axes = [axis("dropout", (0.1, 0.5), spec), axis("lr", (1e-3, 3e-4), spec)]
    points = grid_points(axes, [0, 1])
    assert len(points) == 8
    assert [p.name for p in points[:3]] == [
        "dropout=0.1,lr=0.001,seed=0", "dropout=0.1,lr=0.001,seed=1", "dropout=0.1,lr=0.0003,seed=0",
    ]


@pytest.mark.parametrize("name, values, message", [
    ("foo", (1,), "--set foo: no training setting or layer argument is called 'foo'; settings are epochs, "
     "batch_size, optimizer, lr, validation_split, validation, train_subset, precision, early_stopping; "
     "layers are named as in the summary (conv2d, max_pooling2d, conv2d_1, max_pooling2d_1, conv2d_2, "
     "dropout, flatten, dense, dense_1), e.g. --set conv2d.filters=16,32"),
    ("dropout", ("abc",), "--set dropout=abc: Dropout: rate='abc' should be a number in [0, 1)"),
    ("dropout", (1.5,), "--set dropout=1.5: Dropout: rate=1.5 should be a number in [0, 1)"),
    ("lr", ("fast",), "--set lr=fast: lr='fast' must be a positive number, e.g. 1e-3"),
    ("epochs", (2.5,), "--set epochs=2.5: epochs=2.5 must be a positive integer"),
    ("conv2d.filters", (0,), "--set conv2d.filters=0: Conv2D: filters=0 should be a positive integer"),
    ("conv9.filters", (8,), "--set conv9.filters: model 'cifar_model_dropout' has no layer 'conv9'; its "
     "layers are conv2d, max_pooling2d, conv2d_1, max_pooling2d_1, conv2d_2, dropout, flatten, dense, dense_1"),
    ("flatten.units", (8,), "--set flatten.units: flatten (Flatten) has no argument 'units'; it takes no arguments"),
    ("seed", (1, 2), "--set seed: give --seeds N instead (seeds 0 .. N-1)"),
])
def test_bad_names_and_values_are_refused(spec, name, values, message):
    with pytest.raises(SweepError) as e:
        axis(name, values, spec)
    assert str(e.value) == message


def test_dropout_on_a_model_without_dropout():
    spec = load_model("cifar_model", input_shape=(28, 28, 1), classes=10)
    with pytest.raises(SweepError, match=r"^--set dropout: model 'cifar_model' has no Dropout layer; add one"):
        axis("dropout", (0.1,), spec)
