"""Helpers for the sweep tests: a tiny model with a Dropout layer and fast flags."""

# one small Conv2D and a Dropout on digits (8x8): a run of one epoch takes well under a second
TINY_DROPOUT_MODEL = """\
Conv2D(8, (3, 3), activation='relu')
Dropout(0.2)
Flatten()
Dense(10)
"""
FAST = ["--epochs", "1", "--precision", "fp32"]
