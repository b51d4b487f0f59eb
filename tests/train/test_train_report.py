"""A trained run's pictures: the mistakes grid comes from the saved model's predictions, which
the training stage hands to the report stage (report/ never runs a model itself)."""

from helpers.training import FAST

import cnnlab
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


def test_python_report_draws_mistakes_only_with_a_predictor(workdir, cli):
    code, _, err = cli("train", "tiny.txt", "--dataset", "digits", "--epochs", "1", "--name", "r", *FAST)
    assert code == 0, err
    page = write_run_report("runs/r", formats=("png",)).read_text()
    assert "Most confident mistakes" not in page
    assert ("could not predict with the saved model (no predictor was given; pass "
            "predict=cnnlab.predict to draw the mistakes grid); no mistakes grid") in page
    page = write_run_report("runs/r", formats=("png",), predict=cnnlab.predict).read_text()
    assert "<h2>Most confident mistakes</h2>" in page and "no predictor" not in page
