"""The step program's own operations (step.c) against the torch operators they replace."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnlab.engine.native import step

pytestmark = pytest.mark.skipif(not step.available(), reason="no C compiler or oneDNN")
DTYPES = [torch.float32, torch.bfloat16]
SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e-40, -1e-40, 3.4e38, -3.4e38, float("inf"), float("-inf"), float("nan"),
           1.00390625, 1.01171875, 2.0**-126, 1 + 2**-8, 1 + 3 * 2**-9]  # ties and near-ties for bf16


def _run(program, labels=None):
    labels = torch.zeros(1, dtype=torch.int64) if labels is None else labels
    return program.finish().run(torch.zeros(1, dtype=torch.uint8), labels)


def _bits(t):
    return t.view(torch.int16) if t.dtype == torch.bfloat16 else t.view(torch.int32)


def _values(dtype, n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=g) * 10.0 ** torch.randint(-3, 3, (n,), generator=g)
    return torch.cat([torch.tensor(SPECIAL), x]).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_and_its_backward_give_torchs_bits(dtype):
    x, grad = _values(dtype), _values(dtype, seed=1)
    out, grad_in = torch.empty_like(x), grad.clone()
    program = step.Program()
    program.activate(x, "relu", out)
    program.activation_backward(grad_in, out, "relu")
    _run(program)
    nonzero = x != 0  # torch keeps relu(-0.0) as -0.0; this writes +0.0, the same number
    assert torch.equal(_bits(out)[nonzero], _bits(torch.relu(x))[nonzero])
    assert torch.equal(out[~nonzero], torch.relu(x)[~nonzero])
    want = torch.ops.aten.threshold_backward(grad, torch.relu(x), 0)
    assert torch.equal(_bits(grad_in), _bits(want))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_sigmoid_and_tanh_and_their_backward_are_torchs(name, dtype):
    x, grad = _values(dtype)[len(SPECIAL):], _values(dtype, seed=1)[len(SPECIAL):]
    out, grad_in = x.clone(), grad.clone()
    program = step.Program()
    program.activate(out, name)  # in place
    program.activation_backward(grad_in, out, name)
    _run(program)
    want = getattr(torch, name)(x)
    backward = getattr(torch.ops.aten, f"{name}_backward")(grad, want)
    # exp and tanh may round the last bit otherwise than torch's; the backward follows its order
    ulp = 2**-7 if dtype == torch.bfloat16 else 2**-22
    torch.testing.assert_close(out.float(), want.float(), rtol=ulp, atol=1e-7)
    torch.testing.assert_close(grad_in.float(), backward.float(), rtol=4 * ulp, atol=1e-6)


@pytest.mark.parametrize("source, target", [(a, b) for a in DTYPES for b in DTYPES])
def test_casts_give_torchs_bits(source, target):
    x = _values(torch.float32).to(source)
    y = torch.empty(x.shape, dtype=target)
    program = step.Program()
    program.cast(x, y)
    _run(program)
    nan = x.isnan()  # torch itself writes a NaN's bits two ways (vectorised and not)
    assert torch.equal(_bits(y)[~nan], _bits(x.to(target))[~nan])
    assert y[nan].isnan().all()


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 70), n=st.integers(1, 40), dtype=st.sampled_from(DTYPES), seed=st.integers(0, 99))
def test_column_sums_are_the_bias_gradients_torch_computes(rows, n, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(rows, n, generator=g).to(dtype)
    program = step.Program()
    out = program.column_sum(m)
    _run(program)
    # float32 sums down the rows, rounded once; torch may add in another order
    ulp = 2**-7 if dtype == torch.bfloat16 else 2**-20
    torch.testing.assert_close(out.float(), m.sum(0).float(), rtol=ulp, atol=ulp * rows)


def _reference(logits, labels):
    x = logits.float().requires_grad_()
    loss = F.cross_entropy(x, labels)
    loss.backward()
    return loss.detach(), x.grad.to(logits.dtype), (x.detach().argmax(dim=1) == labels).sum()


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 64), classes=st.integers(2, 12), dtype=st.sampled_from(DTYPES),
       scale=st.sampled_from([0.1, 3.0, 40.0]), seed=st.integers(0, 99))
def test_the_loss_its_gradient_and_the_hit_count_are_torchs(rows, classes, dtype, scale, seed):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(rows, classes, generator=g) * scale).to(dtype)
    labels = torch.randint(0, classes, (rows,), generator=g)
    program = step.Program()
    grad = program.cross_entropy(logits)
    loss, correct = _run(program, labels)
    want_loss, want_grad, want_correct = _reference(logits, labels)
    assert loss.item() == pytest.approx(want_loss.item(), rel=1e-6, abs=1e-6)  # log of a sum near 1
    assert correct.item() == want_correct.item()
    # exp and log may round the last bit differently from torch's (vectorised) ones
    ulp = 2**-7 if dtype == torch.bfloat16 else 2**-22
    torch.testing.assert_close(grad.float(), want_grad.float(), rtol=ulp, atol=2**-21 / rows)  # 4 ulp of 1/rows


def test_ties_count_the_first_largest_logit_and_nan_counts_as_largest():
    logits = torch.tensor([[1.0, 3.0, 3.0], [float("nan"), 5.0, 1.0], [2.0, 2.0, float("nan")]])
    program = step.Program()
    program.cross_entropy(logits)
    _, correct = _run(program, torch.tensor([1, 0, 2]))
    assert correct.item() == 3 == (logits.argmax(dim=1) == torch.tensor([1, 0, 2])).sum().item()


@pytest.mark.parametrize("bad", [-1, 3, 100])
def test_a_label_that_is_no_class_index_is_refused_before_anything_is_written(bad):
    logits = torch.randn(4, 3)
    program = step.Program()
    grad = program.cross_entropy(logits)
    grad.fill_(7.0)
    with pytest.raises(ValueError, match=r"labels must be class indices 0\.\.2"):
        _run(program, torch.tensor([0, 1, bad, 2]))
    assert torch.all(grad == 7.0) and program.loss.item() == 0.0


@settings(max_examples=30, deadline=None)
@given(pads=st.tuples(*[st.integers(0, 3)] * 4), h=st.integers(1, 7), w=st.integers(1, 7),
       dtype=st.sampled_from(DTYPES), value=st.sampled_from([0.0, float("-inf")]))
def test_padding_and_cropping_are_f_pads(pads, h, w, dtype, value):
    x = torch.randn(2, 3, h, w).to(dtype).contiguous(memory_format=torch.channels_last)
    program = step.Program()
    padded = program.pad(x, pads, value)
    back = program.crop(padded, pads)
    _run(program)
    assert torch.equal(padded, F.pad(x, pads, value=value))
    assert torch.equal(back, x) and back.is_contiguous(memory_format=torch.channels_last)


def test_a_profiled_run_adds_each_operations_time_and_names_its_section():
    x = torch.randn(1000)
    program = step.Program()
    program.section = "dense forward"
    program.activate(x, "relu", torch.empty_like(x))
    program.section = "loss"
    program.cross_entropy(torch.randn(4, 3))
    program.finish()
    assert program.operations() == [("dense forward", "activation"), ("loss", "loss")]
    seconds = torch.full((2,), 1.0, dtype=torch.float64)
    images, labels = torch.zeros(1, dtype=torch.uint8), torch.tensor([0, 1, 2, 0])
    program.run(images, labels, seconds)
    assert torch.all(seconds > 1.0) and torch.all(seconds < 2.0)  # added to what was there
    with pytest.raises(ValueError, match="seconds must be a contiguous float64 tensor of 2 elements"):
        program.run(images, labels, torch.zeros(3, dtype=torch.float64))
