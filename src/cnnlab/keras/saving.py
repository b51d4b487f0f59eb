"""`model.save` and `model.save_weights` (loading.py reads them back).

Two formats, both safe to load (no code from the file runs):

- `model.save('name.keras')`: Keras 3's own format (keras_format.py), a zip of config.json,
  metadata.json and model.weights.h5 that real Keras loads with `keras.saving.load_model`,
  and that cnnlab.keras loads from files Keras wrote, for the layers cnnlab supports.
- `model.save('name.cnnlab')`: cnnlab's folder of model.json (the layers as cnnlab's
  ModelSpec, the input's name, the compile settings) and model.safetensors (the weights).

`model.save_weights('name.weights.h5')` writes the weights alone in Keras's HDF5 layout, which
`model.load_weights` reads back (also from a `.keras` file). Keras 2's legacy `.h5`/`.hdf5`
files are refused: they are a different format. Files are written to a temp file and renamed,
so an interrupted save leaves any earlier file whole. As in Keras, an existing file is
replaced (`overwrite=True`); `overwrite=False` refuses instead of asking, as a notebook cannot
answer a prompt. `keras_weights` / `set_keras_weights` (Keras's order and layout of the
weights, for get_weights / set_weights) live in keras_format.py and are named here too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cnnlab.keras import keras_format
from cnnlab.keras.keras_format import keras_layout, keras_weights, set_keras_weights
from cnnlab.models.layers import ModelError

SUFFIX = ".cnnlab"
KERAS_SUFFIX = ".keras"
WEIGHTS_SUFFIX = ".weights.h5"
FORMAT = "cnnlab.keras/1"
__all__ = ["check_path", "keras_layout", "keras_weights", "load_weights", "save_model",
           "save_weights", "set_keras_weights"]


def check_path(filepath) -> Path:
    """A model file name: `name.keras` (Keras's format) or `name.cnnlab` (cnnlab's folder)."""
    path = Path(os.fspath(filepath))
    if path.name.endswith(WEIGHTS_SUFFIX):
        raise ModelError(
            f"{path}: a {WEIGHTS_SUFFIX} file holds weights only: write it with "
            f"model.save_weights('{path.name}') and read it into a model built the same way with "
            f"model.load_weights('{path.name}'); a whole model is saved as 'my_model{KERAS_SUFFIX}'"
        )
    if path.suffix in (".h5", ".hdf5"):
        raise ModelError(
            f"{path}: Keras 2's legacy {path.suffix} model files are not supported by cnnlab.keras; "
            f"save as Keras 3 does, model.save('my_model{KERAS_SUFFIX}'), or only the weights, "
            f"model.save_weights('my_model{WEIGHTS_SUFFIX}')"
        )
    if path.suffix not in (SUFFIX, KERAS_SUFFIX):
        raise ModelError(
            f"{path}: give a name ending in {KERAS_SUFFIX} (Keras's format) or {SUFFIX} "
            f"(cnnlab's folder), e.g. 'my_model{KERAS_SUFFIX}'"
        )
    return path


def check_weights_path(filepath, what: str) -> Path:
    path = Path(os.fspath(filepath))
    if not path.name.endswith(WEIGHTS_SUFFIX) and not (what == "load" and path.suffix == KERAS_SUFFIX):
        raise ModelError(
            f"{path}: the filename must end in `{WEIGHTS_SUFFIX}`"
            + (f" (or {KERAS_SUFFIX}, a whole saved model)" if what == "load" else "")
            + f", e.g. model.{what}_weights('my_model{WEIGHTS_SUFFIX}')"
        )
    return path


def save_model(model, filepath, overwrite: bool = True) -> None:
    path = check_path(filepath)
    if path.exists() and not overwrite:
        raise ModelError(f"{path} exists; pass overwrite=True to replace it")
    if path.suffix == KERAS_SUFFIX:
        _write_file(path, lambda: keras_format.keras_archive(model))
    else:
        _save_folder(model, path)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """`model.save_weights('name.weights.h5')`: the weights in Keras's HDF5 layout."""
    path = check_weights_path(filepath, "save")
    if path.exists() and not overwrite:
        raise ModelError(f"{path} exists; pass overwrite=True to replace it")
    _write_file(path, lambda: keras_format.weights_h5(model))


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """`model.load_weights`: from a `.weights.h5` file or a `.keras` file, every shape checked."""
    path = check_weights_path(filepath, "load")
    if skip_mismatch:
        raise ModelError("load_weights(skip_mismatch=True) is not supported by cnnlab.keras")
    if not path.is_file():
        raise ModelError(f"{path}: no such file")
    try:
        if path.suffix == KERAS_SUFFIX:
            data = keras_format.weights_from_archive(path, model)
        else:
            data = keras_format.read_weights_file(path, model)
        keras_format.set_weights_from_h5(model, data)
    except keras_format.KerasFileError as e:
        raise type(e)(f"{path}: {e}") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read it ({e.strerror or e})") from None


def _write_file(path: Path, make_bytes) -> None:
    from cnnlab.files import atomic_write

    if path.is_dir():
        raise ModelError(f"{path} is a folder; choose another name for the file")
    atomic_write(path, make_bytes())  # made in full before the file is touched


def _save_folder(model, path: Path) -> None:
    from safetensors.torch import save as tensor_bytes

    from cnnlab.files import atomic_write

    if path.exists() and not (path / "model.json").is_file():
        raise ModelError(f"{path} exists and is not a saved cnnlab.keras model; choose another name")
    path.mkdir(parents=True, exist_ok=True)
    net = model._ensure_net()
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    atomic_write(path / "model.safetensors", tensor_bytes(state))  # an earlier save stays whole until then
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
        "loss": type(model.loss).__name__,
        "from_logits": model.loss.from_logits,
        "metrics": list(model._metrics),
    }
