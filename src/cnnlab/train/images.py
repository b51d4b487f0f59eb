"""Image files -> a model's input: any size and colour mode, PNG or JPEG (Pillow).

MNIST-like data is light strokes on a dark background; a photo or a scan of a digit is
usually dark on light. When the training images were dark on average and an image is
light on average, it is inverted (and the caller says so); `invert` forces either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.errors import CnnlabError

DARK = 127.5  # a mean pixel below this is a dark image


class ImageError(CnnlabError):
    """An image file that cannot be read."""


@dataclass
class PreparedImage:
    path: str
    pixels: np.ndarray  # (H, W, C) uint8, the model's input shape
    original_size: tuple[int, int]  # (width, height)
    original_mode: str
    inverted: bool


def prepare_image(
    path: str | Path, input_shape: tuple[int, int, int], train_pixel_mean: float | None,
    invert: str = "auto",
) -> PreparedImage:
    """Read, convert to grayscale or RGB, resize to (H, W), maybe invert."""
    from PIL import Image, ImageOps

    from cnnlab.datasets.image_files import ImageFileError, open_image, to_8bit

    height, width, channels = input_shape
    try:
        image = ImageOps.exif_transpose(open_image(path))
    except ImageFileError as e:
        raise ImageError(str(e)) from None
    original = (image.size, image.mode)
    if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info:
        image = _flatten_alpha(image)
    image = to_8bit(image).convert("L" if channels == 1 else "RGB")
    image = image.resize((width, height), Image.Resampling.LANCZOS)
    pixels = np.asarray(image, dtype=np.uint8).reshape(height, width, channels)
    inverted = _should_invert(pixels, train_pixel_mean, invert)
    if inverted:
        pixels = 255 - pixels
    return PreparedImage(str(path), pixels, original[0], original[1], inverted)


def _flatten_alpha(image):
    """Transparent pixels become white, as a viewer shows them."""
    from PIL import Image

    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _should_invert(pixels: np.ndarray, train_pixel_mean: float | None, invert: str) -> bool:
    if invert == "yes":
        return True
    if invert == "no" or train_pixel_mean is None:
        return False
    dark_training_data = train_pixel_mean < DARK and pixels.shape[-1] == 1
    return dark_training_data and float(pixels.mean()) > DARK
