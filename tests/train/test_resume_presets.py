"""Every preset resumes exactly: 1 epoch, then `--resume --epochs 3`, gives the history of an
uninterrupted 3-epoch run (fp32, one thread, same seed).

RGB images matter: a weight with several input channels has a channels_last layout that
differs from the contiguous one its checkpoint holds, and its optimizer moments must be
restored in the weight's layout.
"""

from pathlib import Path

import numpy as np
import pytest
from helpers.training import metric_columns, read_history
from PIL import Image

from cnnlab.models.layers import ModelError
from cnnlab.models.presets import PRESETS

ARGS = ["--dataset", "rgb", "--threads", "1", "--precision", "fp32", "--quiet", "--batch-size", "8"]


def write_rgb_folder(root: Path, per_class=(16, 4), size=32) -> Path:
    rng = np.random.default_rng(0)
    for split, count in zip(("train", "test"), per_class):
        for c in ("a", "b", "c"):
            (root / split / c).mkdir(parents=True)
            for k in range(count):
                Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(root / split / c / f"{k}.png")
    return root


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_resumes_exactly(preset, tmp_path, monkeypatch, cli):
    try:
        PRESETS[preset].spec((32, 32, 3), 3)
    except ModelError as e:  # the lesson's parameter-count questions, not classifiers
        pytest.skip(f"{preset} does not train: {e}")
    monkeypatch.chdir(tmp_path)
    write_rgb_folder(tmp_path / "rgb")
    code, _, err = cli("train", preset, *ARGS, "--epochs", "3", "--name", "whole")
    assert code == 0, err
    code, _, err = cli("train", preset, *ARGS, "--epochs", "1", "--name", "parts")
    assert code == 0, err
    code, _, err = cli("train", "--resume", "runs/parts", "--epochs", "3", "--quiet")
    assert code == 0, err
    whole, parts = (metric_columns(read_history(tmp_path / "runs" / n)) for n in ("whole", "parts"))
    assert len(whole) == 3 and parts == whole


def test_a_checkpoint_whose_tensors_do_not_fit_the_model_is_refused(tmp_path, monkeypatch, cli):
    from safetensors.torch import load_file, save_file

    monkeypatch.chdir(tmp_path)
    write_rgb_folder(tmp_path / "rgb")
    assert cli("train", "cifar_model_small", *ARGS, "--epochs", "1", "--name", "r")[0] == 0
    path = tmp_path / "runs" / "r" / "checkpoint" / "last.safetensors"
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
    tensors = load_file(str(path))
    moment = next(k for k in tensors if k.startswith("optimizer/") and tensors[k].dim() > 0)
    tensors[moment] = tensors[moment].flatten()[:1].clone()
    save_file(tensors, str(path), metadata=metadata)
    code, _, err = cli("train", "--resume", "runs/r", "--epochs", "2", "--quiet")
    assert code == 2
    assert err.startswith("cnnlab: error: ") and err.count("\n") == 1 and moment in err
