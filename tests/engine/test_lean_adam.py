"""LeanAdam runs torch's fused Adam update with less Python: same results, same state."""

import copy
import subprocess
import sys

import torch

from cnnlab.engine.lean_adam import LeanAdam
from cnnlab.train.optimizers import make_optimizer


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))


def _train(net, optimizer, steps, seed=1):
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x, y = torch.randn(8, 6, generator=g), torch.randint(0, 3, (8,), generator=g)
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()


def test_lean_adam_equals_torch_adam_bit_for_bit():
    a, b = _net(), _net()
    lean = make_optimizer("adam", a.parameters(), 1e-2, "cpu")
    assert isinstance(lean, LeanAdam)
    reference = torch.optim.Adam(b.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-7, fused=True)
    _train(a, lean, 20)
    _train(b, reference, 20)
    assert lean._state_lists is not None  # the short step was taken
    assert lean._native is not None  # in one C call (engine/native/adam.py)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    for s, t in zip(lean.state.values(), reference.state.values()):
        assert all(torch.equal(s[k], t[k]) for k in ("step", "exp_avg", "exp_avg_sq"))


def test_lean_adam_continues_exactly_after_loading_a_state_dict():
    a, b = _net(), _net()
    first = make_optimizer("adam", a.parameters(), 1e-2, "cpu")
    _train(a, first, 5)
    b.load_state_dict(a.state_dict())
    second = make_optimizer("adam", b.parameters(), 1e-2, "cpu")
    _train(b, second, 1, seed=9)  # creates state that the load below must replace
    b.load_state_dict(a.state_dict())
    second.load_state_dict(copy.deepcopy(first.state_dict()))  # torch would share the tensors
    _train(a, first, 5, seed=3)
    _train(b, second, 5, seed=3)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_a_parameter_without_gradient_takes_torchs_step():
    net = _net()
    frozen_out = torch.nn.Linear(6, 2)  # never used: no gradient
    optimizer = make_optimizer("adam", [*net.parameters(), *frozen_out.parameters()], 1e-2, "cpu")
    before = frozen_out.weight.detach().clone()
    _train(net, optimizer, 3)
    assert torch.equal(frozen_out.weight, before)


def test_without_the_c_update_torchs_fused_kernel_gives_the_same_bits(monkeypatch):
    from cnnlab.engine.native import adam

    a, b = _net(), _net()
    with_c = make_optimizer("adam", a.parameters(), 1e-2, "cpu")
    _train(a, with_c, 7)
    monkeypatch.setattr(adam, "available", lambda: False)
    without = make_optimizer("adam", b.parameters(), 1e-2, "cpu")
    _train(b, without, 7)
    assert with_c._native is not None and without._native is None and without._state_lists is not None
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_lean_adam_never_imports_torch_dynamo():
    # torch._dynamo takes seconds to import: a run that only trains with Adam must not pay it
    code = """
import sys, torch
from cnnlab.train.optimizers import make_optimizer
net = torch.nn.Linear(4, 3)
optimizer = make_optimizer("adam", net.parameters(), 1e-3, "cpu")
for _ in range(3):
    optimizer.zero_grad(set_to_none=True)
    net(torch.ones(2, 4)).sum().backward()
    optimizer.step()
short = optimizer._state_lists is not None
optimizer.load_state_dict(optimizer.state_dict())
print(short, "torch._dynamo" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["True", "False"], done.stderr


def test_lean_adam_first_state_is_torchs():
    a, b = _net(), _net()
    lean = make_optimizer("adam", a.parameters(), 1e-2, "cpu")
    reference = torch.optim.Adam(b.parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-7, fused=True)
    _train(a, lean, 1)
    _train(b, reference, 1)
    for s, t in zip(lean.state.values(), reference.state.values()):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert (s[key].dtype, s[key].device, s[key].stride()) == (t[key].dtype, t[key].device, t[key].stride())
            assert torch.equal(s[key], t[key])
    assert lean.state_dict()["state"].keys() == reference.state_dict()["state"].keys()
