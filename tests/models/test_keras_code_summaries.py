"""Pasted code's summaries equal Keras's, character for character, for every model a block builds.

Keras names what the code makes in one session (dense, dense_1, ..., input_layer, input_layer_1,
functional, functional_1, and a Sequential's own Functional each time it is rebuilt), so the
second model of a block is named by what the first made. Keras (torch backend) is the oracle.
"""

from __future__ import annotations

import pytest
from helpers.keras_oracle import keras_summary
from helpers.lesson_code import CREATE_NN, LESSON_BLOCKS, keras_models
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab.cli import main
from cnnlab.models.keras_code import parse_models
from cnnlab.models.layers import ModelError
from cnnlab.models.shapes import analyze
from cnnlab.models.source import fit_to_data
from cnnlab.models.summary import format_summary

SEVERAL = {
    "two functional models from one function, then a Sequential and a named Input": (
        "def create(n):\n"
        "    inputs = keras.Input(shape=(8, 8, 1))\n"
        "    x = keras.layers.Conv2D(4, (3, 3))(inputs)\n"
        "    x = keras.layers.Flatten()(x)\n"
        "    return keras.Model(inputs, keras.layers.Dense(n)(x))\n"
        "m1 = create(3)\nm2 = create(5)\n"
        "s = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])\n"
        "for i in range(1):\n"
        "    inp = keras.Input(shape=(4,), name='given')\n"
        "    m3 = keras.Model(inp, keras.layers.Dense(2)(inp))\n",
        (8, 8, 1),
    ),
    "Sequential grown by add, Keras 2's input_shape, then a functional model": (
        "for units in [3]:\n"
        "    s = keras.Sequential()\n"
        "    s.add(keras.Input(shape=(6,)))\n"
        "    s.add(keras.layers.Dense(units))\n"
        "    s.add(keras.layers.Dense(2))\n"
        "    old = keras.Sequential([keras.layers.Dense(4, input_shape=(6,)), keras.layers.Dense(2)])\n"
        "    inputs = keras.Input(shape=(6,))\n"
        "    m = keras.Model(inputs, keras.layers.Dense(units)(inputs))\n",
        (6,),
    ),
    "straight-line code building three models": (
        "m1 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
        "m2 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])\n"
        "i = keras.Input((4,))\nm3 = keras.Model(i, keras.layers.Dense(2)(i))\n",
        (4,),
    ),
    "clear_session starts the names again": (
        CREATE_NN + "a = create_nn(4, 3)\nkeras.backend.clear_session()\nb = create_nn(5, 2)\nc = create_nn()\n",
        (89,),
    ),
}


def cnnlab_summaries(code: str, shape: tuple[int, ...]) -> list[str]:
    """Each model's summary; `shape` (the data's) fills the input shapes the code leaves to the data."""
    return [format_summary(analyze(fit_to_data(spec, spec.input_shape or shape, None)), line_length=76, notes=False)
            for _, spec in parse_models(code)]


@pytest.mark.parametrize("name", [*LESSON_BLOCKS, *SEVERAL])
def test_every_model_of_a_block_prints_keras_s_summary(name):
    code, shape = {**LESSON_BLOCKS, **SEVERAL}[name][:2]
    assert cnnlab_summaries(code, shape) == [keras_summary(m, 76) for m in keras_models(code, shape)]


def test_the_lesson_s_totals_are_the_pages():
    for code, shape, expected in LESSON_BLOCKS.values():
        if expected is not None:
            assert [analyze(fit_to_data(s, shape, None)).total for _, s in parse_models(code)] == expected


def test_summary_command_names_the_second_input_layer(tmp_path, capsys):
    path = tmp_path / "two.py"
    path.write_text(SEVERAL["two functional models from one function, then a Sequential and a named Input"][0])
    assert main(["summary", str(path), "--line-length", "76"]) == 0
    out = capsys.readouterr().out
    assert "│ input_layer_1 (InputLayer)      │" in out and "│ given (InputLayer)" in out
    assert 'Model: "functional_3"' in out  # the Sequential's own Functional took functional_2


@st.composite
def blocks(draw):
    """Several models in one block: functions called in loops, Sequential and functional, some
    names given, in random order."""
    parts = []
    for i in range(draw(st.integers(2, 4))):
        style = draw(st.sampled_from(["functional", "sequential", "add", "legacy"]))
        units = draw(st.integers(1, 5))
        named = draw(st.sampled_from(["", f", name='in_{i}'"]))
        parts.append({
            "functional": f"i{i} = keras.Input(shape=(5,){named})\n"
                          f"m{i} = keras.Model(i{i}, keras.layers.Dense({units})(keras.layers.Dense(3)(i{i})))\n",
            "sequential": f"m{i} = keras.Sequential([keras.Input(shape=(5,){named}), keras.layers.Dense({units})])\n",
            "add": f"m{i} = keras.Sequential()\nm{i}.add(keras.Input(shape=(5,)))\n"
                   f"for u in range({units}):\n    m{i}.add(keras.layers.Dense(u + 1))\n",
            "legacy": f"m{i} = keras.Sequential([keras.layers.Dense({units}, input_shape=(5,)), keras.layers.Dense(2)])\n",
        }[style])
    return "for _ in range(1):\n" + "".join("    " + line + "\n" for p in parts for line in p.splitlines())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks())
def test_generated_blocks_of_several_models_print_keras_s_summaries(code):
    assert cnnlab_summaries(code, (5,)) == [keras_summary(m, 76) for m in keras_models(code, (5,))]


@pytest.mark.parametrize(("code", "message"), [
    ("inputs = keras.Input(shape=89)\noutputs = keras.layers.Dense(1)(inputs)\nmodel = keras.Model(inputs, outputs)\n",
     "line 1: Input: shape=89 is a number, not a shape, and Keras refuses it (\"Cannot convert '89' to a shape.\"); "
     "write shape=(89,)"),
    ("def create_nn(n):\n    inputs = keras.Input(n)\n    return keras.Model(inputs, keras.layers.Dense(1)(inputs))\n"
     "model = create_nn(89)\n",
     "line 2: Input: shape=89 is a number, not a shape"),
    ("model = keras.Sequential([keras.layers.Dense(3, input_shape=89)])\n",
     "line 1: Dense: input_shape=89 is a number, not a shape, and Keras refuses it (\"Cannot convert '89' to a "
     "shape.\"); write input_shape=(89,)"),
    ("inputs = keras.Input(shape=X_data.shape[1])\nmodel = keras.Model(inputs, keras.layers.Dense(3)(inputs))\n",
     "line 1: Input: shape=X_data.shape[1] is a number, not a shape, and Keras refuses it (\"Cannot convert '4' to a "
     "shape.\" for a size of 4); write shape=(X_data.shape[1],)"),
    ("def create_nn(n_features):\n    inputs = keras.Input(shape=n_features)\n"
     "    return keras.Model(inputs, keras.layers.Dense(1)(inputs))\nmodel = create_nn(X_data.shape[1])\n",
     "line 2: Input: shape=n_features (= X_data.shape[1]) is a number, not a shape"),
    ("model = keras.Sequential([keras.Input(batch_shape=89), keras.layers.Dense(3)])\n",
     "line 1: Input: batch_shape=89 is a number, not a shape, and Keras refuses it (\"Cannot convert '89' to a "
     "shape.\"); write batch_shape=(None, 89)"),
])
def test_a_number_as_a_shape_is_refused_as_keras_does(code, message):
    with pytest.raises(ModelError) as info:
        parse_models(code)
    assert message in str(info.value)
    with pytest.raises(ValueError, match="Cannot convert '89' to a shape"):
        keras_models(code, (89,))


def test_average_pooling_needs_its_pool_size_as_in_keras_3():
    code = "inputs = keras.Input(shape=(8, 8, 1))\nmodel = keras.Model(inputs, keras.layers.AveragePooling2D()(inputs))\n"
    with pytest.raises(ModelError, match=r"line 2: AveragePooling2D: missing required argument 'pool_size' \(Keras 3 "
                                         r"has no default for it\); write it, e.g. AveragePooling2D\(\(2, 2\)\)"):
        parse_models(code)
    with pytest.raises(TypeError, match="pool_size"):
        keras_models(code, (8, 8, 1))
    assert cnnlab_summaries(code.replace("AveragePooling2D()", "AveragePooling2D(2)"), (8, 8, 1)) == [
        keras_summary(m, 76) for m in keras_models(code.replace("AveragePooling2D()", "AveragePooling2D(2)"), (8, 8, 1))]
