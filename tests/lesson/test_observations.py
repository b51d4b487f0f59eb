"""The lesson's observations on synthetic runs: sentences that read right for either sign."""

from helpers.runs import TINY_MODEL, history_rows, write_run

from cnnlab.lesson.observations import _dropout
from cnnlab.report.compare import load_rows


def test_dropout_sentence_when_validation_is_above_training(tmp_path):
    dropout = write_run(tmp_path / "d", rows=history_rows(12, val_shift=-0.08),
                        model={**TINY_MODEL, "name": "cifar_model_dropout"})
    plain = write_run(tmp_path / "c", rows=history_rows(12, val_shift=0.01), model={**TINY_MODEL, "name": "cifar_model"})
    by_model = {r.model: r for r in load_rows([dropout, plain])}
    assert _dropout("digits", by_model) == (
        "On digits, at the last epoch with Dropout(0.2) val_accuracy exceeds training accuracy by 3.7 points; "
        "without it training accuracy exceeds val_accuracy by 5.3 points: dropout narrows the gap; "
        "test accuracy 83.3% with dropout, 83.3% without.")
