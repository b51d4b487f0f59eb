"""Models: layer specs, presets, shapes and parameter counts, summaries, where a model comes
from, and the torch build."""


def __getattr__(name: str):
    from cnnlab.lazy import submodule  # `import cnnlab` imports none of them: each when first named

    return submodule(__name__, name)
