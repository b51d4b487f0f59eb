"""Reading run folders: complete, unfinished and broken ones (exact messages)."""

import json

import pytest
from helpers.runs import history_rows, write_run

from cnnlab.errors import CnnlabError, RunError
from cnnlab.rundir import load_run


def test_complete_run_reads_every_file(tmp_path):
    run = load_run(write_run(tmp_path / "a"))
    assert run.name == "a" and run.dataset == "digits" and run.model_name == "tiny_cnn"
    assert run.weights is None
    assert len(run.history) == 10 and run.history.epoch == list(range(1, 11))
    assert run.finished and run.notes == []
    assert run.seconds == 16.2  # the config's wall time wins over the sum of epochs
    assert issubclass(RunError, CnnlabError)


def test_missing_folder(tmp_path):
    with pytest.raises(RunError) as e:
        load_run(tmp_path / "nope")
    assert str(e.value) == f"{tmp_path / 'nope'}: no such folder; give a run folder such as runs/<name>"


def test_a_file_is_not_a_run(tmp_path):
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(RunError) as e:
        load_run(tmp_path / "f.txt")
    assert str(e.value) == f"{tmp_path / 'f.txt'} is a file, not a run folder; give a folder such as runs/<name>"


def test_folder_without_config_is_not_a_run(tmp_path):
    with pytest.raises(RunError) as e:
        load_run(tmp_path)
    assert str(e.value) == (f"{tmp_path} is not a run folder: it has no config.json "
                            "(cnnlab train writes one when a run starts)")


def test_broken_config(tmp_path):
    (tmp_path / "config.json").write_text('{"model": \n oops}')
    with pytest.raises(RunError) as e:
        load_run(tmp_path)
    assert str(e.value) == f"{tmp_path / 'config.json'} is not valid JSON (line 2: Expecting value)"
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(RunError, match=r"config.json should hold a JSON object, not list$"):
        load_run(tmp_path)


def test_no_history_yet_means_training_is_going(tmp_path):
    run = load_run(write_run(tmp_path / "r", rows=False, metrics=False))
    assert len(run.history) == 0 and not run.finished
    assert run.notes == ["no history.csv yet: training is still going, no epoch has finished"]


def test_header_only_history(tmp_path):
    path = write_run(tmp_path / "r", rows=[], metrics=False)
    run = load_run(path)
    assert len(run.history) == 0 and run.notes == []
    (path / "history.csv").write_text("")
    assert load_run(path).notes == ["history.csv is empty: training is still going, no epoch has finished"]


def test_history_without_metrics_says_training_goes_on(tmp_path):
    run = load_run(write_run(tmp_path / "r", rows=history_rows(3), metrics=False))
    assert run.notes == ["no metrics.json yet: training is still going after 3 epochs; "
                         "showing what exists so far"]


def test_interrupted_run_says_how_to_continue(tmp_path):
    path = write_run(tmp_path / "r", rows=history_rows(1), metrics=False,
                     config_extra={"status": "interrupted"})
    assert load_run(path).notes == [
        f"training was interrupted after 1 epoch (continue it with `cnnlab train --resume {path}`); "
        "no metrics.json, showing what exists"]


def test_empty_validation_columns_mean_no_validation(tmp_path):
    path = write_run(tmp_path / "r")
    (path / "history.csv").write_text("epoch,loss,accuracy,val_loss,val_accuracy,seconds\n"
                                      "1,0.9,0.6,,,2.0\n2,0.5,0.8,,,2.1\n")
    h = load_run(path).history
    assert h.loss == [0.9, 0.5] and h.val_loss == [] and h.val_accuracy == []
    (path / "history.csv").write_text("epoch,loss\n,0.9\n")
    with pytest.raises(RunError, match=r"line 2: epoch is '', not a number$"):
        load_run(path)


def test_line_being_written_is_left_out(tmp_path):
    path = write_run(tmp_path / "r", rows=history_rows(3))
    with open(path / "history.csv", "a") as f:
        f.write("4,0.5,0.8")  # no newline: the engine is in the middle of this line
    run = load_run(path)
    assert len(run.history) == 3
    assert run.notes == ["the last line of history.csv is incomplete (still being written); left out"]


def test_bad_history_values(tmp_path):
    path = write_run(tmp_path / "r")
    (path / "history.csv").write_text("epoch,loss,accuracy\n1,0.5,0.8\n2,abc,0.9\n")
    with pytest.raises(RunError) as e:
        load_run(path)
    assert str(e.value) == f"{path / 'history.csv'}, line 3: loss is 'abc', not a number"
    (path / "history.csv").write_text("epoch,loss,accuracy\n1,0.5\n2,0.4,0.9\n")
    with pytest.raises(RunError, match=r"history.csv, line 2: 2 values for 3 columns$"):
        load_run(path)
    (path / "history.csv").write_text("a,b\n1,2\n")
    with pytest.raises(RunError, match=r"the first line should name the columns"):
        load_run(path)


def test_nan_loss_is_kept(tmp_path):
    path = write_run(tmp_path / "r")
    (path / "history.csv").write_text("epoch,loss,accuracy\n1,0.5,0.8\n2,nan,0.1\n")
    assert load_run(path).history.loss[1] != load_run(path).history.loss[1]  # NaN


def test_broken_metrics(tmp_path):
    path = write_run(tmp_path / "r")
    (path / "metrics.json").write_text(json.dumps([1]))
    with pytest.raises(RunError, match=r"metrics.json should hold a JSON object, not list$"):
        load_run(path)
