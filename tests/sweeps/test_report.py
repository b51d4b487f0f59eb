"""The sweep plot: the first axis along x (log for values a factor apart), a line per value of
the others, error bars of one std."""

import pytest

from cnnlab.sweeps.report import sweep_figure
from cnnlab.sweeps.summary import RunResult, summarize


def summaries(first, second):
    results, groups = [], []
    for a in first:
        for b in second:
            label = f"lr={a},dropout={b}"
            groups.append((label, (("lr", a), ("dropout", b))))
            for seed, loss in enumerate((0.5, 0.7)):
                values = {"final_val_loss": loss * a * 100, "final_val_accuracy": 0.8}
                results.append(RunResult(f"{label},seed={seed}", label, seed, values, 2, 1.0))
    return summarize(groups, results)


def test_one_line_per_other_value_and_log_x_for_rates():
    fig = sweep_figure(summaries([1e-3, 1e-2, 1e-1], [0.1, 0.5]), ["lr", "dropout"])
    loss_axes = fig.axes[0]
    assert loss_axes.get_xscale() == "log" and loss_axes.get_xlabel() == "lr"
    assert [t.get_text() for t in loss_axes.get_legend().get_texts()] == ["dropout=0.1", "dropout=0.5"]
    assert len(loss_axes.containers) == 2  # errorbar containers, one per dropout value
    mean_line = loss_axes.containers[0].lines[0]
    assert list(mean_line.get_ydata()) == pytest.approx([0.06, 0.6, 6.0])  # the mean of the two seeds


def test_a_linear_axis_for_nearby_values():
    fig = sweep_figure(summaries([0.1, 0.3], [0.5]), ["lr", "dropout"])
    assert fig.axes[0].get_xscale() == "linear" and fig.axes[0].get_legend() is None
