"""The TOML parser for settings and model files: the standard library's tomllib (Python 3.11+),
else the same parser installed as tomli (a dependency on Python 3.10)."""

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["tomllib"]
