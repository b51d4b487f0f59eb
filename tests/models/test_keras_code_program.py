"""Model-building code followed in order (functions, loops, branches): totals equal Keras's.

Keras (torch backend) runs the same code as the oracle; cnnlab reads it without
running it. Each lesson block and each generated function must give the same
models, in the same order, with the same parameter totals.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from helpers.lesson_code import (
    BUILD_MODEL,
    CREATE_NN,
    CREATE_NN_WITH_HP,
    LESSON_BLOCKS,
    FixedHP,
    build_model,
    keras_run,
    keras_totals,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab.cli import main
from cnnlab.models.keras_code import parse_model, parse_models
from cnnlab.models.layers import ModelError
from cnnlab.models.shapes import analyze
from cnnlab.models.source import fit_to_data

keras = pytest.importorskip("keras")


def cnnlab_totals(code: str, shape: tuple[int, ...], call: str | None = None) -> list[int]:
    return [analyze(fit_to_data(spec, shape, None)).total for _, spec in parse_models(code, call=call)]


PATTERNS = {
    "dropout-rate loop over a list": (
        CREATE_NN_WITH_HP.replace("create_nn_with_hp(dropout_rate, n_layers)", "create_nn_with_dropout(dropout_rate, n_layers=1)")
        + "dropout_rates = [0.15, 0.3, 0.45, 0.6]\nval_losses = []\n"
        "for dropout_rate in dropout_rates:\n"
        "    model_dropout = create_nn_with_dropout(dropout_rate)\n"
        "    val_losses.append(dropout_rate)\n",
        (32, 32, 3), None,
    ),
    "kernel size and activation as arguments": (
        "def create_nn_with_hp(activation_function, kernel_size):\n"
        "    inputs = keras.Input(shape=train_images.shape[1:])\n"
        "    x = keras.layers.Conv2D(50, (kernel_size, kernel_size), activation=activation_function)(inputs)\n"
        "    x = keras.layers.MaxPooling2D((2, 2))(x)\n"
        "    x = keras.layers.Flatten()(x)\n"
        "    outputs = keras.layers.Dense(10)(x)\n"
        "    return keras.Model(inputs=inputs, outputs=outputs)\n"
        "model = create_nn_with_hp('relu', 4)\n",
        (32, 32, 3), None,
    ),
    "create_nn by keyword": (CREATE_NN + "model = create_nn(nodes2=5, nodes1=10)\n", (89,), [961]),
    "Sequential built in a loop, named by f-string": (
        "sizes = [64, 32]\nmodel = keras.Sequential(name=f'mlp_{len(sizes)}')\n"
        "model.add(keras.Input(shape=(X_data.shape[1],)))\n"
        "for i, units in enumerate(sizes):\n"
        "    if i > 0:\n        model.add(keras.layers.Dropout(0.1))\n"
        "    model.add(keras.layers.Dense(units * 2, activation='relu'))\n"
        "model.add(keras.layers.Dense(1))\n",
        (89,), None,
    ),
    "layers from a comprehension": (
        "model = keras.Sequential([keras.Input(shape=train_images.shape[1:]), keras.layers.Flatten()]"
        " + [keras.layers.Dense(n) for n in (16, 8) if n > 4])\n",
        (32, 32, 3), None,
    ),
}

MORE_PATTERNS = {
    'helper function in a loop, keyword defaults': (
        "def conv_block(x, filters, pool=True):\n    x = keras.layers.Conv2D(filters, 3, padding='same', activation='relu')(x)\n    if pool:\n        x = keras.layers.MaxPooling2D()(x)\n    return x\ndef create(filters_list=(8, 16), head=10):\n    inputs = keras.Input(shape=train_images.shape[1:])\n    x = inputs\n    for i, f in enumerate(filters_list):\n        x = conv_block(x, f, pool=i < len(filters_list) - 1)\n    x = keras.layers.GlobalAveragePooling2D()(x)\n    return keras.Model(inputs, keras.layers.Dense(head)(x))\nm1 = create()\nm2 = create([4, 4, 4], head=3)\n",
        (16, 16, 3), None,
    ),
    'layer list grown in a while loop, **kwargs from a dict': (
        'layer_list = [keras.Input(shape=train_images.shape[1:]), keras.layers.Flatten()]\nn = 3\nwhile n > 0:\n    layer_list.append(keras.layers.Dense(n * 4, activation=\'relu\' if n > 1 else None))\n    n -= 1\nmodel = keras.Sequential(layer_list)\ncfg = {"units": 5, "use_bias": False}\nmodel2 = keras.Sequential([keras.Input(shape=train_images.shape[1:]), keras.layers.Flatten(), keras.layers.Dense(**cfg)])\n',
        (4, 4, 1), None,
    ),
    'keyword-only parameters and **kwargs passed on': (
        'def make(*, units, extra=2, **rest):\n    m = keras.Sequential(**rest)\n    m.add(keras.Input(shape=train_images.shape[1:]))\n    m.add(keras.layers.Flatten())\n    for _ in range(extra):\n        m.add(keras.layers.Dense(units))\n    return m\na = make(units=3, name="made_a")\nb = make(units=2, extra=1)\n',
        (4, 4, 1), None,
    ),
    'break, continue and for-else': (
        'model = keras.Sequential([keras.Input(shape=train_images.shape[1:]), keras.layers.Flatten()])\nfor u in [8, 0, 4, 99, 2]:\n    if u == 0:\n        continue\n    if u > 50:\n        break\n    model.add(keras.layers.Dense(u))\nelse:\n    model.add(keras.layers.Dense(1000))\n',
        (4, 4, 1), None,
    ),
}


ALL_BLOCKS = {**LESSON_BLOCKS, **PATTERNS}


@pytest.mark.parametrize("name", [*ALL_BLOCKS, *MORE_PATTERNS])
def test_lesson_blocks_give_keras_totals(name):
    code, shape, expected = {**ALL_BLOCKS, **MORE_PATTERNS}[name]
    totals = cnnlab_totals(code, shape)
    assert totals == keras_totals(code, shape)
    if expected is not None:
        assert totals == expected


def test_each_model_is_labelled_with_its_arguments():
    code = CREATE_NN_WITH_HP + "for dropout_rate in [0.2, 0.5]:\n    model = create_nn_with_hp(dropout_rate, 1)\n"
    labels = [label for label, _ in parse_models(code)]
    assert labels == [
        "create_nn_with_hp(dropout_rate=0.2, n_layers=1)",
        "create_nn_with_hp(dropout_rate=0.5, n_layers=1)",
    ]
    plain = parse_models("for rate in [0.1, 0.2]:\n    m = keras.Sequential([keras.layers.Dropout(rate)])\n")
    assert [(label, spec.name) for label, spec in plain] == [("rate=0.1", "sequential"), ("rate=0.2", "sequential_1")]


def test_one_model_is_asked_for_when_there_are_several():
    code = "for rate in [0.1, 0.2]:\n    m = keras.Sequential([keras.layers.Dense(2)])\n"
    with pytest.raises(ModelError, match=r"builds 2 models \(1: rate=0.1; 2: rate=0.2\); keep only the one you want in the file"):
        parse_model(code)


def test_function_never_called_is_named_with_its_parameters():
    with pytest.raises(ModelError) as info:
        parse_models(CREATE_NN_WITH_HP)
    assert str(info.value).startswith(
        "<stdin>: line 1: create_nn_with_hp(dropout_rate, n_layers) is defined but never called, so the "
        'code builds no model; call it in the code, or give --call "create_nn_with_hp(...)"'
    )
    assert cnnlab_totals(CREATE_NN_WITH_HP, (32, 32, 3), call="create_nn_with_hp(0.8, 2)") == keras_totals(
        CREATE_NN_WITH_HP + "create_nn_with_hp(0.8, 2)\n", (32, 32, 3)
    )
    with pytest.raises(ModelError, match=r"--call 'create_nn_with_hp\(0.8\)': create_nn_with_hp\(\) is called without n_layers"):
        parse_models(CREATE_NN_WITH_HP, call="create_nn_with_hp(0.8)")
    with pytest.raises(ModelError, match=r"the code defines no function build; it defines: create_nn_with_hp\(dropout_rate, n_layers\)"):
        parse_models(CREATE_NN_WITH_HP, call="build()")


def test_summary_prints_each_model_and_picks_one(tmp_path, capsys):
    path = tmp_path / "hp.py"
    path.write_text(CREATE_NN_WITH_HP + "for n in (1, 2):\n    model = create_nn_with_hp(0.5, n)\n")
    assert main(["summary", str(path), "--input-shape", "32,32,3"]) == 0
    out = capsys.readouterr().out
    assert "Model 1 of 2: create_nn_with_hp(dropout_rate=0.5, n_layers=1)" in out
    assert "\nModel 2 of 2: create_nn_with_hp(dropout_rate=0.5, n_layers=2)" in out
    assert out.count("Total params:") == 2
    assert main(["summary", str(path), "--input-shape", "32,32,3", "--model", "2"]) == 0
    out = capsys.readouterr().out
    totals = keras_totals(path.read_text(), (32, 32, 3))
    assert f"Total params: {totals[1]:,}" in out and "Model 1 of" not in out
    assert main(["summary", str(path), "--input-shape", "32,32,3", "--model", "3"]) == 2
    assert "--model 3: the code builds 2 model(s); give 1 to 2" in capsys.readouterr().err


def test_summary_call_flag_and_tabular_input(tmp_path, capsys):
    path = tmp_path / "nn.py"
    path.write_text(CREATE_NN)
    assert main(["summary", str(path), "--input-shape", "89", "--call", "create_nn(10, 5)"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 961" in out and "(None, 89)" in out


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (CREATE_NN_WITH_HP + "for r in rates_from_data:\n    create_nn_with_hp(r, 1)\n",
         "line 15: the loop over `rates_from_data` depends on values cnnlab cannot work out"),
        (CREATE_NN_WITH_HP + "if len(X) > 3:\n    create_nn_with_hp(0.1, 1)\n",
         "line 15: the condition `len(X) > 3` depends on values cnnlab cannot work out"),
        ("n = 3\nif flag_from_data:\n    n = 5\nfor i in range(2):\n    keras.Sequential([keras.layers.Dense(n)])\n",
         "line 5: Dense: units=n is not a value cnnlab can work out"),
        (CREATE_NN_WITH_HP + "create_nn_with_hp(0.1, 20_000)\n", "range(...) of 20,000 numbers; cnnlab unrolls at most 10,000"),
        ("model = keras.Sequential()\ni = 0\nwhile i < 5000:\n    model.add(keras.layers.Dense(2))\n    i += 1\n",
         "the code makes more than 2,000 layers"),
        ("def f(n):\n    return f(n + 1)\nfor i in range(1):\n    keras.Sequential([keras.layers.Dense(f(1))])\n",
         "calls nest more than 50 deep"),
        ("a0 = (1,) * 20\n" + "".join(f"a{i} = (a{i - 1},) * 20\n" for i in range(1, 6))
         + "for i in range(1):\n    keras.Sequential([keras.layers.Dense(2, input_shape=a5)])\n",
         "line 4: this builds a value of more than 10,000 items"),
        ("n = " + "9" * 5000 + "\nfor i in range(1):\n    keras.Sequential([keras.layers.Dense(n)])\n",
         "line 1: a number with more than 4,300 digits"),
        ("def create_nn(nodes1=100):\n    return keras.Sequential([keras.layers.Dense(nodes1)])\nm = create_nn(10, 5)\n",
         "line 3: create_nn() takes 1 positional arguments but 2 were given"),
        ("for i in range(1):\n    try:\n        m = load()\n    except OSError:\n        m = keras.Sequential([keras.layers.Dense(2)])\n",
         "line 4: this `except` builds layers, and whether it runs depends on running the code"),
        ("inputs = keras.Input(train_images.shape[1:])\n"
         "base_model = keras.applications.DenseNet121(include_top=False, pooling='max', input_tensor=inputs)\n"
         "x = keras.layers.Flatten()(base_model.output)\nx = keras.layers.Dense(50, activation='relu')(x)\n"
         "outputs = keras.layers.Dense(10)(x)\nmodel = keras.Model(inputs=inputs, outputs=outputs)\n",
         "line 2: keras.applications.DenseNet121 is a pretrained model whose layers exist only when Keras loads it; "
         "cnnlab reads models built from layers: summarise this one with Keras itself"),
        *[(f"{imports}\ninputs = keras.Input((32, 32, 3))\nbase = {call}(include_top=False, input_tensor=inputs)\n"
           "outputs = keras.layers.Dense(10)(keras.layers.Flatten()(base.output))\n"
           "model = keras.Model(inputs=inputs, outputs=outputs)\n",
           f"line 3: {call} is a pretrained model whose layers exist only when Keras loads it")
          for imports, call in [
              ("from keras.applications import DenseNet121", "DenseNet121"),
              ("from tensorflow.keras.applications.densenet import DenseNet121 as Base", "Base"),
              ("import keras.applications.densenet as densenet", "densenet.DenseNet121"),
              ("from tensorflow.keras import applications", "applications.DenseNet121"),
          ]],
    ],
)  # fmt: skip
def test_what_cannot_be_worked_out_is_refused_with_its_line(code, message):
    with pytest.raises(ModelError) as info:
        parse_models(code)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text", ['{"layers": [{"kind": "Dense", "units": %s}]}', '[[layers]]\nkind = "Dense"\nunits = %s\n', "Dense(%s)"]
)
def test_numbers_past_pythons_digit_limit_are_one_clear_message(text):
    with pytest.raises(ModelError, match="a number with more than 4,300 digits; write the sizes a model needs"):
        parse_models(text % ("9" * 5000))


def test_fanning_out_values_are_bounded_in_time():
    import time

    code = "a0=(1,)*20\n" + "".join(f"a{i}=(" + ", ".join([f"a{i - 1}"] * 20) + ")\n" for i in range(1, 6))
    start = time.perf_counter()
    spec = parse_model(code + "keras.Sequential([keras.layers.Dense(2, input_shape=a5)])\n")
    assert spec.input_hint.startswith("(a4, a4")  # left to --input-shape, as any unknown value
    with pytest.raises(ModelError, match="more than 10,000 items"):
        parse_models(code.replace("a0=(1,)*20", "a0=(" + "1, " * 20 + ")") + "Dense(2, input_shape=a5)\n")
    assert time.perf_counter() - start < 5


def test_nothing_in_the_code_is_run(tmp_path):
    """Code that would write files, run a shell, import os or connect if run: nothing happens."""
    import socket
    import sys

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    marks = [tmp_path / f"mark{i}" for i in range(4)]
    code = textwrap.dedent(f"""\
        import os
        import socket
        open({str(marks[0])!r}, "w").write("ran")
        os.system("touch {marks[1]}")
        __import__("os").makedirs({str(marks[2])!r})
        socket.create_connection(("127.0.0.1", {port}))

        def create_nn(units=4):
            open({str(marks[3])!r}, "w")
            exec("import os")
            return keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(units)])

        for units in [2, 3]:
            model = create_nn(units)
        """)
    events: list[str] = []
    watching = [True]

    def audit(event, args):
        if watching[0] and event in ("open", "os.system", "exec", "socket.connect", "os.mkdir", "subprocess.Popen"):
            events.append(event)

    sys.addaudithook(audit)
    try:
        models = parse_models(code)
    finally:
        watching[0] = False
    assert [analyze(spec).total for _, spec in models] == [8, 12]
    assert events == []
    assert not any(m.exists() for m in marks)
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()


# ---------------------------------------------------------------- generated functions


@st.composite
def model_functions(draw):
    """A model-building function with random parameters, defaults, a loop, and random calls."""
    params = ["filters", "n_layers", "units"]
    values = {"filters": st.integers(1, 6), "n_layers": st.integers(0, 3), "units": st.integers(1, 9)}
    n_defaults = draw(st.integers(0, 3))
    defaults = {p: draw(values[p]) for p in params[3 - n_defaults :]}
    head = ", ".join(f"{p}={defaults[p]}" if p in defaults else p for p in params)
    loop = draw(st.sampled_from(["range(n_layers)", "[3] * n_layers", "sizes[:n_layers]"]))
    body = textwrap.dedent(f"""\
        sizes = (2, 3, 4)
        def build({head}):
            inputs = keras.Input(shape=train_images.shape[1:])
            x = keras.layers.Conv2D(filters, (3, 3), activation='relu')(inputs)
            for k in {loop}:
                x = keras.layers.Conv2D(filters + k, (3, 3), padding='same')(x)
            if n_layers > 1:
                x = keras.layers.MaxPooling2D((2, 2))(x)
            else:
                x = keras.layers.Dropout(0.5)(x)
            x = keras.layers.Flatten()(x)
            outputs = keras.layers.Dense(units * 2)(x)
            return keras.Model(inputs, outputs, name=f"build_{{filters}}_{{n_layers}}")
        """)
    calls = []
    for _ in range(draw(st.integers(1, 2))):
        given = {p: draw(values[p]) for p in params if p not in defaults or draw(st.booleans())}
        n_positional = draw(st.integers(0, len(given)))
        ordered = [p for p in params if p in given]
        positional = ordered[:n_positional] if ordered[:n_positional] == params[:n_positional] else []
        args = [str(given[p]) for p in positional] + [f"{p}={given[p]}" for p in ordered if p not in positional]
        calls.append(f"model = build({', '.join(args)})")
    if draw(st.booleans()):
        calls = [f"for filters_value in {[draw(values['filters']) for _ in range(2)]}:",
                 "    model = build(filters_value, 1, 2)"] + calls  # fmt: skip
    return body + "\n".join(calls) + "\n"


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(model_functions())
def test_generated_model_functions_give_keras_totals(code):
    assert cnnlab_totals(code, (12, 12, 2)) == keras_totals(code, (12, 12, 2))


def test_model_names_passed_through_kwargs_and_keras_default_names():
    code = MORE_PATTERNS["keyword-only parameters and **kwargs passed on"][0]
    assert [spec.name for _, spec in parse_models(code)] == ["made_a", "sequential"]


@pytest.mark.parametrize(
    "code",
    [
        "layer_list = []\nn = 3\nwhile n > 0:\n    layer_list.append(keras.layers.Dense(n))\n",
        "x = [0]\nfor i in range(10000):\n    x = [x, x]\n",
        "s = 'a' * 9000\nfor i in range(10000):\n    u = s.upper()\n",
        "def f(n):\n    return n + 1\nk = 0\nfor i in range(10000):\n    k = f(f(f(k)))\n",
        "t = tuple(range(9000))\nfor i in range(10000):\n    u = [t, t]\n",
    ],
)
def test_code_that_runs_long_stops_at_a_bound_within_seconds(code):
    import time

    start = time.perf_counter()
    with pytest.raises(ModelError, match="more than"):
        parse_models(code + "for i in range(2):\n    keras.Sequential([keras.layers.Dense(2)])\n")
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("name", ["cifar: create_nn_with_hp over n_layers", "dropout-rate loop over a list",
                                  "helper function in a loop, keyword defaults"])
def test_several_models_have_keras_session_names(name):
    code, shape, _ = {**ALL_BLOCKS, **MORE_PATTERNS}[name]
    expected = [
        (m.name, [layer.name for layer in m.layers if type(layer).__name__ != "InputLayer"])
        for m in keras_run(code, shape)[0]
    ]
    assert [(spec.name, [layer.name for layer in spec.layers]) for _, spec in parse_models(code)] == expected


def test_load_model_takes_one_model_or_the_numbered_one(tmp_path):
    from cnnlab.models.source import load_model

    path = tmp_path / "loop.py"
    path.write_text("for units in [3, 5]:\n    m = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(units)])\n")
    with pytest.raises(ModelError, match=r"the code builds 2 models \(1: units=3; 2: units=5\)"):
        load_model(str(path), (4, 4, 1))
    assert load_model(str(path), (4, 4, 1), number=2).layers[-1].args["units"] == 5
    with pytest.raises(ModelError, match="--call needs Keras code that defines the function"):
        load_model("cifar_model", (32, 32, 3), call="f()")


@st.composite
def sequential_builders(draw):
    """Sequential models from loops, comprehensions, helpers and keyword calls, with random values."""
    units = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3))
    dropout = draw(st.sampled_from([0.0, 0.25]))
    style = draw(st.sampled_from(["add", "list", "comprehension"]))
    grow = {
        "add": "    for u in units:\n        model.add(dense(u))\n",
        "list": "    stack = []\n    for i in range(len(units)):\n        stack.append(dense(units[i]))\n"
                "    for layer in stack:\n        model.add(layer)\n",
        "comprehension": "    for layer in [dense(u) for u in units if u > 0]:\n        model.add(layer)\n",
    }[style]  # fmt: skip
    code = (
        "def dense(u, act='relu'):\n    return keras.layers.Dense(u * 2, activation=act)\n"
        f"def build(units={units}, dropout={dropout}):\n"
        "    model = keras.Sequential(name='seq_' + str(len(units)))\n"
        "    model.add(keras.Input(shape=train_images.shape[1:]))\n"
        "    model.add(keras.layers.Flatten())\n"
        f"{grow}"
        "    if dropout > 0:\n        model.add(keras.layers.Dropout(dropout))\n"
        "    model.add(keras.layers.Dense(3))\n    return model\n"
    )
    calls = draw(st.lists(st.sampled_from(["build()", f"build({units[::-1]})", "build(dropout=0.5)", "build(units=[4])"]),
                          min_size=1, max_size=2))  # fmt: skip
    return code + "".join(f"m{i} = {c}\n" for i, c in enumerate(calls))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequential_builders())
def test_generated_sequential_builders_give_keras_totals(code):
    assert cnnlab_totals(code, (3, 3, 2)) == keras_totals(code, (3, 3, 2))


_PIECES = ["(", ")", "[", "]", ",", ":", "\n", "    ", "for ", " in ", "range(", "def ", "return ", "if ",
           "else:", "x", "-1", "*", "**", "'", "{", "}", "9" * 30, "global x\n", "break\n", "lambda: ",
           "while True:\n    pass\n", "yield ", "keras.layers.Dense("]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([*ALL_BLOCKS.values(), *MORE_PATTERNS.values()]), st.data())
def test_damaged_model_code_gives_a_model_or_one_model_error(block, data):
    code = block[0]
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(code)))
        if data.draw(st.booleans()):
            code = code[:at] + data.draw(st.sampled_from(_PIECES)) + code[at:]
        else:
            code = code[:at] + code[at + data.draw(st.integers(1, 10)) :]
    try:
        parse_models(code)
    except ModelError:
        pass


def test_keras_tuner_build_model_gives_each_grid_model():
    models = parse_models(BUILD_MODEL)
    grid = [(n, rate) for n in (1, 2) for rate in (0.2, 0.5, 0.8)]  # defaults first, the last declared fastest
    assert [label for label, _ in models] == [
        f"build_model(hp) with n_layers={n}, dropout_rate={rate!r}" for n, rate in grid
    ]
    code = CREATE_NN_WITH_HP + build_model().split("tuner = ")[0]
    expected = []
    for n, rate in grid:
        _, scope = keras_run(code, (32, 32, 3))
        expected.append(scope["build_model"](FixedHP({"n_layers": n, "dropout_rate": rate})).count_params())
    assert [analyze(fit_to_data(spec, (32, 32, 3), None)).total for _, spec in models] == expected
    assert {spec.name for _, spec in models} == {"cifar_model"}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        ("    rate = hp.Float('rate', 0.1, 0.5)\n", "hp.Float('rate'): a Float without step= has no values a grid can list"),
        ("    a = hp.Int('a', 1, 20)\n    b = hp.Int('b', 1, 20)\n", "the grid has more than 100 combinations"),
        ("    a = hp.Int('a', 1, n_from_data)\n", "hp.Int: write its name and values in the code"),
    ],
)
def test_keras_tuner_grids_cnnlab_cannot_list_are_refused(build, message):
    code = "def build_model(hp):\n" + build + "    return keras.Sequential([keras.layers.Dense(2)])\n"
    with pytest.raises(ModelError, match=re.escape(message)):
        parse_models(code)
