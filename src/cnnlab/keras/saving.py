"""`model.save` in cnnlab's safe format (loading.py reads it back), and Keras-ordered weights.

A saved model is a folder `name.cnnlab` holding model.json (the layers as cnnlab's ModelSpec,
the input's name, the compile settings) and model.safetensors (the weights): loading it runs
no code from the file. Keras's own `.keras` and `.h5` files are refused, since reading them
means reading what Keras pickles or configures beyond cnnlab's layers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from cnnlab.models.layers import ModelError

SUFFIX = ".cnnlab"
FORMAT = "cnnlab.keras/1"


def check_path(filepath) -> Path:
    path = Path(os.fspath(filepath))
    if path.suffix in (".keras", ".h5", ".hdf5") or str(path).endswith(".weights.h5"):
        raise ModelError(
            f"{path}: cnnlab.keras does not write or read Keras's {path.suffix} files; it saves in "
            f"its own safe format, a folder ending in {SUFFIX} (e.g. model.save('my_model{SUFFIX}'))"
        )
    if path.suffix != SUFFIX:
        raise ModelError(f"{path}: give a name ending in {SUFFIX}, e.g. 'my_model{SUFFIX}'")
    return path


def keras_weights(net) -> list[np.ndarray]:
    """The weights in Keras's order and layout: kernels (kh, kw, in, out) and (in, out)."""
    out = []
    for name, tensor in net.state_dict().items():
        if name.endswith("num_batches_tracked"):
            continue
        value = tensor.detach().float().cpu()
        if value.dim() == 4:
            value = value.permute(2, 3, 1, 0)
        elif value.dim() == 2:
            value = value.t()
        out.append(value.contiguous().numpy())
    return out


def set_keras_weights(net, weights) -> None:
    import torch

    weights = list(weights)
    targets = [(n, t) for n, t in net.state_dict().items() if not n.endswith("num_batches_tracked")]
    if len(weights) != len(targets):
        raise ValueError(f"the model has {len(targets)} weight arrays, {len(weights)} were given")
    with torch.no_grad():
        for (name, target), value in zip(targets, weights):
            value = torch.as_tensor(np.asarray(value, dtype=np.float32))
            if value.dim() == 4:
                value = value.permute(3, 2, 0, 1)
            elif value.dim() == 2:
                value = value.t()
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"weight {name}: shape {tuple(value.shape)} does not fit {tuple(target.shape)}")
            target.copy_(value)


def save_model(model, filepath, overwrite: bool = True) -> None:
    from safetensors.torch import save_file

    from cnnlab.files import atomic_write

    path = check_path(filepath)
    if path.exists() and not overwrite:
        raise ModelError(f"{path} exists; pass overwrite=True to replace it")
    if path.exists() and not (path / "model.json").is_file():
        raise ModelError(f"{path} exists and is not a saved cnnlab.keras model; choose another name")
    path.mkdir(parents=True, exist_ok=True)
    net = model._ensure_net()
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(path / "model.safetensors"))
    info = {
        "format": FORMAT,
        "kind": type(model).__name__,
        "input_name": model._input_layer.name,
        "spec": model.spec().to_dict(),
        "compile": _compile_config(model),
    }
    atomic_write(path / "model.json", json.dumps(info, indent=2) + "\n")


def _compile_config(model) -> dict | None:
    if not model.compiled:
        return None
    return {
        "optimizer": model.optimizer._engine_name,
        "learning_rate": model.optimizer.learning_rate,
        "from_logits": model.loss.from_logits,
        "metrics": list(model._metrics),
    }
