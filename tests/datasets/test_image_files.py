"""Deep images are scaled by their range, bombs are refused: in folders and in predict."""

import numpy as np
import pytest
from PIL import Image

from cnnlab.datasets import DatasetError, load_dataset
from cnnlab.datasets.image_files import ImageFileError, open_image, to_8bit


def test_a_16_bit_png_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 1000], [32768, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    got = np.asarray(to_8bit(open_image(tmp_path / "deep.png")))
    assert got.tolist() == [[0, 4], [128, 255]]  # 1000/65535*255 = 3.9, not 255


def test_an_image_folder_of_16_bit_pngs_loads_scaled(tmp_path):
    for split in ("train", "test"):
        for c, level in (("dark", 1000), ("bright", 60000)):
            (tmp_path / split / c).mkdir(parents=True)
            Image.fromarray(np.full((4, 4), level, np.uint16)).save(tmp_path / split / c / "a.png")
    (x_train, y_train), _ = load_dataset(str(tmp_path))
    by_class = {int(y): int(x.max()) for x, y in zip(x_train, y_train)}
    assert sorted(by_class.values()) == [4, 233]


def test_a_decompression_bomb_is_refused_with_a_message(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 1,600 pixels is then a bomb
    with pytest.raises(ImageFileError, match="too large to decode safely"):
        open_image(tmp_path / "big.png")
    for split in ("train", "test"):
        (tmp_path / "folder" / split / "c").mkdir(parents=True)
        (tmp_path / "big.png").rename(tmp_path / "folder" / split / "c" / "big.png") if split == "train" else \
            Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "folder" / split / "c" / "big.png")
    with pytest.raises(DatasetError, match="too large to decode safely"):
        load_dataset(str(tmp_path / "folder"))


def test_predict_reads_a_16_bit_png_scaled(tmp_path):
    from cnnlab.train.images import prepare_image

    Image.fromarray(np.full((8, 8), 1000, np.uint16)).save(tmp_path / "deep.png")
    prepared = prepare_image(tmp_path / "deep.png", (8, 8, 1), train_pixel_mean=None)
    assert int(prepared.pixels.max()) == 4
