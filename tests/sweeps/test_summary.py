"""mean ± std per setting, the best setting, and the plain-text table."""

import pytest

from cnnlab.sweeps.summary import RunResult, best_setting, stat, summarize, text_table, within_noise


def result(setting, seed, loss, accuracy):
    values = {"final_val_loss": loss, "best_val_loss": loss, "final_val_accuracy": accuracy,
              "best_val_accuracy": accuracy}
    return RunResult(f"{setting},seed={seed}", setting, seed, values, 3, 10.0)


def test_std_is_the_sample_std_and_absent_for_one_run():
    assert stat([1.0, 2.0, 3.0]).std == pytest.approx(1.0)
    assert stat([0.5]).std is None and stat([0.5]).text() == "0.5000 ± –"


def test_best_setting_by_mean_final_metric_and_the_ones_within_noise():
    results = [result("a", 0, 0.44, 0.80), result("a", 1, 0.48, 0.82),
               result("b", 0, 0.40, 0.84), result("b", 1, 0.46, 0.80),
               result("c", 0, 0.90, 0.60), result("c", 1, 0.92, 0.61)]
    groups = [(s, ((("dropout"), i),)) for i, s in enumerate("abc")]
    summaries = summarize(groups, results)
    assert best_setting(summaries, "val_loss").setting == "b"
    assert best_setting(summaries, "val_accuracy").setting == "b"  # 0.82 vs 0.81
    assert [s.setting for s in within_noise(summaries[1], summaries, "val_loss")] == ["a"]
    table = text_table(summaries).splitlines()
    assert table[0].split()[:4] == ["setting", "runs", "final", "val_loss"]
    assert table[3].startswith("b ") and "0.4300 ± 0.0424" in table[3]
