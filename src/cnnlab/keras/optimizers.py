"""`keras.optimizers`: Adam, SGD and RMSprop with Keras's defaults (the engine's optimizers)."""

from __future__ import annotations

from cnnlab.models.layers import ModelError


class Optimizer:
    _engine_name = ""
    _fixed: dict = {}  # arguments the engine supports only at Keras's default

    def __init__(self, learning_rate=0.001, **kwargs):
        for key, value in kwargs.items():
            default = self._fixed.get(key, _COMMON.get(key, ...))
            if default is ...:
                raise TypeError(f"{type(self).__name__} got an unexpected argument {key!r}")
            if value != default:
                raise ModelError(
                    f"{type(self).__name__}({key}={value!r}) is not supported by cnnlab.keras; it "
                    f"supports learning_rate and Keras's default {key}={default!r}"
                )
        if not isinstance(learning_rate, (int, float)) or isinstance(learning_rate, bool) or learning_rate <= 0:
            raise ModelError(
                f"{type(self).__name__}: learning_rate={learning_rate!r} should be a positive number; "
                "schedules are not supported"
            )
        self.learning_rate = float(learning_rate)
        self.name = type(self).__name__.lower()
        self.built = False  # True once the engine holds its state (Keras: after the first step)

    def variable_count(self, trainable: int) -> int:
        """Keras's count of the optimizer's variables: iterations, learning rate and slots."""
        return 2 + self._slots * trainable

    def __repr__(self) -> str:
        return f"<{type(self).__name__} learning_rate={self.learning_rate}>"


_COMMON = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None,
           "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
           "loss_scale_factor": None, "gradient_accumulation_steps": None, "name": None}


class Adam(Optimizer):
    _engine_name, _slots = "adam", 2
    _fixed = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False}


class SGD(Optimizer):
    _engine_name, _slots = "sgd", 0
    _fixed = {"momentum": 0.0, "nesterov": False}

    def __init__(self, learning_rate=0.01, **kwargs):
        super().__init__(learning_rate, **kwargs)


class RMSprop(Optimizer):
    _engine_name, _slots = "rmsprop", 1
    _fixed = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-07, "centered": False}


_BY_NAME = {"adam": Adam, "sgd": SGD, "rmsprop": RMSprop}


def get(identifier) -> Optimizer:
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        raise ModelError(f"Could not interpret optimizer identifier: {identifier}; give an optimizer, "
                         f"keras.optimizers.{identifier.__name__}(), or its name, as Keras takes it")
    raise ModelError(
        f"optimizer {identifier!r} is not supported by cnnlab.keras; use 'adam', 'sgd', 'rmsprop' "
        "or keras.optimizers.Adam/SGD/RMSprop(learning_rate=...)"
    )


def __getattr__(name: str):
    """A Keras name this module does not offer is refused by name (an AttributeError for hasattr)."""
    from cnnlab.keras.layers import Unsupported

    if name.startswith("_"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise Unsupported(f"keras.optimizers.{name} is not supported by cnnlab.keras; it offers Adam, SGD, RMSprop")
