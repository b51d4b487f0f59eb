"""A sweep as data: model, dataset, base settings, axes and seeds; stored as `sweep.json`.

    runs/<sweep>/
      sweep.json          format, model_ref, model (the base ModelSpec), dataset, settings (the
                          base TrainSettings), axes [{name, values, changes}], seeds, metric,
                          workers, threads_per_worker, runs [{name, setting, values, seed}],
                          command, created, status (running | finished | interrupted | failed),
                          wall_time_seconds
      <setting>,seed=<s>/ one normal run folder per grid point (config.json, history.csv, ...)
      logs/<run>.log      what each run printed
      index.html          the sweep report; sweep.png the metric against the swept value

Running the same sweep again (same --name, or `cnnlab sweep --resume runs/<sweep>`) keeps
the finished runs and runs the rest.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnlab.models.layers import ModelSpec
from cnnlab.settings import TrainSettings
from cnnlab.sweeps.grid import (
    Axis,
    Point,
    SweepError,
    code_key,
    grid_points,
    point_config,
    resolve_axes,
)
from cnnlab.sweeps.jobs import Job

if TYPE_CHECKING:
    from cnnlab.sweeps.model_code import ModelCode

FORMAT = "cnnlab-sweep-1"
SWEEP_FILE = "sweep.json"
# what must agree for a second run of a sweep to continue the first
IDENTITY = ("model", "code", "dataset", "settings", "axes", "seeds")


@dataclasses.dataclass
class Sweep:
    path: Path
    model_ref: str
    spec: ModelSpec  # the base model, fitted to the dataset
    dataset: str
    settings: TrainSettings  # the base settings; axes and seeds change them per run
    axes: list[Axis]
    seeds: list[int]
    metric: str = "val_loss"
    code: ModelCode | None = None  # model code whose arguments or hyperparameters are axes
    models: dict[tuple, ModelSpec] = dataclasses.field(default_factory=dict)  # code axes' values -> model

    @classmethod
    def create(cls, path, model_ref, spec, dataset, settings, sets, seeds, metric) -> Sweep:
        """Check the grid (names and every value) against the model and settings. `spec` is a
        ModelSpec, or ModelCode whose models each code axis combination builds."""
        code = None if isinstance(spec, ModelSpec) else spec
        if seeds < 1:
            raise SweepError(f"--seeds {seeds}: a sweep needs at least one seed per setting")
        if not sets and not (code and code.function.tuner):
            raise SweepError("a sweep needs at least one --set NAME=VALUE,..., e.g. --set dropout=0.1,0.3,0.5")
        if settings.validation == "split" and settings.validation_split == 0:
            raise SweepError("a sweep compares validation metrics; keep --validation-split above 0 "
                             "(or --validation test)")
        axes, models = resolve_axes(sets, spec, settings)
        _no_overlap(axes)
        base = next(iter(models.values())) if models else spec
        return cls(Path(path), model_ref, base, dataset, settings, axes, list(range(seeds)), metric, code, models)

    # --- the grid ---------------------------------------------------------------------------
    def points(self) -> list[Point]:
        points = grid_points(self.axes, self.seeds)
        if self.models:  # code whose tuner draws some combinations (RandomSearch) trains only those
            points = [p for p in points if code_key(p.values, self.axes) in self.models]
        return points

    def settings_groups(self) -> list[tuple[str, tuple[tuple[str, Any], ...]]]:
        """(setting label, axis values) of each setting, in grid order, seeds folded."""
        seen: dict[str, tuple] = {}
        for point in self.points():
            seen.setdefault(point.setting, point.values)
        return list(seen.items())

    def config(self, point: Point) -> tuple[ModelSpec, TrainSettings]:
        return point_config(point, self.axes, self.spec, self.settings, self.models)

    def job(self, point: Point, threads: int) -> Job:
        spec, settings = self.config(point)
        settings = dataclasses.replace(settings, threads=threads)
        return Job(point.name, spec.to_dict(), self.dataset, settings.to_dict(), str(self.path))

    # --- sweep.json ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model_ref": self.model_ref,
            "model": self.spec.to_dict(),
            **({"code": self.code.to_dict()} if self.code else {}),
            "dataset": self.dataset,
            "settings": self.settings.to_dict(),
            "axes": [axis.to_dict() for axis in self.axes],
            "seeds": self.seeds,
            "metric": self.metric,
            "runs": [
                {"name": p.name, "setting": p.setting, "values": {k: _plain(v) for k, v in p.values},
                 "seed": p.seed}
                for p in self.points()
            ],
        }

    @classmethod
    def read(cls, path: str | Path) -> tuple[Sweep, dict[str, Any]]:
        """The sweep stored in `path/sweep.json`, re-checked; and the file's content."""
        path = Path(path)
        try:
            data = json.loads((path / SWEEP_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SweepError(f"{path} is not a sweep folder (it has no {SWEEP_FILE})") from None
        except (OSError, ValueError) as e:
            raise SweepError(f"{path / SWEEP_FILE} cannot be read ({e})") from None
        if data.get("format") != FORMAT:
            raise SweepError(f"{path / SWEEP_FILE} is not a {FORMAT} file")
        settings = TrainSettings.from_dict(data["settings"])
        spec = ModelSpec.from_dict(data["model"])
        if data.get("code"):
            from cnnlab.sweeps.model_code import ModelCode

            spec = ModelCode.from_dict(data["code"], spec.input_shape)
        sets = [(a["name"], tuple(_from_json(v) for v in a["values"])) for a in data["axes"]]
        sweep = cls.create(path, data["model_ref"], spec, data["dataset"], settings, sets,
                           len(data["seeds"]), data.get("metric", "val_loss"))
        return sweep, data

    def same_grid(self, stored: dict[str, Any]) -> bool:
        mine = self.to_dict()
        return all(json.dumps(mine.get(key), sort_keys=True) == json.dumps(stored.get(key), sort_keys=True)
                   for key in IDENTITY)


def _no_overlap(axes: list[Axis]) -> None:
    """Two axes may not set the same argument of the same layer (or the same setting)."""
    for i, a in enumerate(axes):
        for b in axes[:i]:
            if a.arg == b.arg and (a.is_setting and b.is_setting or set(a.layers) & set(b.layers)):
                raise SweepError(f"--set {b.name} and --set {a.name} both change {a.describes()}; keep one")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _from_json(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
