"""The digits come from scikit-learn's data file without importing scikit-learn."""

import subprocess
import sys

import numpy as np


def test_digits_equal_scikit_learns_and_need_no_sklearn_import():
    from sklearn.datasets import load_digits

    from cnnlab.datasets.api import _digits

    images, target = _digits()
    digits = load_digits()
    assert np.array_equal(images, digits.images) and np.array_equal(target, digits.target)
    # nor the file lock (digits are no download) or Pillow (no image folder): every train pays for imports
    code = ("import sys, cnnlab; cnnlab.load_dataset('digits'); "
            "print([m for m in ('sklearn', 'filelock', 'PIL') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "[]", done.stderr
