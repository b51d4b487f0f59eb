"""Keras 3's `.keras` file and `.weights.h5` file, written and read by cnnlab.keras.

A `.keras` file is a zip archive of three members, stored uncompressed as Keras writes them:
metadata.json (the version that wrote it, the date), config.json (the model serialized as
keras_config.py writes it) and model.weights.h5, an HDF5 file where each layer's arrays sit
in `layers/<snake_case class>[_n]/vars/0, 1, ...` in Keras's layout (kernels (kh, kw, in, out)
and (in, out); BatchNormalization gamma, beta, moving mean, moving variance), the optimizer's
in `optimizer/vars` and the model's own (none) in `vars`. A `.weights.h5` file is that HDF5
file alone.

Reading is defensive, since a model file may come from anywhere: only those three members are
read, each size is bounded before a byte is decompressed, the config is parsed as JSON data
only, HDF5 links and external or virtual datasets are refused, and every array's shape is
checked against the model the config describes before it is read.
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from cnnlab.keras.keras_config import KerasFileError, model_config, weights_group_names

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
KERAS_VERSION = "3.0.0-cnnlab"  # cnnlab.keras.__version__, which this module cannot import
_TEXT_LIMIT = 16 * 2**20  # config.json and metadata.json: far above any model cnnlab builds
_H5_OVERHEAD = 2**20 + 16 * 2**10  # per file, plus per group: HDF5's headers around the arrays
_ARCHIVE_LIMIT = 2**34  # refuse to open anything larger as a model


# --- Keras's layout of cnnlab's weights ----------------------------------------

def keras_weights(net) -> list[np.ndarray]:
    """The weights in Keras's order and layout: kernels (kh, kw, in, out) and (in, out)."""
    return [keras_layout(tensor) for name, tensor in net.state_dict().items()
            if not name.endswith("num_batches_tracked")]


def keras_layout(tensor) -> np.ndarray:
    """One torch weight (or a slot of its optimizer) as Keras holds it."""
    value = tensor.detach().float().cpu()
    if value.dim() == 4:
        value = value.permute(2, 3, 1, 0)
    elif value.dim() == 2:
        value = value.t()
    return value.numpy().copy()  # a copy, as Keras gives: a view would change as training goes on


def torch_layout(value):
    """One array in Keras's layout as the torch tensor cnnlab's module holds."""
    import torch

    tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if tensor.dim() == 4:
        return tensor.permute(3, 2, 0, 1)
    return tensor.t() if tensor.dim() == 2 else tensor


def set_keras_weights(net, weights) -> None:
    import torch

    weights = list(weights)
    targets = [(n, t) for n, t in net.state_dict().items() if not n.endswith("num_batches_tracked")]
    if len(weights) != len(targets):
        raise ValueError(f"the model has {len(targets)} weight arrays, {len(weights)} were given")
    with torch.no_grad():
        for (name, target), value in zip(targets, weights):
            value = torch_layout(value)
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"weight {name}: shape {tuple(value.shape)} does not fit {tuple(target.shape)}")
            target.copy_(value)


# --- writing ------------------------------------------------------------------------------

def keras_archive(model) -> bytes:
    """The bytes of `model.save('name.keras')`: metadata, config and weights in a zip."""
    config = json.dumps(model_config(model))
    metadata = json.dumps({"keras_version": KERAS_VERSION,
                           "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(METADATA, metadata)
        archive.writestr(CONFIG, config)
        archive.writestr(WEIGHTS, weights_h5(model))
    return buffer.getvalue()


def weights_h5(model) -> bytes:
    """The model's weights (and the optimizer's, as Keras keeps them) as Keras's HDF5 file."""
    import h5py

    arrays = iter(keras_weights(model._ensure_net()))
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_group("vars").attrs["name"] = model.name
        for layer, group in weights_group_names(model):
            target = h5.create_group(group).create_group("vars")
            target.attrs["name"] = layer.name
            for i in range(_array_count(layer)):
                target[str(i)] = next(arrays)
        if model.compiled:
            target = h5.create_group("optimizer").create_group("vars")
            target.attrs["name"] = model.optimizer.name
            for i, value in enumerate(optimizer_arrays(model)):
                target[str(i)] = value
    return buffer.getvalue()


_SLOTS = {"adam": ("exp_avg", "exp_avg_sq"), "rmsprop": ("square_avg",), "sgd": ()}


def optimizer_arrays(model) -> list[np.ndarray]:
    """Keras's optimizer variables: the step count, the learning rate, then for each trainable
    weight its slots (Adam: momentum, velocity; RMSprop: velocity), in Keras's layout.

    The slots come from the engine's torch optimizer, whose running averages are Keras's
    momentum and velocity; before the first step there are none, as in Keras before training.
    """
    trainer = model._trainer
    engine = trainer.optimizer if trainer is not None else None
    params = list(trainer.net.parameters()) if trainer is not None else []
    states = [engine.state.get(p) for p in params] if engine is not None else []
    head = [np.int32(0), np.float32(model.optimizer.learning_rate)]
    if not states or not all(states):
        return head
    head[0] = np.int32(int(states[0].get("step", 0)))
    slots = [keras_layout(state[slot]) for state in states for slot in _SLOTS[model.optimizer._engine_name]]
    return head + slots


def restore_optimizer(model, data: bytes) -> None:
    """Keras's saved optimizer variables into the engine's optimizer, as Keras restores them
    when it compiles a loaded model; a file saved before training holds only the step count
    and the rate (Keras's optimizer before it is built), and the optimizer then starts afresh."""
    import h5py
    import torch

    trainer = model._engine()  # Keras builds the optimizer when it compiles a loaded model
    params = list(trainer.net.parameters())
    slots = _SLOTS[model.optimizer._engine_name]
    count = 2 + len(slots) * len(params)
    try:
        with h5py.File(io.BytesIO(data), "r") as h5:
            group = _vars_group(h5, "optimizer", None, required=False)
            if group is None or not slots or sorted(group.keys()) != sorted(map(str, range(count))):
                return
            step = _dataset(group, "0", (), "the optimizer's step count", "optimizer", kinds="iuf")
            values = [_dataset(group, str(2 + i), keras_layout(params[i // len(slots)]).shape,
                               f"optimizer variable {2 + i}", "optimizer")
                      for i in range(count - 2)]
    except KerasFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, OverflowError) as e:
        raise KerasFileError(f"{WEIGHTS} is not a readable HDF5 file ({type(e).__name__}: {e})") from None
    if not (np.isfinite(step) and 0 <= step < 2**31):
        raise KerasFileError(f"the optimizer's step count {step} is not a count")
    with torch.no_grad():
        for i, param in enumerate(params):
            state = {"step": torch.tensor(float(step), dtype=torch.float32, device=param.device)}
            for j, slot in enumerate(slots):
                state[slot] = torch.empty_like(param).copy_(torch_layout(values[i * len(slots) + j]))
            trainer.optimizer.state[param] = state


def _array_count(layer) -> int:
    kind = getattr(layer, "_kind", "")
    if kind in ("Conv2D", "Dense"):
        return 2 if layer._spec.args["use_bias"] else 1
    return 4 if kind == "BatchNormalization" else 0


# --- reading ------------------------------------------------------------------------------

def read_config(archive: zipfile.ZipFile) -> dict[str, Any]:
    """config.json of an archive from `open_archive`, as JSON data."""
    return _parse_json(_read_member(archive, CONFIG, _TEXT_LIMIT), CONFIG)


def read_weights_member(archive: zipfile.ZipFile, model) -> bytes:
    """model.weights.h5 of an archive, refused when far larger than `model`'s weights."""
    return _read_member(archive, WEIGHTS, _weights_limit(model))


def weights_from_archive(path: Path, model) -> bytes:
    """The model.weights.h5 member of a `.keras` file, for `model.load_weights`."""
    with open_archive(path) as archive:
        return read_weights_member(archive, model)


def read_weights_file(path: Path, model) -> bytes:
    """A `.weights.h5` file's bytes, refused when far larger than the model's weights."""
    size = path.stat().st_size
    if size > _weights_limit(model):
        raise KerasFileError(f"{size:,} bytes, far more than the weights of model {model.name!r}")
    return path.read_bytes()


def _weights_limit(model) -> int:
    layers = len(model.layers) + 3
    # float32 weights and at most two optimizer slots each (Adam's momentum and velocity)
    return 4 * 3 * model.report().total + _H5_OVERHEAD + 16 * 2**10 * layers


def open_archive(path: Path) -> zipfile.ZipFile:
    """The zip archive of a `.keras` file, its member names checked."""
    if path.stat().st_size > _ARCHIVE_LIMIT:
        raise KerasFileError(f"{path.stat().st_size:,} bytes, too large for a model cnnlab loads")
    try:
        archive = zipfile.ZipFile(path)
        infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError) as e:
        raise KerasFileError(f"not a complete .keras file (a zip archive): {e}; it may be "
                             "truncated: save the model again") from None
    names = [info.filename for info in infos]
    for name in names:
        if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/") or ":" in name:
            archive.close()
            raise KerasFileError(f"member {name!r} points outside the archive; a .keras file "
                                 "never holds such a name")
    unknown = sorted(set(names) - {CONFIG, METADATA, WEIGHTS})
    if unknown or len(names) != len(set(names)):
        archive.close()
        raise KerasFileError(
            f"members {unknown or sorted(n for n in names if names.count(n) > 1)} are not part of a "
            f".keras file cnnlab can load ({METADATA}, {CONFIG}, {WEIGHTS}, each once)"
        )
    return archive


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise KerasFileError(f"the archive has no {name}; it is not a Keras 3 .keras file") from None
    if info.flag_bits & 0x1:
        raise KerasFileError(f"{name} is encrypted; a .keras file never is")
    if info.file_size > limit:
        raise KerasFileError(f"{name} declares {info.file_size:,} bytes, more than the "
                             f"{limit:,} a model like this one needs; refusing to decompress it")
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, ValueError) as e:
        raise KerasFileError(f"{name} is damaged ({e}); the file may be truncated") from None
    if len(data) != info.file_size:
        raise KerasFileError(f"{name} holds {len(data):,} bytes, not the {info.file_size:,} declared")
    return data


def _parse_json(data: bytes, name: str) -> dict[str, Any]:
    def refuse_constant(value):
        raise ValueError(f"{value} is not a JSON number")

    try:
        value = json.loads(data.decode("utf-8"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise KerasFileError(f"{name} is not valid JSON ({str(e)[:100]})") from None
    if not isinstance(value, dict):
        raise KerasFileError(f"{name} should hold a JSON object")
    return value


def set_weights_from_h5(model, data: bytes) -> None:
    """Check every array of a Keras weights file against `model`, then set them all."""
    import h5py

    expected = iter(keras_weights(model._ensure_net()))
    arrays = []
    try:
        with h5py.File(io.BytesIO(data), "r") as h5:
            for layer, group in weights_group_names(model):
                count = _array_count(layer)
                if count == 0:
                    continue
                found = _vars_group(h5, group, layer)
                keys = sorted(found.keys())
                if keys != sorted(str(i) for i in range(count)):
                    raise KerasFileError(f"layer {layer.name!r} ({layer._kind}): {group}/vars holds "
                                         f"{keys}, the layer has {count} arrays (0..{count - 1})")
                for i in range(count):
                    what = f"layer {layer.name!r} ({layer._kind}) weight {i}"
                    arrays.append(_dataset(found, str(i), next(expected).shape, what, group))
    except KerasFileError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, OverflowError, IndexError,
            AttributeError) as e:  # what h5py raises on damaged bytes
        raise KerasFileError(f"{WEIGHTS} is not a readable HDF5 file ({type(e).__name__}: {e})") from None
    set_keras_weights(model._ensure_net(), arrays)


def _vars_group(h5, group: str, layer, required: bool = True):
    """`group/vars` (None when missing and not `required`), refusing links on the way."""
    import h5py

    node = h5
    for part in [*group.split("/"), "vars"]:
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None and not required:
            return None
        if link is None:
            raise KerasFileError(f"the weights have no {group}/vars for layer {layer.name!r} "
                                 f"({layer._kind}); the file was saved from another model")
        if not isinstance(link, h5py.HardLink):
            raise KerasFileError(f"{group}: links inside the weights file are refused")
        node = node[part]
    if not isinstance(node, h5py.Group):
        raise KerasFileError(f"{group}/vars is not an HDF5 group")
    return node


def _dataset(group, key: str, shape: tuple, what: str, where: str, kinds: str = "f") -> np.ndarray:
    """`group[key]` read as float32 once it is a plain array of `shape` (`what` names it)."""
    import h5py

    if not isinstance(group.get(key, getlink=True), h5py.HardLink):
        raise KerasFileError(f"{where}/vars/{key}: links inside the weights file are refused")
    dataset = group[key]
    if not isinstance(dataset, h5py.Dataset) or dataset.external or dataset.is_virtual:
        raise KerasFileError(f"{where}/vars/{key}: only plain arrays stored in the file are read")
    if tuple(dataset.shape) != tuple(shape):
        raise KerasFileError(f"{what}: shape {tuple(dataset.shape)} in the file, {tuple(shape)} in the model")
    if dataset.dtype.kind not in kinds:
        raise KerasFileError(f"{where}/vars/{key}: {dataset.dtype} values where numbers belong")
    return np.asarray(dataset[()], dtype=np.float32)
