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


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_float_images_are_copied_or_rounded_as_torch_casts_them(dtype):
    from cnnlab.engine.native import step

    values = torch.tensor([0.0, -0.0, 1.0, -1.7, 3.14159, 1e-40, -2.5e38, 1 / 3, 255.0, 1.00390625, 1.01171875])
    x = torch.cat([values, torch.randn(117, generator=torch.Generator().manual_seed(0)) * 40]).view(2, 4, 16, 1)
    out = torch.empty((2, 4, 16, 1), dtype=dtype)
    program = step.Program()
    program.pixels(out, 1.0, torch.float32)
    program.finish().run(x, torch.zeros(0, dtype=torch.int64))
    want = x.to(dtype)
    bits = torch.int16 if dtype == torch.bfloat16 else torch.int32
    assert torch.equal(out.view(bits), want.view(bits))


def test_a_nan_image_value_stays_nan():
    from cnnlab.engine.native import step

    x = torch.tensor([float("nan"), 1.0]).view(1, 1, 2, 1)
    for dtype in (torch.float32, torch.bfloat16):
        out = torch.empty((1, 1, 2, 1), dtype=dtype)
        program = step.Program()
        program.pixels(out, 1.0, torch.float32)
        program.finish().run(x, torch.zeros(0, dtype=torch.int64))
        assert torch.isnan(out[0, 0, 0, 0]) and out[0, 0, 1, 0] == 1.0
