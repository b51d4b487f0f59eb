"""The C max-pool kernel against torch's F.max_pool2d (+ relu): bit-identical values and
gradients, ties and NaN included; and the fallbacks when it cannot be built."""

import os

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.engine.native import compiler, maxpool

needs_kernel = pytest.mark.skipif(maxpool.library() is None, reason="no C compiler here")


@st.composite
def pooling_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = kh + draw(st.integers(0, 1)), kw + draw(st.integers(0, 1))
    n, c = draw(st.integers(0, 3)), draw(st.sampled_from([1, 3, 32, 70]))  # 70: two channel chunks
    h, w = draw(st.integers(kh, 11)), draw(st.integers(kw, 11))
    dtype = draw(st.sampled_from([torch.float32, torch.bfloat16]))
    ties = draw(st.booleans())  # few distinct values: many windows with equal maxima
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(-2, 3, (n, c, h, w), generator=g).float() if ties else torch.randn((n, c, h, w), generator=g)
    if draw(st.booleans()) and x.numel():
        x.view(-1)[seed % x.numel()] = float("nan")
    x = x.to(dtype).contiguous(memory_format=torch.channels_last)
    return x, (kh, kw), (sh, sw), draw(st.booleans()), seed


def reference(x, window, strides, relu):
    out = F.max_pool2d(x, window, strides)
    return F.relu(out) if relu else out


@needs_kernel
@settings(max_examples=150, deadline=None)
@given(pooling_cases())
def test_kernel_matches_torch_bit_for_bit(case):
    x, window, strides, relu, seed = case
    assert maxpool.kernel_applies(x, window, strides)
    x_ref, x_new = x.clone().requires_grad_(), x.clone().requires_grad_()
    expected = reference(x_ref, window, strides, relu)
    got = maxpool.max_pool2d(x_new, window, strides, relu)
    torch.testing.assert_close(got, expected, rtol=0, atol=0, equal_nan=True)
    assert got.is_contiguous(memory_format=torch.channels_last)
    grad = torch.randn(expected.shape, generator=torch.Generator().manual_seed(seed)).to(x.dtype)
    expected.backward(grad)
    got.backward(grad)
    torch.testing.assert_close(x_new.grad, x_ref.grad, rtol=0, atol=0, equal_nan=True)


@needs_kernel
def test_kernel_takes_nchw_input_and_inference_mode():
    x = torch.randn(2, 5, 8, 6)  # plain NCHW memory
    with torch.inference_mode():
        got = maxpool.max_pool2d(x, (2, 2), (2, 2), relu=True)
    assert torch.equal(got, F.relu(F.max_pool2d(x, 2)))


def test_overlapping_windows_and_other_dtypes_use_torch():
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64)
    assert not maxpool.kernel_applies(x, (2, 2), (2, 2))
    assert not maxpool.kernel_applies(x.float(), (3, 3), (2, 2))
    assert torch.equal(maxpool.max_pool2d(x.float(), (3, 3), (2, 2)), F.max_pool2d(x.float(), 3, 2))
    assert torch.equal(maxpool.max_pool2d(x, (2, 2), (2, 2), relu=True), F.relu(F.max_pool2d(x, 2)))


@pytest.fixture
def fresh_build(tmp_path, monkeypatch):
    """An empty cnnlab home and no cached library; the library is reloaded afterwards."""
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    compiler.load.cache_clear()
    compiler._announce_build.cache_clear()
    compiler._reasons.clear()
    yield tmp_path
    monkeypatch.undo()
    compiler.load.cache_clear()
    compiler._reasons.clear()


def test_disabled_by_environment_falls_back_to_torch(fresh_build, monkeypatch):
    monkeypatch.setenv("CNNLAB_NATIVE", "0")
    x = torch.randn(2, 4, 6, 6)
    assert not maxpool.kernel_applies(x, (2, 2), (2, 2))
    assert maxpool.kernel_status() == "torch (CNNLAB_NATIVE=0)"
    assert torch.equal(maxpool.max_pool2d(x, (2, 2), (2, 2)), F.max_pool2d(x, 2))


def test_a_failing_compiler_falls_back_with_its_message(fresh_build, monkeypatch, tmp_path):
    broken = tmp_path / "broken-cc"
    broken.write_text("#!/bin/sh\necho 'broken-cc: cannot compile today' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("CC", str(broken))
    assert compiler.load("maxpool") is None
    assert "cannot compile today" in maxpool.kernel_status()
    assert not list((fresh_build / "native").glob("*"))  # no half-written library left


@needs_kernel
def test_library_is_built_once_per_cpu_and_source(fresh_build, monkeypatch):
    assert compiler.load("maxpool") is not None
    built = list((fresh_build / "native").glob("*.so"))
    assert len(built) == 1 and (fresh_build / "native" / f"{built[0].name}.sha256").is_file()
    cc = compiler.compiler()
    monkeypatch.setattr(compiler, "_cpu_signature", lambda: "another cpu")
    assert compiler.library_path("maxpool", cc, compiler.flag_sets()[0]) != built[0]  # never on another CPU


@needs_kernel
def test_a_cached_library_that_does_not_load_is_built_again(fresh_build):
    library = compiler.library_path("maxpool", compiler.compiler(), compiler.flag_sets()[0])
    library.parent.mkdir(parents=True)
    library.write_bytes(b"not a shared library")  # e.g. copied in half from another machine
    assert compiler.load("maxpool") is not None
    assert library.read_bytes()[:4] == b"\x7fELF"


@needs_kernel
def test_a_truncated_cached_library_is_never_loaded(fresh_build, capsys):
    """Mapping a truncated .so can kill the process with SIGBUS: its digest is checked first."""
    assert compiler.load("maxpool") is not None
    assert "compiling cnnlab's CPU kernels, once" in capsys.readouterr().err
    library = next((fresh_build / "native").glob("*.so"))
    # a new file in its place: truncating the one this process has mapped would crash it
    half = library.with_name("half.so")
    half.write_bytes(library.read_bytes()[: library.stat().st_size // 2])
    os.replace(half, library)
    compiler.load.cache_clear()
    assert compiler.load("maxpool") is not None  # built again, not mapped
    assert compiler._intact(library)


def test_a_compiler_without_openmp_gets_the_serial_build(fresh_build, monkeypatch, tmp_path):
    real = compiler.compiler()
    if real is None:
        pytest.skip("no C compiler here")
    wrapper = tmp_path / "cc-without-openmp"
    wrapper.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = -fopenmp ] && exit 1; done\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CC", str(wrapper))
    monkeypatch.setattr(compiler, "_torch_ships_gnu_openmp", lambda: True)
    assert compiler.load("maxpool") is not None
    assert [p.name for p in (fresh_build / "native").glob("*.so")] == [
        compiler.library_path("maxpool", str(wrapper), compiler.FLAGS).name
    ]


@needs_kernel
@pytest.mark.parametrize("window", [(2, 2), (3, 2)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_big_batches_split_over_threads_match_torch(window, dtype):
    """Above PARALLEL_FROM elements the batch loop runs on torch's OpenMP threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        g = torch.Generator().manual_seed(3)
        x = torch.randint(-3, 4, (33, 40, 31, 29), generator=g).to(dtype)  # ties everywhere
        x = x.contiguous(memory_format=torch.channels_last)
        assert x.numel() >= 1 << 17
        x_ref, x_new = x.clone().requires_grad_(), x.clone().requires_grad_()
        expected = reference(x_ref, window, window, True)
        got = maxpool.max_pool2d(x_new, window, window, True)
        assert torch.equal(got, expected)
        grad = torch.randn(expected.shape, generator=g).to(dtype)
        expected.backward(grad)
        got.backward(grad)
        assert torch.equal(x_new.grad, x_ref.grad)
    finally:
        torch.set_num_threads(threads)
