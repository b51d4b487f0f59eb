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
