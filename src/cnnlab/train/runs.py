"""The run folder: everything one `cnnlab train` produced, readable without cnnlab.

    runs/<name>/
      config.json        what is needed to rerun it: "model" (ModelSpec.to_dict()), "model_ref",
                         "dataset" (name, input_shape, num_classes, class_names, sizes,
                         pixel_mean), "settings" (TrainSettings), "seed", "precision", "device",
                         "threads", "kernels" (training step: direct or autograd; step
                         program: one C call per step or layer by layer; convolution:
                         oneDNN or torch; max pooling and optimizer update: C kernel or
                         torch),
                         "cpu", "versions" (cnnlab,
                         torch, numpy, python), "params",
                         "status" (running | finished | stopped early | interrupted),
                         "epochs_done", "wall_time_seconds", "command"
      history.csv        epoch,loss,accuracy,val_loss,val_accuracy,seconds: one row per
                         finished epoch (epoch counts from 1; val_* empty without validation)
      metrics.json       test_loss, test_accuracy, per_class_accuracy, confusion_matrix
                         (rows: true class, columns: predicted), class_names
      model.safetensors  the final weights (the best epoch's with early stopping), torch names
      model.json         the model spec (ModelSpec.to_dict()) plus output_softmax
      checkpoint/
        last.safetensors resume state: weights, optimizer state, torch RNG state, progress
                         through the current epoch; JSON metadata holds the history and the
                         optimizer's settings (no pickle anywhere)
        best.safetensors the weights of the epoch with the lowest val_loss so far

Every file is written to a temporary name in the same folder and renamed over the old one,
so a crash (even `kill -9`) leaves either the old or the new version, never half a file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as save_tensors

from cnnlab.errors import RunError
from cnnlab.files import atomic_write, mark_owned
from cnnlab.train.callbacks import Callback
from cnnlab.train.trainer import EpochState, Trainer

HISTORY_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
CHECKPOINT_FORMAT = "cnnlab-checkpoint-1"


def write_json(path: Path, data: Any) -> None:
    """Indented JSON with lists of numbers on one line (a confusion matrix reads as a table)."""
    text = json.dumps(data, indent=2)
    text = _NUMBER_LIST.sub(lambda m: re.sub(r"\s+", " ", m.group(0)).replace("[ ", "[").replace(" ]", "]"), text)
    atomic_write(path, text + "\n")


_NUMBER_LIST = re.compile(r"\[[-0-9.eE,\s]*\]")


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # --- opening ------------------------------------------------------------------
    @classmethod
    def create(cls, out: str | Path, name: str) -> RunFolder:
        path = Path(out) / name
        if path.exists():
            raise RunError(f"{path} already exists; continue it with --resume {path} or pick another --name")
        (path / "checkpoint").mkdir(parents=True)
        mark_owned(path, "run")  # a sweep may delete and redo only folders cnnlab wrote
        return cls(path)

    @classmethod
    def open(cls, path: str | Path) -> RunFolder:
        run = cls(path)
        if not (run.path / "config.json").is_file():
            raise RunError(f"{run.path} is not a cnnlab run folder (it has no config.json)")
        return run

    # --- plain files --------------------------------------------------------------
    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoint" / "last.safetensors"

    @property
    def best_checkpoint(self) -> Path:
        return self.path / "checkpoint" / "best.safetensors"

    def read_config(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise RunError(f"{self.path}/config.json cannot be read ({e})") from None

    def write_config(self, config: dict[str, Any]) -> None:
        write_json(self.path / "config.json", config)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.path / "metrics.json", metrics)

    def write_history(self, rows: list[dict[str, float]]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(HISTORY_COLUMNS)
        for row in rows:
            writer.writerow([_csv_value(row.get(column)) for column in HISTORY_COLUMNS])
        atomic_write(self.path / "history.csv", out.getvalue())

    def read_history(self) -> list[dict[str, float]]:
        with open(self.path / "history.csv", encoding="utf-8", newline="") as f:
            return [
                {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items() if v != ""}
                for row in csv.DictReader(f)
            ]

    # --- weights and checkpoints --------------------------------------------------
    def save_model(self, net: torch.nn.Module, spec: dict[str, Any]) -> None:
        atomic_write(self.path / "model.safetensors", save_tensors(_weights(net)))
        write_json(self.path / "model.json", {**spec, "output_softmax": bool(net.output_softmax)})

    def load_model_weights(self, net: torch.nn.Module) -> None:
        net.load_state_dict(read_tensors(self.path / "model.safetensors")[0])

    def save_best(self, net: torch.nn.Module, epoch: int) -> None:
        atomic_write(self.best_checkpoint, save_tensors(_weights(net), metadata={"epoch": str(epoch + 1)}))

    def load_best(self) -> dict[str, torch.Tensor] | None:
        return read_tensors(self.best_checkpoint)[0] if self.best_checkpoint.is_file() else None

    def save_checkpoint(self, trainer: Trainer, history: list[dict], state: EpochState | None) -> None:
        """Everything needed to continue exactly: after an epoch (state None) or within one."""
        tensors = {f"model/{k}": v for k, v in _weights(trainer.net).items()}
        optimizer = trainer.optimizer.state_dict()
        plain_state: dict[str, dict[str, Any]] = {}
        for index, values in optimizer["state"].items():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"optimizer/{index}/{key}"] = value.detach().cpu().contiguous()
                else:
                    plain_state.setdefault(str(index), {})[key] = value
        tensors["rng/torch"] = torch.get_rng_state()
        progress = None
        if state is not None:
            tensors["progress/loss_sum"] = state.loss_sum.cpu()
            tensors["progress/correct"] = state.correct.cpu()
            progress = {"epoch": state.epoch, "step": state.step, "seen": state.seen, "seconds": state.seconds}
        meta = {
            "history": history,
            "progress": progress,
            "param_groups": optimizer["param_groups"],
            "optimizer_plain_state": plain_state,
        }
        blob = save_tensors(tensors, metadata={"format": CHECKPOINT_FORMAT, "state": json.dumps(meta)})
        atomic_write(self.last_checkpoint, blob)

    def load_checkpoint(self, trainer: Trainer) -> tuple[list[dict], EpochState | None]:
        """Restore weights, optimizer and RNG into `trainer`; (history, mid-epoch state or None)."""
        if not self.last_checkpoint.is_file():
            raise RunError(f"{self.path} has no checkpoint to resume from (checkpoint/last.safetensors)")
        tensors, metadata = read_tensors(self.last_checkpoint)
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise RunError(f"{self.last_checkpoint} is not a {CHECKPOINT_FORMAT} file")
        meta = json.loads(metadata["state"])
        trainer.net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model/")})
        opt_state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            if key.startswith("optimizer/"):
                _, index, name = key.split("/", 2)
                opt_state.setdefault(int(index), {})[name] = value
        for index, values in meta["optimizer_plain_state"].items():
            opt_state.setdefault(int(index), {}).update(values)
        trainer.optimizer.load_state_dict({"state": opt_state, "param_groups": meta["param_groups"]})
        torch.set_rng_state(tensors["rng/torch"])
        state = None
        if meta["progress"] is not None:
            state = EpochState(
                loss_sum=tensors["progress/loss_sum"], correct=tensors["progress/correct"], **meta["progress"]
            )
        return meta["history"], state


def read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, (f.metadata() or {})
    except Exception as e:  # safetensors raises its own error types for bad bytes
        raise RunError(f"{path} cannot be read as safetensors ({e})") from None


def _weights(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}


def _csv_value(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if isinstance(value, int) else repr(float(value))


class RunRecorder(Callback):
    """Writes history.csv and the checkpoints after every epoch, and on Ctrl-C."""

    def __init__(self, run: RunFolder, history: list[dict] | None = None):
        self.run = run
        self.history = list(history or [])
        finished = [row["val_loss"] for row in self.history if "val_loss" in row]
        self.best_val_loss = min(finished, default=float("inf"))

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.history.append(logs)
        val_loss = logs.get("val_loss")
        if val_loss is not None and val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
            self.run.save_best(self._trainer.net, epoch)
        self.run.save_checkpoint(self._trainer, self.history, None)
        self.run.write_history(self.history)

    def on_train_begin(self, trainer, epochs: int) -> None:
        self._trainer = trainer

    def on_interrupt(self, trainer, state: EpochState) -> None:
        self.run.save_checkpoint(trainer, self.history, state)


def load_trained(path: str | Path):
    """(module with the run's final weights, the run's config) for evaluate and predict."""
    from cnnlab.models.build import build
    from cnnlab.models.layers import ModelSpec

    run = RunFolder.open(path)
    config = run.read_config()
    if not (run.path / "model.safetensors").is_file():
        raise RunError(
            f"{run.path} has no model.safetensors: the run has not finished; "
            f"continue it with cnnlab train --resume {run.path}"
        )
    net = build(ModelSpec.from_dict(config["model"]))
    run.load_model_weights(net)
    return net, config
