"""The Keras-like progress display."""

import io

from cnnlab.train.callbacks import ProgressBar, format_duration


def test_live_bar_then_epoch_line():
    stream = io.StringIO()
    bar = ProgressBar(stream, live=True)
    bar.on_train_begin(None, epochs=2)
    bar.on_epoch_begin(0, steps=1563)
    bar.on_progress(47, 1563, 2.29411, 0.12361)
    bar.on_epoch_end(0, {"epoch": 1, "loss": 1.71, "accuracy": 0.376, "val_loss": 1.38,
                         "val_accuracy": 0.5079, "seconds": 12.2})
    text = stream.getvalue()
    assert text.startswith("Epoch 1/2\n\r  47/1563 " + "─" * 20 + " ")
    assert "- loss: 2.2941 - accuracy: 0.1236" in text
    last = text.split("\r")[-1]
    assert last.startswith("1563/1563 ━━━━━━━━━━━━━━━━━━━━ 12s 8ms/step - loss: 1.7100 - accuracy: 0.3760 - "
                           "val_loss: 1.3800 - val_accuracy: 0.5079")


def test_log_mode_prints_one_line_per_epoch():
    stream = io.StringIO()
    bar = ProgressBar(stream, live=False)
    bar.on_train_begin(None, epochs=10)
    bar.on_epoch_begin(2, steps=10)
    bar.on_progress(5, 10, 1.0, 0.5)
    bar.on_epoch_end(2, {"epoch": 3, "loss": 0.5, "accuracy": 0.9, "seconds": 3.25})
    assert stream.getvalue() == "Epoch 3/10 - 3.2s - loss: 0.5000 - accuracy: 0.9000\n"


def test_durations_like_keras():
    assert [format_duration(s) for s in (7, 65, 3723)] == ["7s", "1:05", "1:02:03"]
