"""`cnnlab sweep FILE` on model code: Keras Tuner's build_model(hp) as the grid, a model
function's parameters as --set axes; the code is read, never run."""

import json
import statistics

import pytest
from helpers.lesson_code import RUN_GUARD, SMALL_CREATE_NN_WITH_HP, build_model
from helpers.sweeps import FAST

from cnnlab.models.keras_code import parse_models, tuner_trials
from cnnlab.models.layers import ModelError
from cnnlab.settings import TrainSettings
from cnnlab.sweeps.grid import SweepError
from cnnlab.sweeps.model_code import model_code
from cnnlab.sweeps.plan import Sweep

# the lesson's hyperparameter code, sized for digits' 8x8 images; its first lines would write
# files if anything ran them
CREATE_NN_WITH_HP = RUN_GUARD + SMALL_CREATE_NN_WITH_HP
BUILD_MODEL = CREATE_NN_WITH_HP + build_model(max_rate=0.5)
GRID = [(1, 0.2), (1, 0.5), (2, 0.2), (2, 0.5)]  # Keras Tuner's order: the last declared fastest


@pytest.fixture
def code(workdir):
    (workdir / "tuner.py").write_text(BUILD_MODEL)
    (workdir / "function.py").write_text(CREATE_NN_WITH_HP)
    yield workdir
    assert not list(workdir.glob("executed*"))  # read, never run


def check_run(run, n_layers, rate, seed):
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "finished" and config["seed"] == seed
    kinds = [layer["kind"] for layer in config["model"]["layers"]]
    assert kinds == ["Conv2D"] * n_layers + ["Dropout", "Flatten", "Dense"]
    assert config["model"]["layers"][n_layers]["rate"] == rate
    return float((run / "history.csv").read_text().splitlines()[-1].split(",")[3])


def test_build_model_hp_is_the_grid_with_mean_and_std_over_seeds(code, cli):
    names = [f"n_layers={n},dropout_rate={r},seed={s}" for n, r in GRID for s in (0, 1)]
    # the reader's own expansion of build_model(hp) has the same order
    labels = [label for label, _ in parse_models(BUILD_MODEL)]
    assert labels == [f"build_model(hp) with n_layers={n}, dropout_rate={r!r}" for n, r in GRID]

    code_, out, err = cli("sweep", "tuner.py", "--dataset", "digits", "--seeds", "2", "--name", "t", *FAST)
    assert code_ == 0, err
    sweep = code / "runs" / "t"
    stored = json.loads((sweep / "sweep.json").read_text())
    assert stored["axes"] == [
        {"name": "n_layers", "values": [1, 2], "changes": "n_layers of build_model(hp)"},
        {"name": "dropout_rate", "values": [0.2, 0.5], "changes": "dropout_rate of build_model(hp)"},
    ]
    assert [r["name"] for r in stored["runs"]] == names
    assert stored["code"] == {"source": "tuner.py", "function": "build_model", "text": BUILD_MODEL}
    assert [line.split()[1] for line in out.splitlines() if line.startswith("[")] == names
    losses = {name: check_run(sweep / name, int(name[9]), float(name[24:27]), int(name[-1])) for name in names}
    for n, r in GRID:  # one row per setting: mean ± std of its two seeds
        setting = f"n_layers={n},dropout_rate={r}"
        pair = [losses[f"{setting},seed={s}"] for s in (0, 1)]
        row = next(line for line in out.splitlines() if line.startswith(setting + " "))
        assert row.split()[1] == "2" and f"{statistics.mean(pair):.4f} ± {statistics.stdev(pair):.4f}" in row
    best = min(GRID, key=lambda g: statistics.mean(losses[f"n_layers={g[0]},dropout_rate={g[1]},seed={s}"]
                                                   for s in (0, 1)))
    assert f"Best setting: n_layers={best[0]},dropout_rate={best[1]}," in out
    assert "n_layers of build_model(hp)" in (sweep / "index.html").read_text()

    code_, out, err = cli("sweep", "--resume", "runs/t")  # its stored code gives the same grid
    assert code_ == 0, err
    assert "(8 finished before, 0 to run)" in out.splitlines()[0]


def test_set_names_of_a_function_s_parameters_vary_its_call(code, cli):
    code_, out, err = cli("sweep", "function.py", "--dataset", "digits", "--set", "n_layers=1,2",
                          "--set", "dropout_rate=0.2,0.5", "--set", "lr=1e-3,3e-3", "--name", "f", *FAST[:2])
    assert code_ == 0, err
    sweep = code / "runs" / "f"
    stored = json.loads((sweep / "sweep.json").read_text())
    changes = "create_nn_with_hp(dropout_rate, n_layers)"
    assert [a["changes"] for a in stored["axes"]] == [f"n_layers of {changes}", f"dropout_rate of {changes}",
                                                      "training setting lr"]
    for n, r in GRID:
        for lr in (0.001, 0.003):
            run = sweep / f"n_layers={n},dropout_rate={r},lr={lr:g},seed=0"
            check_run(run, n, r, 0)
            assert json.loads((run / "config.json").read_text())["settings"]["lr"] == lr
    assert "Best setting: n_layers=" in out


def test_hyperparameters_and_parameters_combine_with_other_axes(code):
    def create(ref, sets):
        return Sweep.create(code / "s", ref, model_code(ref, [n for n, _ in sets], (8, 8, 1), 10), "digits",
                            TrainSettings(), sets, 1, "val_loss")

    # a --set of a hyperparameter keeps some of its values (0.5 as printed names the grid's float)
    tuned = create("tuner.py", [("dropout_rate", (0.5,)), ("conv2d.filters", (2, 8))])
    assert [p.name for p in tuned.points()] == [
        f"n_layers={n},dropout_rate=0.5,conv2d.filters={f},seed=0" for n in (1, 2) for f in (2, 8)]
    spec, _ = tuned.config(tuned.points()[3])
    assert [layer.args.get("filters") for layer in spec.layers[:2]] == [8, 4]
    assert spec.layers[2].args["rate"] == 0.5 and spec.input_shape == (8, 8, 1)
    # dropout= sets every model's Dropout, whatever layers each combination has
    called = create("function.py", [("n_layers", (1, 2)), ("dropout", (0.1,)), ("dropout_rate", (0.3,))])
    assert [called.config(p)[0].layers[p.values[0][1]].args["rate"] for p in called.points()] == [0.1, 0.1]
    with pytest.raises(SweepError) as e:  # the code's dropout_rate already varies that rate
        create("tuner.py", [("dropout", (0.1, 0.3))])
    assert str(e.value) == ("--set dropout sets rate of dropout, which the code's n_layers, dropout_rate already "
                            "vary; keep one of them")
    assert not (code / "s").exists()


def test_other_files_keep_today_s_meaning(code):
    (code / "tiny_code.py").write_text(
        "model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])\n")
    assert model_code("tiny.txt", ["dropout"]) is None
    assert model_code("cifar_model", ["dropout"]) is None
    assert model_code("tiny_code.py", ["units"]) is None
    (code / "called.py").write_text(CREATE_NN_WITH_HP + "model = create_nn_with_hp(0.5, 1)\n")
    assert model_code("called.py", ["lr"]) is None  # the code calls it: its model, as today


@pytest.mark.parametrize("args, message", [
    (["function.py", "--set", "n_layers=1,2"],
     "function.py: create_nn_with_hp(dropout_rate, n_layers) has no default for dropout_rate; sweep it too "
     "(--set dropout_rate=V1,V2,...) or give it a default in the code"),
    (["function.py", "--set", "dropout=0.1,0.5"],
     "function.py: create_nn_with_hp(dropout_rate, n_layers) has no default for dropout_rate, n_layers; sweep "
     "them (--set dropout_rate=V1,V2,...) or give them a default in the code"),
    (["function.py", "--set", "n_layers=1,9", "--set", "dropout_rate=0.2"],
     "--set n_layers=9,dropout_rate=0.2: line 9: conv2d_3 (Conv2D): the 3x3 kernel is larger than its 2x2 input"),
    (["function.py", "--set", "n_layers=1", "--set", "dropout_rate=0.2,high"],
     "--set n_layers=1,dropout_rate=high: line 10: Dropout: rate='high' should be a number in [0, 1)"),
    (["tuner.py", "--set", "n_layers=3"],
     "--set n_layers=3: build_model(hp) gives n_layers the values 1, 2; pick some of those or change them in the code"),
    (["tuner.py", "--set", "colour=1,2"], "--set colour: no training setting or layer argument is called 'colour'"),
    (["tuner.py", "--set", "conv2d_1.filters=2"],
     "--set conv2d_1.filters: model 'small_model' has no layer 'conv2d_1'; its layers are conv2d, dropout, "
     "flatten, dense (the model of n_layers=1,dropout_rate=0.2)"),
])
def test_bad_points_are_one_message_exit_2_and_nothing_written(code, cli, args, message):
    code_, out, err = cli("sweep", *args, "--dataset", "digits", *FAST)
    assert code_ == 2
    assert err.startswith(f"cnnlab: error: {message}") and err.count("\n") == 1
    assert not (code / "runs").exists()


def test_a_tuner_function_needs_a_hyperparameter(code):
    (code / "empty.py").write_text("def build_model(hp):\n    hp.Fixed('a', 1)\n"
                                   "    return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])\n")
    model = model_code("empty.py", [], (8, 8, 1), 10)
    assert model is not None and model.function.tuner
    sweep = Sweep.create(code / "s", "empty.py", model, "digits", TrainSettings(), [], 1, "val_loss")
    assert [p.name for p in sweep.points()] == ["a=1,seed=0"]
    (code / "none.py").write_text("def build_model(hp):\n    if False:\n        hp.Int('a', 1, 2)\n"
                                  "    return keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])\n")
    with pytest.raises(SweepError) as e:
        Sweep.create(code / "s", "none.py", model_code("none.py", []), "digits", TrainSettings(), [], 1, "val_loss")
    assert str(e.value) == ("none.py: build_model(hp) declares no hyperparameters (hp.Int, hp.Float, hp.Choice, "
                            "hp.Boolean); a sweep of it needs some")


RANDOM = CREATE_NN_WITH_HP + build_model(max_rate=0.8, tuner="RandomSearch(build_model, objective='val_loss', "
                                                               "max_trials=3, seed=5)")


def test_random_search_runs_the_combinations_it_draws(code, cli):
    (code / "rsearch.py").write_text(RANDOM)
    drawn = [used for used, _ in tuner_trials(RANDOM).trials]
    assert len(drawn) == 3 and len({str(d) for d in drawn}) == 3  # three of the grid's six, no repeats
    assert drawn == [used for used, _ in tuner_trials(RANDOM).trials]  # seeded: the same draws every time
    labels = [label for label, _ in parse_models(RANDOM)]  # cnnlab summary lists the same trials
    assert labels == [f"build_model(hp) with n_layers={d['n_layers']}, dropout_rate={d['dropout_rate']!r}"
                      for d in drawn]
    code_, out, err = cli("sweep", "rsearch.py", "--dataset", "digits", "--name", "r", *FAST)
    assert code_ == 0, err
    stored = json.loads((code / "runs" / "r" / "sweep.json").read_text())
    names = sorted(f"n_layers={d['n_layers']},dropout_rate={d['dropout_rate']:g},seed=0" for d in drawn)
    assert sorted(r["name"] for r in stored["runs"]) == names
    assert stored["axes"][0]["changes"] == "n_layers of build_model(hp), RandomSearch(max_trials=3, seed=5)"
    for d in drawn:
        check_run(code / "runs" / "r" / f"n_layers={d['n_layers']},dropout_rate={d['dropout_rate']:g},seed=0",
                  d["n_layers"], d["dropout_rate"], 0)
    assert "Sweep runs/r: small_model on digits, 3 settings x 1 seeds = 3 runs" in out
    code_, out, err = cli("sweep", "--resume", "runs/r")
    assert code_ == 0, err
    assert "(3 finished before, 0 to run)" in out.splitlines()[0]


def test_random_search_draws_what_cnnlab_keras_tuner_runs(tmp_path):
    """The same seed gives the same trials as `cnnlab.keras_tuner.RandomSearch` running the code."""
    import numpy as np

    from cnnlab import keras as ck
    from cnnlab import keras_tuner as ckt

    code = SMALL_CREATE_NN_WITH_HP + build_model(max_rate=0.8, tuner="RandomSearch(build_model, max_trials=4, "
                                                                      "seed=3)")
    scope = {"keras": ck, "train_images": np.zeros((2, 8, 8, 1), "float32")}
    exec(compile(code.split("tuner = ")[0], "<lesson>", "exec"), scope)  # the oracle runs it; cnnlab never does

    def compiled(hp):
        model = scope["build_model"](hp)
        model.compile(optimizer="adam", loss=ck.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    tuner = ckt.RandomSearch(compiled, objective="val_loss", max_trials=4, seed=3, directory=str(tmp_path))
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    tuner.search(x, np.arange(16) % 10, epochs=1, validation_split=0.25, verbose=0)
    assert [t.values for t in tuner.trials] == [used for used, _ in tuner_trials(code).trials]


def test_random_search_of_a_float_without_step_and_tuners_a_sweep_cannot_follow(code):
    unstepped = RANDOM.replace("max_value=0.8, step=0.3", "max_value=0.6")
    drawn = [used["dropout_rate"] for used, _ in tuner_trials(unstepped).trials]
    assert len(drawn) == 3 and all(0.2 <= r <= 0.6 for r in drawn)
    with pytest.raises(ModelError, match=r"hp.Float\('dropout_rate'\): a Float without step= has no values a grid "
                                         r"can list; give step=, or search it with keras_tuner.RandomSearch"):
        tuner_trials(unstepped.replace("RandomSearch(build_model, objective='val_loss', max_trials=3, seed=5)",
                                       "GridSearch(build_model)"))
    for tuner, message in [
        ("Hyperband(build_model, objective='val_loss', max_epochs=10)",
         "line 21: keras_tuner.Hyperband picks each trial from the scores of the ones before, which a sweep planned "
         "before it runs cannot do; use keras_tuner.GridSearch or RandomSearch"),
        ("RandomSearch(build_model, max_trials=n_from_data)",
         "line 21: RandomSearch: max_trials=n_from_data"),
        ("RandomSearch(build_model, max_trials=500)", "RandomSearch: max_trials=500; cnnlab follows up to 100 trials"),
    ]:
        (code / "t.py").write_text(CREATE_NN_WITH_HP + build_model(tuner=tuner))
        with pytest.raises(SweepError) as e:
            Sweep.create(code / "s", "t.py", model_code("t.py", []), "digits", TrainSettings(), [], 1, "val_loss")
        assert message in str(e.value)
    (code / "g.py").write_text(CREATE_NN_WITH_HP + build_model(tuner="GridSearch(build_model, max_trials=3)"))
    assert len(tuner_trials((code / "g.py").read_text()).trials) == 3  # GridSearch's max_trials stops the grid


def test_sweep_reads_model_code_from_stdin_as_summary_does(code, cli, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(BUILD_MODEL))
    code_, out, err = cli("sweep", "-", "--dataset", "digits", "--set", "n_layers=1", "--name", "s", *FAST)
    assert code_ == 0, err
    stored = json.loads((code / "runs" / "s" / "sweep.json").read_text())
    assert stored["code"]["source"] == "<stdin>" and stored["code"]["text"] == BUILD_MODEL
    assert [r["name"] for r in stored["runs"]] == ["n_layers=1,dropout_rate=0.2,seed=0",
                                                    "n_layers=1,dropout_rate=0.5,seed=0"]
    monkeypatch.setattr("sys.stdin", io.StringIO(BUILD_MODEL))
    assert cli("summary", "-", "--input-shape", "8,8,1")[1].count("Total params:") == 4


def test_sweep_help_says_what_set_changes_in_model_code(cli, capsys):
    with pytest.raises(SystemExit):
        cli("sweep", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "on Keras code, a parameter of its model function (n_layers=1,2: the values it is called with) or a " \
           "keras_tuner hyperparameter of its build_model(hp) (some of the values it declares)" in text
    assert "or - for stdin" in text
