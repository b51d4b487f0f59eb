"""A uint8 image batch (N, H, W, C) -> the model's float input (N, C, H, W) channels_last, scaled by 1/255.

One vectorised C pass (pixels.c) where the C compiler is available, instead of torch's three
(`x.float().mul_(1/255).to(dtype)`, which runs otherwise). Both give the same bits: the C code
multiplies in float32 and rounds to bfloat16 as torch does; tests check all 256 values.
"""

from __future__ import annotations

import ctypes

import torch

from cnnlab.engine.native import compiler

SCALE = 1.0 / 255.0
KERNELS = {torch.float32: "pixels_to_f32", torch.bfloat16: "pixels_to_bf16"}
FLOAT_KERNELS = {torch.float32: "floats_to_f32", torch.bfloat16: "floats_to_bf16"}  # no scaling


def to_input(x_u8: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) `dtype` in [0, 1], channels_last memory.

    Float images (cnnlab.keras passes them when they are not uint8/255) are already the
    model's input: they are only laid out and cast, not scaled.
    """
    if x_u8.is_floating_point():
        return x_u8.permute(0, 3, 1, 2).to(dtype)
    lib = library()
    if lib is None or dtype not in KERNELS or x_u8.device.type != "cpu" or not x_u8.is_contiguous():
        return x_u8.permute(0, 3, 1, 2).to(torch.float32).mul_(SCALE).to(dtype)
    out = torch.empty(x_u8.shape, dtype=dtype)  # (N, H, W, C)
    getattr(lib, KERNELS[dtype])(x_u8.data_ptr(), out.data_ptr(), SCALE, x_u8.numel())
    return out.permute(0, 3, 1, 2)


def library():
    signature = ([ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float, ctypes.c_int64], None)
    return compiler.bound("pixels", dict.fromkeys([*KERNELS.values(), *FLOAT_KERNELS.values()], signature))
