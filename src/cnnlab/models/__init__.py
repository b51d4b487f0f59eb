"""Models: layer specs, presets, shapes and parameter counts, summaries, where a model comes
from, and the torch build."""


def __getattr__(name: str):
    # `import cnnlab` imports no submodule here, yet `cnnlab.models.layers.ModelSpec` (as the
    # docs write it) must work after it: a submodule is imported when first named
    import importlib

    if name.isidentifier() and not name.startswith("__"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
