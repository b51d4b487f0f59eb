"""Convolutions through oneDNN primitives (models/native/conv.py) against torch's operator."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab.models.native import compiler, conv
from cnnlab.train.precision import cpu_has_bf16

aten = torch.ops.aten
pytestmark = pytest.mark.skipif(conv._library() is None, reason=f"no oneDNN kernel: {conv.status()}")
DTYPES = [torch.float32] + ([torch.bfloat16] if cpu_has_bf16() else [])


def close(got, want, dtype):
    """fp32: equal up to summation order; bf16: up to a rounding step of the largest value."""
    scale = want.float().abs().max().item() or 1.0
    tolerance = 1e-5 if dtype == torch.float32 else 1e-2
    return (got.float() - want.float()).abs().max().item() <= tolerance * scale


@st.composite
def convolutions(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(kh, 12)), draw(st.integers(kw, 12))
    return dict(n=draw(st.integers(1, 5)), c=draw(st.integers(1, 9)), h=h, w=w, o=draw(st.integers(1, 40)),
                kernel=(kh, kw), stride=(sh, sw), bias=draw(st.booleans()), input_grad=draw(st.booleans()),
                dtype=draw(st.sampled_from(DTYPES)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(convolutions(), st.integers(0, 2**16))
def test_forward_and_backward_match_torch(case, seed):
    torch.manual_seed(seed)
    dtype, cl = case["dtype"], torch.channels_last
    x = torch.randn(case["n"], case["c"], case["h"], case["w"]).to(dtype).contiguous(memory_format=cl)
    weight = torch.randn(case["o"], case["c"], *case["kernel"]).to(dtype).contiguous(memory_format=cl)
    bias = torch.randn(case["o"]).to(dtype) if case["bias"] else None
    args = (list(case["stride"]), [0, 0], [1, 1], False, [0, 0], 1)

    out = conv.forward(x, weight, bias, case["stride"])
    want = aten.convolution(x, weight, bias, *args)
    assert out.shape == want.shape and out.is_contiguous(memory_format=cl)
    assert close(out, want, dtype)

    grad = torch.randn(want.shape).to(dtype)  # any layout: made channels_last inside
    got = conv.backward(grad, x, weight, case["stride"], case["input_grad"], case["bias"])
    mask = [case["input_grad"], True, case["bias"]]
    wanted = aten.convolution_backward(grad, x, weight, [case["o"]] if case["bias"] else None, *args, mask)
    for name, g, r in zip(("input", "weight", "bias"), got, wanted):
        assert (g is None) == (r is None), name
        if r is not None:
            assert g.shape == r.shape and g.dtype == dtype, name
            assert close(g, r, dtype), name


def test_shapes_are_cached_and_evicted():
    conv._handles.clear()
    weight = torch.randn(4, 2, 3, 3).contiguous(memory_format=torch.channels_last)
    for n in range(1, conv._CACHED_SHAPES + 3):
        conv.forward(torch.randn(n, 2, 5, 5).contiguous(memory_format=torch.channels_last), weight, None, (1, 1))
    assert len(conv._handles) == conv._CACHED_SHAPES
    assert next(iter(conv._handles))[1] == 3  # the oldest shapes went first


def test_status_names_the_library_or_why_not(monkeypatch):
    assert conv.status().startswith("oneDNN 3.")
    monkeypatch.setenv("CNNLAB_NATIVE", "0")
    compiler.load.cache_clear()
    try:
        assert conv.status() == "torch (CNNLAB_NATIVE=0)"
        assert not conv.applies(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 1, 1))
    finally:
        monkeypatch.delenv("CNNLAB_NATIVE")
        compiler.load.cache_clear()
        compiler._reasons.clear()


def test_missing_onednn_is_named_with_the_fix(monkeypatch):
    monkeypatch.setattr(compiler, "onednn_prefix", lambda: None)
    compiler.load.cache_clear()
    try:
        assert conv.status() == "torch (oneDNN is not installed (pip install onednn-devel-cpu-gomp))"
    finally:
        compiler.load.cache_clear()
        compiler._reasons.clear()
