"""cnnlab.keras_tuner against Keras Tuner (the oracle) on the same build_model."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cnnlab import keras as ck
from cnnlab import keras_tuner as ckt
from cnnlab.rundir import load_run

keras = pytest.importorskip("keras")
kt = pytest.importorskip("keras_tuner")


def builder(k):
    def build_model(hp):
        n_conv = hp.Int("n_conv_layer", min_value=1, max_value=2, step=1)
        dropout = hp.Choice("dropout", [0.1, 0.5])
        wide = hp.Boolean("wide")
        inputs = k.Input(shape=(8, 8, 1))
        x = inputs
        for _ in range(n_conv):
            x = k.layers.Conv2D(8 if wide else 4, 3, padding="same", activation="relu")(x)
        x = k.layers.Dropout(dropout)(k.layers.Flatten()(x))
        model = k.Model(inputs, k.layers.Dense(3)(x))
        model.compile(optimizer="adam", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        return model

    return build_model


def run(k, tuner_module, tmp_path, capsys, cls="GridSearch", **kwargs):
    x = np.random.default_rng(0).random((48, 8, 8, 1)).astype("float32")
    y = np.arange(48) % 3
    k.backend.clear_session()
    tuner = getattr(tuner_module, cls)(builder(k), objective="val_loss", directory=str(tmp_path),
                                       project_name=k.__name__, **kwargs)
    capsys.readouterr()
    tuner.search_space_summary()
    space = capsys.readouterr().out
    tuner.search(x, y, epochs=2, validation_split=0.25, verbose=0)
    tuner.results_summary()
    summary = capsys.readouterr().out
    return tuner, space, summary


def blocks(summary: str) -> dict[str, str]:
    """Trial id -> its hyperparameter lines, from results_summary's text."""
    found = re.findall(r"Trial (\d+) summary\nHyperparameters:\n(.*?)Score: ", summary, re.S)
    return dict(found)


def test_grid_search_visits_keras_tuners_grid_and_prints_its_summaries(tmp_path, capsys):
    kt_tuner, kt_space, kt_summary = run(keras, kt, tmp_path / "kt", capsys)
    tuner, space, summary = run(ck, ckt, tmp_path / "ck", capsys)
    assert space == kt_space
    assert blocks(summary) == blocks(kt_summary) and len(blocks(summary)) == 8
    head = lambda text: re.sub(r"Results in .*", "Results in X", text).split("\n\n")[0]  # noqa: E731
    assert head(summary) == head(kt_summary)
    for trial_id in blocks(summary):
        assert re.search(rf"Trial {trial_id} summary\n(.*\n)*?Score: \d\.\d+", summary)
    best = tuner.get_best_hyperparameters(2)
    assert [sorted(h.values) for h in best] == [sorted(h.values) for h in kt_tuner.get_best_hyperparameters(2)]
    assert tuner.get_best_models(1)[0].name == kt_tuner.get_best_models(1)[0].name


def test_each_trial_is_a_cnnlab_run_folder_with_the_best_epoch(tmp_path, capsys):
    tuner, _, _ = run(ck, ckt, tmp_path, capsys, max_trials=2)
    runs = sorted((tmp_path / "cnnlab.keras").glob("trial_*"))
    assert [r.name for r in runs] == ["trial_0", "trial_1"]
    trial = load_run(runs[0])
    assert len(trial.history) == 2 and trial.model_name == "functional"
    score = trial.config["keras_tuner"]["score"]
    assert score == min(trial.history.val_loss)
    assert (runs[0] / "checkpoint" / "best.safetensors").is_file()


def test_random_search_is_seeded_and_stops_at_max_trials(tmp_path, capsys):
    first, _, one = run(ck, ckt, tmp_path / "a", capsys, cls="RandomSearch", max_trials=3, seed=4)
    second, _, two = run(ck, ckt, tmp_path / "b", capsys, cls="RandomSearch", max_trials=3, seed=4)
    assert len(first.trials) == 3 and blocks(one).keys() == {"0", "1", "2"}
    assert [t.values for t in first.trials] == [t.values for t in second.trials]
    assert len({str(t.values) for t in first.trials}) == 3
    assert sorted(blocks(one).values()) == sorted(blocks(two).values())


def test_a_rerun_reloads_the_finished_trials(tmp_path, capsys):
    run(ck, ckt, tmp_path, capsys, max_trials=2)
    tuner, _, _ = run(ck, ckt, tmp_path, capsys, max_trials=3)
    assert [t.trial_id for t in tuner.trials] == ["0", "1", "2"]


def test_a_trial_whose_loss_is_nan_comes_last_as_in_keras_tuner(tmp_path, capsys):
    def nan_builder(k):
        def build_model(hp):
            poison = hp.Boolean("poison")
            inputs = k.Input(shape=(8, 8, 1))
            model = k.Model(inputs, k.layers.Dense(3)(k.layers.Flatten()(inputs)))
            optimizer = k.optimizers.SGD(learning_rate=1e38 if poison else 0.01)  # the logits overflow: nan
            model.compile(optimizer=optimizer, loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
            return model

        return build_model

    x = np.random.default_rng(0).random((48, 8, 8, 1)).astype("float32")
    y = np.arange(48) % 3
    results = []
    for k, module in ((keras, kt), (ck, ckt)):
        k.backend.clear_session()
        tuner = module.GridSearch(nan_builder(k), objective="val_loss", directory=str(tmp_path),
                                  project_name=k.__name__)
        tuner.search(x, y, epochs=2, validation_split=0.25, verbose=0)
        capsys.readouterr()
        tuner.results_summary()
        summary = capsys.readouterr().out
        results.append((tuner.get_best_hyperparameters(2), re.findall(r"poison: (\w+)\nScore: (\S+)", summary)))
    (kt_best, kt_scores), (ck_best, ck_scores) = results
    assert [h.values for h in ck_best] == [h.values for h in kt_best] == [{"poison": False}, {"poison": True}]
    # Keras Tuner's summary shows the nan trial's score or, when it failed, the traceback
    assert kt_scores[0][0] == "False" and ck_scores == [("False", ck_scores[0][1]), ("True", "nan")]


def test_the_best_hyperparameters_rebuild_a_model_as_in_keras_tuner(tmp_path, capsys):
    class Given:  # hp for Keras's build_model: the values cnnlab's tuner chose
        def __init__(self, values):
            self.Int = self.Choice = self.Boolean = lambda name, *args, **kwargs: values[name]

    keys = []
    for k, module in ((keras, kt), (ck, ckt)):
        tuner, _, _ = run(k, module, tmp_path / k.__name__, capsys, max_trials=2)
        best = tuner.get_best_hyperparameters()[0]
        assert best["n_conv_layer"] == best.get("n_conv_layer") and "dropout" in best and "nope" not in best
        model = tuner.hypermodel.build(best)  # Keras Tuner's way to train the best model again
        keys.append(sorted(best.values))
    assert keys[0] == keys[1]
    assert model.count_params() == builder(keras)(Given(best.values)).count_params()
