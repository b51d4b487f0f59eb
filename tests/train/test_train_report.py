"""A trained run's pictures: the mistakes grid comes from the final model's predictions, kept in
metrics.json at the end of training or asked of the saved model through the training stage's
predict (report/ never runs a model itself)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers.training import FAST

import cnnlab
from cnnlab.report.mistakes import most_confident_mistakes
from cnnlab.report.plots import plot_history
from cnnlab.report.run_report import write_run_report


def test_plot_and_report_draw_the_mistakes_of_the_saved_model(workdir, cli):
    code, _, err = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "1", "--name", "r", *FAST)
    assert code == 0, err
    code, out, err = cli("plot", "runs/r")
    assert (code, err) == (0, "")
    assert "wrote runs/r/plots/mistakes.png\n" in out
    code, out, err = cli("report", "runs/r")
    assert (code, out, err) == (0, "wrote runs/r/index.html\n", "")
    assert "<h2>Most confident mistakes</h2>" in (workdir / "runs/r/index.html").read_text()


def test_a_trained_run_keeps_its_mistakes_so_a_report_runs_no_model(workdir, cli):
    code, _, err = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "1", "--name", "r", *FAST)
    assert code == 0, err
    metrics = json.loads((workdir / "runs/r/metrics.json").read_text())
    kept = metrics["mistakes"]
    (_, _), (x, y) = cnnlab.load_dataset("digits")
    index, predicted, probability = most_confident_mistakes(np.arange(len(y)), cnnlab.predict("runs/r", x), y)
    assert (kept["index"], kept["predicted"]) == (index.tolist(), predicted.tolist())  # what the model says
    assert kept["probability"] == pytest.approx(probability.tolist(), abs=1e-6) and len(index) == 18
    code = ("import sys; from cnnlab.cli import main; main(['report', 'runs/r']); "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.splitlines() == ["wrote runs/r/index.html", "False"], done.stderr
    assert "<h2>Most confident mistakes</h2>" in (workdir / "runs/r/index.html").read_text()
    # a run without them (evaluated again, or older) needs the model: from Python, a predictor
    del metrics["mistakes"]
    (workdir / "runs/r/metrics.json").write_text(json.dumps(metrics))
    page = write_run_report("runs/r", formats=("png",)).read_text()
    assert "Most confident mistakes" not in page
    assert ("could not predict with the saved model (no predictor was given; pass "
            "predict=cnnlab.predict to draw the mistakes grid); no mistakes grid") in page
    page = write_run_report("runs/r", formats=("png",), predict=cnnlab.predict).read_text()
    assert "<h2>Most confident mistakes</h2>" in page and "no predictor" not in page


def test_train_draws_its_curves_in_a_painter_and_never_loads_matplotlib(workdir):
    # matplotlib loads in the painter on the other core while this process loads torch (the
    # core is said to be free: whether it is depends on the other jobs of the moment)
    code = ("import sys, cnnlab.report.painter as p; p.spare_core = lambda: True; from cnnlab.cli import main; "
            f"code = main(['train', 'tiny.txt', '--dataset', 'digits', '--epochs', '1', '--quiet', '--name', 'r', {', '.join(map(repr, FAST))}]); "
            "print(code, 'matplotlib' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.splitlines()[-1] == "0 False", done.stderr
    curves = workdir / "runs/r/plots/training_curves.png"
    painted = curves.read_bytes()
    assert plot_history("runs/r") == [curves.relative_to(workdir)] and curves.read_bytes() == painted
