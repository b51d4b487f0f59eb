"""`cnnlab plot | report | compare` through the CLI: files written, messages, exit codes."""

import subprocess
import sys

from helpers.runs import history_rows, write_run

from cnnlab.cli import main


def test_plot_curves_only(tmp_path, capsys):
    run = write_run(tmp_path / "r")
    assert main(["plot", str(run), "--curves-only"]) == 0
    out = capsys.readouterr().out
    assert out == f"wrote {run}/plots/training_curves.png\n"  # PNG unless --svg: drawing is the cost
    assert main(["plot", str(run), "--curves-only", "--svg"]) == 0
    assert capsys.readouterr().out == (f"wrote {run}/plots/training_curves.png\n"
                                       f"wrote {run}/plots/training_curves.svg\n")


def test_plot_everything_with_notes_on_stderr(tmp_path, capsys):
    run = write_run(tmp_path / "r", rows=history_rows(3), metrics=False)
    assert main(["plot", str(run)]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"wrote {run}/plots/{stem}.png" for stem in ("training_curves", "samples")]
    assert captured.err.splitlines() == [  # one note says it all for a run still training
        "cnnlab: note: no metrics.json yet: training is still going after 3 epochs; showing what exists so far",
    ]
    finished = write_run(tmp_path / "f")
    assert main(["plot", str(finished)]) == 0
    assert capsys.readouterr().err == "cnnlab: note: no model.safetensors in the run folder: no mistakes grid\n"


def test_report_to_another_file(tmp_path, capsys):
    run = write_run(tmp_path / "r", metrics=False)
    out = tmp_path / "elsewhere" / "report.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"  # notes go to stderr
    assert out.read_text().startswith("<!DOCTYPE html>") and not (run / "index.html").exists()


def test_not_a_run_exits_2_with_one_line(tmp_path, capsys):
    for command in (["plot", str(tmp_path)], ["report", str(tmp_path)],
                    ["compare", str(tmp_path), str(tmp_path)]):
        assert main(command) == 2
        assert capsys.readouterr().err == (f"cnnlab: error: {tmp_path} is not a run folder: it has no "
                                           "config.json (cnnlab train writes one when a run starts)\n")


def test_compare_prints_and_writes(tmp_path, capsys, monkeypatch):
    a = write_run(tmp_path / "a", rows=history_rows(6))
    b = write_run(tmp_path / "b", rows=history_rows(9, overfit_after=3))
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("run  model ") and out.endswith("\nwrote compare.html\n")
    assert (tmp_path / "compare.html").is_file() and (tmp_path / "compare_plots").is_dir()
    assert main(["compare", str(a), "--text-only"]) == 2
    assert capsys.readouterr().err == ("cnnlab: error: compare needs at least two run folders, "
                                       "e.g. cnnlab compare runs/a runs/b\n")


def test_compare_and_curves_need_no_torch(tmp_path):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b")
    code = ("import sys; from cnnlab.cli import main; "
            f"main(['compare', '{a}', '{b}', '--text-only']); main(['plot', '{a}', '--curves-only']); "
            "sys.exit('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
