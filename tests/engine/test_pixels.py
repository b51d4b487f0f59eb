"""uint8 images to the model's input in one C pass: torch's bits for every pixel value."""

import pytest
import torch

from cnnlab.engine.native import pixels


def torch_input(x_u8, dtype):
    return x_u8.permute(0, 3, 1, 2).to(torch.float32).mul_(1.0 / 255.0).to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_every_pixel_value_gets_torchs_bits(dtype):
    assert pixels.library() is not None
    x = torch.arange(256, dtype=torch.uint8).repeat(3).view(2, 8, 16, 3)
    got = pixels.to_input(x, dtype)
    want = torch_input(x, dtype)
    assert got.shape == (2, 3, 8, 16) and got.dtype == dtype
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(got.view(torch.int16) if dtype == torch.bfloat16 else got.view(torch.int32),
                       want.view(torch.int16) if dtype == torch.bfloat16 else want.view(torch.int32))


def test_without_the_kernel_torch_converts(monkeypatch):
    monkeypatch.setattr(pixels, "library", lambda: None)
    x = torch.randint(0, 256, (4, 5, 5, 1), dtype=torch.uint8)
    assert torch.equal(pixels.to_input(x, torch.bfloat16), torch_input(x, torch.bfloat16))
    assert torch.equal(pixels.to_input(x[:, :, ::2], torch.float32), torch_input(x[:, :, ::2], torch.float32))
