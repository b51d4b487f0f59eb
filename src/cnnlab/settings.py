"""One dataclass per command's settings, with visible defaults, read from TOML and flags.

Precedence, lowest first: the dataclass defaults (Keras's), a TOML file (`--config`),
then command-line flags. An unknown key is an error, never a silent no-op.

    settings = TrainSettings.from_sources(toml_path, {"epochs": 3})
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cnnlab.errors import CnnlabError


class ConfigError(CnnlabError):
    """A settings file or value that cannot be used; `setting` and `value` name the value, so
    that the command line can name its flag instead (cli.py)."""

    def __init__(self, message: str, setting: str | None = None, value: Any = None):
        super().__init__(message)
        self.setting, self.value = setting, value


def _refuse(name: str, value: Any, why: str) -> ConfigError:
    return ConfigError(f"{name}={value!r}{why}", setting=name, value=value)


OPTIMIZERS = ("adam", "sgd", "rmsprop")
PRECISIONS = ("auto", "fp32", "bf16")
# Keras's default learning rate for each optimizer.
DEFAULT_LR = {"adam": 1e-3, "sgd": 1e-2, "rmsprop": 1e-3}


def _setting(default: Any, help: str, *, metavar: str | None = None, sweep: bool = True) -> Any:
    """A settings field that is also a command-line flag (--name-with-dashes) with this help;
    sweep=False: a sweep sets it itself for every run, so `cnnlab sweep` has no such flag."""
    return dataclasses.field(default=default, metadata={"help": help, "metavar": metavar, "sweep": sweep})


@dataclasses.dataclass
class TrainSettings:
    epochs: int = _setting(10, "number of epochs (default 10)")
    batch_size: int = _setting(32, "examples per step (default 32, as Keras)")
    optimizer: str = _setting("adam", "adam, sgd or rmsprop, with Keras's defaults (default adam)")
    lr: float | None = _setting(None, "learning rate (default: the optimizer's Keras default)")
    validation_split: float = _setting(0.1, "stratified part of train held out (default 0.1)")
    validation: str = _setting("split", "'test' validates on the test set, as the lesson does")
    train_subset: int | None = _setting(None, "train on the first N training images", metavar="N")
    seed: int = _setting(0, "data order, initial weights, dropout, split (default 0)", sweep=False)
    precision: str = _setting("auto", "auto, fp32 or bf16 (default auto: bf16 where the CPU has it)")
    early_stopping: int | None = _setting(None, "stop after PATIENCE epochs without a lower val_loss; "
                                          "keep the best weights", metavar="PATIENCE")
    threads: int | None = _setting(None, "CPU threads (default: the cores not busy with other work)",
                                   sweep=False)

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_sources(cls, toml_path: str | Path | None = None, flags: dict[str, Any] | None = None):
        """Defaults, overridden by the TOML file, overridden by flags whose value is not None."""
        values: dict[str, Any] = {}
        if toml_path is not None:
            values.update(read_toml(toml_path, section="train"))
        values.update({k: v for k, v in (flags or {}).items() if v is not None})
        return cls.from_dict(values)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainSettings:
        names = [f.name for f in dataclasses.fields(cls)]
        for key in values:
            if key not in names:
                raise ConfigError(f"unknown setting {key!r}; train settings are {', '.join(names)}")
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Every value is usable, or a ConfigError names it and says what would be."""
        _positive_int("epochs", self.epochs)
        _positive_int("batch_size", self.batch_size, hint="Keras's default is 32")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
        if self.lr is not None and (not _is_number(self.lr) or not self.lr > 0):
            raise _refuse("lr", self.lr, " must be a positive number, e.g. 1e-3")
        if not _is_number(self.validation_split) or not 0 <= self.validation_split < 1:
            raise _refuse("validation_split", self.validation_split, " must be in [0, 1), e.g. 0.1")
        if self.validation not in ("split", "test"):
            raise _refuse("validation", self.validation, ": use 'split' or 'test'")
        if self.train_subset is not None:
            _positive_int("train_subset", self.train_subset)
        if not _is_int(self.seed) or not 0 <= self.seed < 2**63:  # numpy and torch seeds are 64-bit
            raise _refuse("seed", self.seed, " must be an integer from 0 to 2**63 - 1")
        if self.precision not in PRECISIONS:
            raise _refuse("precision", self.precision, f": use one of {', '.join(PRECISIONS)}")
        if self.early_stopping is not None:
            _positive_int("early_stopping", self.early_stopping, hint="it is the patience in epochs")
            if self.validation == "split" and self.validation_split == 0:
                raise ConfigError("early_stopping watches val_loss; give a validation_split > 0")
        if self.threads is not None:
            _positive_int("threads", self.threads)


_FLAG_TYPES = {"int": int, "float": float, "str": str}


def flag_names(cls=TrainSettings, *, sweep: bool = False) -> list[str]:
    """The settings that are flags of `cnnlab train` (argparse dest == field name), or of
    `cnnlab sweep` with sweep=True."""
    return [f.name for f in dataclasses.fields(cls) if not sweep or f.metadata["sweep"]]


def add_setting_flags(parser, cls=TrainSettings, *, sweep: bool = False) -> None:
    """One flag per field, typed from its annotation, default None (so a TOML file still counts)."""
    for f in dataclasses.fields(cls):
        if f.name in flag_names(cls, sweep=sweep):
            kind = _FLAG_TYPES[str(f.type).split("|")[0].strip()]
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=None if kind is str else kind,
                                metavar=f.metadata["metavar"], help=f.metadata["help"])


def setting_flags(args, cls=TrainSettings, *, sweep: bool = False) -> dict[str, Any]:
    """The settings given as flags in parsed `args`, by field name (None where not given)."""
    return {name: getattr(args, name) for name in flag_names(cls, sweep=sweep)}


def read_toml(path: str | Path, section: str) -> dict[str, Any]:
    """The `[section]` table of a TOML file, or its top level when it has no such table."""
    from cnnlab.tomlparser import tomllib

    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read it ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    table = data.get(section, data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{section}] must be a table of settings")
    return {k.replace("-", "_"): v for k, v in table.items()}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(name: str, value: Any, hint: str = "") -> None:
    if not _is_int(value) or value < 1:
        extra = f" ({hint})" if hint else ""
        raise _refuse(name, value, f" must be a positive integer{extra}")
