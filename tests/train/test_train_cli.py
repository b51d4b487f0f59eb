"""`cnnlab train`: the run folder, reproducibility, and bad input (exact message, exit 2,
nothing written)."""

import json

import pytest
import torch
from helpers.training import FAST, metric_columns, read_history

from cnnlab.engine.native.adam import status as adam_status
from cnnlab.engine.native.maxpool import kernel_status
from cnnlab.engine.native.onednn import dtype_works
from cnnlab.engine.native.onednn import status as onednn_status
from cnnlab.engine.native.step import available as step_available
from cnnlab.engine.native.step import unavailable_reason as step_unavailable_reason

HISTORY_HEADER = "epoch,loss,accuracy,val_loss,val_accuracy,seconds"


def test_train_writes_a_complete_run_folder(workdir, cli):
    code, out, err = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "2", "--name", "r", *FAST)
    assert code == 0, err
    run = workdir / "runs" / "r"
    assert sorted(p.name for p in run.iterdir()) == [
        ".cnnlab-folder.json", "checkpoint", "config.json", "history.csv", "metrics.json", "model.json", "model.safetensors", "plots"
    ]
    assert sorted(p.name for p in (run / "checkpoint").iterdir()) == ["best.safetensors", "last.safetensors"]
    assert sorted(p.name for p in (run / "plots").iterdir()) == ["training_curves.png"]
    assert (run / "history.csv").read_text().splitlines()[0] == HISTORY_HEADER
    assert [row["epoch"] for row in read_history(run)] == ["1", "2"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert list(metrics) == ["test_loss", "test_accuracy", "per_class_accuracy", "confusion_matrix", "class_names",
                            "mistakes"]
    assert sum(map(sum, metrics["confusion_matrix"])) == 359  # digits' test split
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["layers"][0]["kind"] == "Conv2D"
    assert config["dataset"]["name"] == "digits" and config["dataset"]["input_shape"] == [8, 8, 1]
    assert config["settings"]["epochs"] == 2 and config["seed"] == 0
    assert (config["precision"], config["threads"], config["status"]) == ("fp32", 1, "finished")
    assert set(config["versions"]) == {"cnnlab", "torch", "numpy", "python"}
    # "C kernel" where cc exists; the lesson models train without autograd
    program = "one C call per step" if step_available() else f"layer by layer ({step_unavailable_reason()})"
    evaluation = "one C call per batch" if step_available() and dtype_works(torch.float32) else "the model's forward ("
    assert config["kernels"] == {"training_step": "direct", "step_program": program, "convolution": onednn_status(),
                                 "max_pooling": kernel_status(), "optimizer_update": adam_status(),
                                 "evaluation": config["kernels"]["evaluation"]}
    assert config["kernels"]["evaluation"].startswith(evaluation)
    assert config["wall_time_seconds"] > 0 and config["cpu"]["name"]
    # what the user saw
    assert out.splitlines()[0] == "Training sequential on digits: 1,295 train, 143 validation (0.1, stratified), 359 test"
    assert "Run folder: runs/r" in out
    assert "Epoch 2/2 - " in err and "val_accuracy: " in err
    assert list(workdir.rglob("*.tmp")) == []  # atomic writes leave no temporaries


def test_same_seed_gives_identical_history_in_fp32(workdir, cli):
    for name in ("a", "b"):
        code, _, err = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "2", "--name", name, *FAST)
        assert code == 0, err
    a, b = read_history(workdir / "runs" / "a"), read_history(workdir / "runs" / "b")
    assert metric_columns(a) == metric_columns(b)


def test_validation_on_test_set_says_so(workdir, cli):
    code, out, _ = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "1", "--validation", "test",
                       "--train-subset", "500", "--name", "t", *FAST)
    assert code == 0
    assert "note: validating on the test set (--validation test)" in out
    assert "500 train, validation on the test set, 359 test" in out
    config = json.loads((workdir / "runs" / "t" / "config.json").read_text())
    assert config["dataset"]["validation_size"] == 359


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tiny.txt", "--dataset", "digits", "--optimizer", "adamw"],
         "unknown optimizer 'adamw'; use one of adam, sgd, rmsprop"),
        (["tiny.txt", "--dataset", "digits", "--batch-size", "0"],
         "--batch-size 0 must be a positive integer (Keras's default is 32)"),
        (["cifar_model", "--dataset", "nope"], "unknown dataset 'nope': use one of "),
        (["nope_model", "--dataset", "digits"], "unknown model 'nope_model': not a preset"),
        (["fixed.txt", "--dataset", "digits"],
         "model 'sequential' takes input (32, 32, 3) but the data is (8, 8, 1); change the model's "
         "Input shape or pick a matching dataset"),
        (["tiny.txt"], "train needs --dataset NAME, e.g. --dataset cifar10"),
        (["--resume", "elsewhere"], "elsewhere is not a cnnlab run folder (it has no config.json)"),
        (["--resume", "runs/x", "--seed", "3"],
         "--resume continues a run with its saved settings; only --epochs, --threads and --quiet may "
         "be given with it"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(workdir, cli, argv, message):
    (workdir / "fixed.txt").write_text("Conv2D(8, (3, 3), input_shape=(32, 32, 3))\nFlatten()\nDense(10)\n")
    (workdir / "elsewhere").mkdir()
    before = sorted(p.name for p in workdir.iterdir())
    flags = ["--threads", "1"] if argv[0] == "--resume" else FAST
    code, out, err = cli("train", *argv, *flags)
    assert code == 2
    assert err.startswith("cnnlab: error: " + message)
    assert err.count("\n") == 1
    assert sorted(p.name for p in workdir.iterdir()) == before  # no runs/ folder


def test_existing_run_name_is_refused(workdir, cli):
    (workdir / "runs" / "r" / "checkpoint").mkdir(parents=True)
    (workdir / "runs" / "r" / "checkpoint" / "last.safetensors").write_bytes(b"")
    code, _, err = cli("train", "tiny.txt", "--dataset", "digits", "--name", "r", *FAST)
    assert code == 2
    assert err == "cnnlab: error: runs/r already exists; continue it with --resume runs/r or pick another --name\n"
    (workdir / "runs" / "q").mkdir(parents=True)  # no checkpoint: --resume could not continue it
    code, _, err = cli("train", "tiny.txt", "--dataset", "digits", "--name", "q", *FAST)
    assert err == "cnnlab: error: runs/q already exists (with no checkpoint to continue from); pick another --name\n"


def test_toml_settings_with_flag_override(workdir, cli):
    (workdir / "s.toml").write_text("[train]\nepochs = 3\nbatch_size = 64\nvalidation_split = 0.2\n")
    code, out, err = cli("train", "tiny.txt", "--dataset", "digits", "--config", "s.toml", "--epochs", "1",
                         "--name", "c", *FAST)
    assert code == 0, err
    config = json.loads((workdir / "runs" / "c" / "config.json").read_text())
    assert (config["settings"]["epochs"], config["settings"]["batch_size"]) == (1, 64)
    assert config["settings"]["validation_split"] == 0.2


def test_early_stopping_keeps_the_best_epoch(workdir, cli):
    # sgd with lr 3.0 makes val_loss worse after its best epoch; patience 1 stops one epoch later
    code, out, err = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "8", "--optimizer", "sgd",
                         "--lr", "3.0", "--early-stopping", "1", "--name", "e", *FAST)
    assert code == 0, err
    run = workdir / "runs" / "e"
    rows = read_history(run)
    val = [float(row["val_loss"]) for row in rows]
    best = val.index(min(val))
    assert len(rows) == best + 2 < 8
    assert f"kept the weights of epoch {best + 1} (val_loss {min(val):.4f})" in out
    config = json.loads((run / "config.json").read_text())
    assert (config["status"], config["epochs_done"]) == ("stopped early", best + 2)
