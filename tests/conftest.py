import os

# Keras is the oracle in tests; its torch backend needs no TensorFlow.
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("MPLBACKEND", "Agg")

# CI replays the same examples every run (a red build must mean a change broke something);
# locally hypothesis explores new examples each time.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
