"""Every command: an OS error is one line and exit 2; a closed pipe ends quietly."""

import subprocess
import sys

from cnnlab.cli import main


def test_an_unwritable_output_path_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    code = main(["train", "dense_only", "--dataset", "digits", "--epochs", "1", "--out", "file/runs",
                 "--threads", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("cnnlab: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert (tmp_path / "file").read_text() == "not a folder"


def test_a_closed_pipe_ends_quietly(tmp_path):
    pipeline = f"{sys.executable} -m cnnlab models | head -c 1; echo"
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=120)
    assert len(done.stdout) == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_a_run_name_never_leads_outside_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("../../x", str(tmp_path / "abs"), "..", "a/b"):
        code = main(["train", "dense_only", "--dataset", "digits", "--epochs", "1", "--name", name,
                     "--threads", "1", "--quiet"])
        err = capsys.readouterr().err
        assert code == 2 and "must be a single folder name" in err, err
    code = main(["sweep", "dense_only", "--dataset", "digits", "--set", "lr=0.1", "--name", "../s", "--epochs", "1"])
    assert code == 2 and "must be a single folder name" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_numbers_out_of_range_are_refused(capsys):
    for argv, message in [
        (["summary", "cifar_model", "--line-length", "-10"], "--line-length -10: give a width from 40 to 1000"),
        (["summary", "cifar_model", "--line-length", "100000000"], "give a width from 40 to 1000"),
        (["train", "dense_only", "--dataset", "digits", "--seed", str(2**64)], "must be an integer from 0 to 2**63 - 1"),
    ]:
        assert main(argv) == 2
        assert message in capsys.readouterr().err


def test_more_threads_than_cores_are_capped_with_a_note(capsys):
    from cnnlab.train.precision import choose, usable_cores

    placement = choose("fp32", 999)
    assert placement.threads == usable_cores()
    assert f"999 threads asked for, {usable_cores()} usable cores here" in capsys.readouterr().err


def test_an_endless_model_file_is_refused(capsys):
    assert main(["summary", "/dev/zero", "--input-shape", "28,28,1"]) == 2
    assert "more than 1,048,576 characters" in capsys.readouterr().err


def test_a_setting_refused_is_named_as_it_was_given(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text("[train]\nthreads = 0\n")
    for argv, message in [
        (["lesson", "--quick", "--threads", "0"], "--threads 0 must be a positive integer"),
        (["train", "dense_only", "--dataset", "digits", "--epochs", "0"], "--epochs 0 must be a positive integer"),
        (["train", "dense_only", "--dataset", "digits", "--precision", "fp16"], "--precision fp16: use one of"),
        (["sweep", "dense_only", "--dataset", "digits", "--set", "lr=0.1", "--batch-size", "0"],
         "--batch-size 0 must be a positive integer"),
        # from a settings file, the file's own spelling
        (["train", "dense_only", "--dataset", "digits", "--config", "bad.toml"], "threads=0 must be a positive integer"),
    ]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"cnnlab: error: {message}") and err.count("\n") == 1, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]
