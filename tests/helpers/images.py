"""Checks that a picture file is what it claims to be, at a sensible size."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from PIL import Image


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        assert im.format == "PNG", f"{path} is {im.format}, not PNG"
        im.load()  # decodes every byte: a truncated file fails here
        return im.size


def assert_png(path: Path, min_size=(300, 200), max_size=(2500, 2500)) -> tuple[int, int]:
    w, h = png_size(path)
    assert min_size[0] <= w <= max_size[0] and min_size[1] <= h <= max_size[1], f"{path}: {w}x{h}"
    return w, h


def assert_svg(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", f"{path}: root is {root.tag}"
    assert float(root.get("width").removesuffix("pt")) > 100
    assert 2_000 < path.stat().st_size < 3_000_000
