"""Adam's update in one C call: torch's fused kernel's bits, or torch's kernel where it cannot be."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.engine.native import adam


def _state(params):
    return [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params], [
        torch.zeros(()) for _ in params
    ]


def _torch_step(params, grads, exp_avgs, exp_avg_sqs, steps, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-7):
    torch._foreach_add_(steps, 1)
    torch._fused_adam_(params, grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False, lr=lr, beta1=beta1,
                       beta2=beta2, weight_decay=0.0, eps=eps, maximize=False, grad_scale=None, found_inf=None)


def _grads(params, g):
    # magnitudes from 1e-6 to 10, as weights of one model see them
    return [torch.randn(p.shape, generator=g).to(memory_format=_format(p))
            * 10.0 ** torch.randint(-6, 2, p.shape, generator=g).to(memory_format=_format(p)) for p in params]


def _format(p):
    return torch.channels_last if p.dim() == 4 and not p.is_contiguous() else torch.contiguous_format


def _assert_same_steps(shapes, steps=20, lr=1e-3, beta1=0.9, beta2=0.999, channels_last=False):
    g = torch.Generator().manual_seed(len(shapes))
    mine = [torch.randn(s, generator=g) for s in shapes]
    if channels_last:
        mine = [p.to(memory_format=torch.channels_last) if p.dim() == 4 else p for p in mine]
    theirs = [p.clone() for p in mine]
    mine_state, their_state = _state(mine), _state(theirs)
    update = adam.Update(mine, *mine_state)
    for _ in range(steps):
        grads = _grads(mine, g)
        assert update(grads, lr, beta1, beta2, 1e-7)
        _torch_step(theirs, grads, *their_state, lr=lr, beta1=beta1, beta2=beta2)
    for a, b in zip(mine + sum(mine_state, []), theirs + sum(their_state, [])):
        assert torch.equal(a, b)


def test_the_kernel_runs_here():
    assert adam.available(), adam.status()
    assert adam.status() == "C kernel"


def test_the_lesson_models_tensors_get_torchs_bits_on_either_thread_count():
    # cifar_model's ten tensors (36,138 numbers): split over threads, vector parts and tails
    shapes = [(32, 3, 3, 3), (32,), (32, 32, 3, 3), (32,), (32, 32, 3, 3), (32,), (32, 512), (32,), (10, 32), (10,)]
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            _assert_same_steps(shapes, channels_last=True)
    finally:
        torch.set_num_threads(before)


def test_large_tensors_split_over_threads_get_torchs_bits():
    _assert_same_steps([(70001,), (3, 40000)], steps=3)


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    lr=st.sampled_from([1e-3, 3e-4, 0.1]),
    beta1=st.sampled_from([0.9, 0.5, 0.0]),
    beta2=st.sampled_from([0.999, 0.99]),
)
def test_any_sizes_and_settings_get_torchs_bits(sizes, lr, beta1, beta2):
    _assert_same_steps([(n,) for n in sizes], steps=4, lr=lr, beta1=beta1, beta2=beta2)


def test_a_gradient_laid_out_differently_is_refused_and_nothing_changes():
    p = torch.randn(4, 3, 3, 3).to(memory_format=torch.channels_last)
    update = adam.Update([p], *_state([p]))
    before = p.clone()
    assert not update([torch.randn(4, 3, 3, 3)], 1e-3, 0.9, 0.999, 1e-7)  # contiguous, not channels_last
    assert not update([torch.randn(4, 3, 3, 3, dtype=torch.float64)], 1e-3, 0.9, 0.999, 1e-7)
    assert torch.equal(p, before)


def test_which_tensors_fit():
    p = torch.randn(5, 4)
    assert adam.fits([p], *_state([p]))
    (m,), (v,), (s,) = _state([p])
    assert not adam.fits([p], [m.t().contiguous().t()], [v], [s])  # a moment laid out unlike its parameter
    assert not adam.fits([p], [m], [v], [torch.zeros((), dtype=torch.float64)])
    assert not adam.fits([p.double()], *_state([p.double()]))
    assert not adam.fits([p[:, ::2]], *_state([p[:, ::2]]))  # not dense


def test_an_unknown_cpu_capability_keeps_torchs_kernel(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    assert adam._unavailable_reason() == "CPU capability DEFAULT not measured"


def test_a_kernel_that_differs_from_torch_is_not_used(monkeypatch):
    # a tail that starts elsewhere is rounded the other way in places, and the check sees it
    capability = torch.backends.cpu.get_cpu_capability()
    if capability not in adam._WIDTHS:
        pytest.skip("torch's kernel is not the one measured")
    monkeypatch.setitem(adam._WIDTHS, capability, 4)
    assert adam._unavailable_reason() == "differs from torch's fused kernel on this machine"
