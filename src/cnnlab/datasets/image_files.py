"""Opening one image file safely, and bringing any bit depth to 8 bits by its range.

Shared by image-folder datasets and `cnnlab predict`: a decompression bomb is refused with a
message instead of Pillow's exception, and 16-bit and 32-bit images are scaled by the range
of their mode (Pillow's own convert("L") clips them: 1000 of 65535 would become 255).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cnnlab.errors import CnnlabError

# full range of the integer modes Pillow opens deep images in (16-bit PNG: "I;16" or "I")
_RANGES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535}


class ImageFileError(CnnlabError):
    """An image file that cannot be used; the message names the file and the fix."""


@contextlib.contextmanager
def _opening(path: str | Path, unreadable: str) -> Iterator[None]:
    """Pillow's ways of failing on a file, as one ImageFileError naming the file."""
    try:
        yield
    except FileNotFoundError:
        raise ImageFileError(f"{path}: no such file") from None
    except Image.DecompressionBombError as e:
        raise ImageFileError(f"{path}: refused, too large to decode safely ({e}); "
                             "resize it below 89 million pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageFileError(f"{path}: {unreadable} ({e}); remove it or replace it") from None


def open_image(path: str | Path) -> Image.Image:
    """The decoded image (pixels loaded, file closed), or one ImageFileError."""
    with _opening(path, "not an image Pillow can read"), Image.open(path) as image:
        image.load()
        return image


def image_size(path: str | Path) -> tuple[str, tuple[int, int]]:
    """(mode, (width, height)) from the header alone."""
    with _opening(path, "not a readable image"), Image.open(path) as image:
        return image.mode, image.size


def to_8bit(image: Image.Image) -> Image.Image:
    """Deep grayscale ("I;16", "I", "F") as "L", scaled by its mode's range, not clipped."""
    if image.mode in _RANGES:
        values = np.asarray(image, dtype=np.float64)
        top = _RANGES[image.mode]
        if values.max(initial=0) > top:  # 32-bit values beyond 16 bits: scale by what is there
            top = values.max()
        return Image.fromarray(np.rint(np.clip(values, 0, top) * (255.0 / top)).astype(np.uint8), mode="L")
    if image.mode == "F":  # floats: [0, 1] as most tools write them, else their own range
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if values.max(initial=0) <= 1.0 else values.max()
        return Image.fromarray(np.rint(np.clip(values, 0, top) * (255.0 / top)).astype(np.uint8), mode="L")
    return image
