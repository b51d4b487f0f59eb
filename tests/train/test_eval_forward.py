"""Trainer.evaluate and Trainer.logits: the engine's forward pass gives the model's own results."""

import os

import pytest
import torch
import torch.nn.functional as F

from cnnlab import engine
from cnnlab.engine.native import compiler
from cnnlab.models.build import build
from cnnlab.models.layers import make_layer, new_spec
from cnnlab.models.presets import PRESETS
from cnnlab.train.precision import choose
from cnnlab.train.trainer import EpochState, Trainer

TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}
# `make test-portable` runs this file without the C kernels, then without oneDNN: the reason given
KERNELS_OFF = ("CNNLAB_NATIVE=0" if os.environ.get("CNNLAB_NATIVE") == "0" else
               "oneDNN is not installed (pip install onednn-devel-cpu-gomp)"
               if os.environ.get("CNNLAB_ONEDNN") == "0" else None)


def grid_model():
    conv = {"filters": 50, "kernel_size": 3, "activation": "relu"}
    layers = [("Conv2D", conv), ("MaxPooling2D", {"pool_size": 2}), ("Conv2D", conv),
              ("MaxPooling2D", {"pool_size": 2}), ("Dropout", {"rate": 0.8}), ("Flatten", {}),
              ("Dense", {"units": 50, "activation": "relu"}), ("Dense", {"units": 10})]
    return new_spec("grid", [make_layer(kind, dict(args)) for kind, args in layers], (28, 28, 1))


MODELS = {
    "cifar_model 32x32x3": lambda: PRESETS["cifar_model"].spec((32, 32, 3), 10),
    "cifar_model 28x28x1": lambda: PRESETS["cifar_model"].spec((28, 28, 1), 10),
    "mnist_convnet": lambda: PRESETS["mnist_convnet"].spec((28, 28, 1), 10),
    "keras_tuner grid model": grid_model,
}


@pytest.fixture(params=["native", "CNNLAB_NATIVE=0"])
def kernels(request, monkeypatch):
    """Turns the C kernels off (for what loads them next) when the test calls it."""

    if request.param == "native" and KERNELS_OFF:
        pytest.skip(f"this pass runs without the engine's kernels: {KERNELS_OFF}")

    def turn_off():
        if request.param != "native":
            monkeypatch.setenv("CNNLAB_NATIVE", "0")
            compiler.load.cache_clear()
        return request.param

    yield turn_off
    monkeypatch.delenv("CNNLAB_NATIVE", raising=False)
    compiler.load.cache_clear()
    compiler._reasons.clear()


def trained(spec, count=300):
    """A Trainer after one epoch (weights moved off their initial values), and data."""
    torch.manual_seed(0)
    trainer = Trainer(build(spec), choose("fp32", 1), "adam", 1e-3)
    generator = torch.Generator().manual_seed(2)
    shape = trainer.net.input_shape
    x = torch.randint(0, 256, (count, *shape), dtype=torch.uint8, generator=generator)
    y = torch.randint(0, 10, (count,), generator=generator)
    trainer.train_epoch(x, y, EpochState(0), 32, seed=0)
    return trainer, x, y


def plain_logits(trainer, x):
    """The model's own forward, as evaluation ran it before the engine's forward pass."""
    with torch.inference_mode():
        trainer.net.eval()
        return trainer.net(engine.to_input(x, torch.float32)).float()


@pytest.mark.parametrize("name", MODELS)
def test_evaluate_and_logits_match_the_models_forward(name, kernels):
    trainer, x, y = trained(MODELS[name]())
    kind = kernels()  # evaluation only: training without them is tests/engine's
    loss, accuracy, predicted = trainer.evaluate(x, y)
    if kind == "native":
        assert isinstance(trainer.forward_pass, engine.ForwardPass)
    else:
        assert trainer.forward_pass == "CNNLAB_NATIVE=0"
    expected = plain_logits(trainer, x)
    torch.testing.assert_close(trainer.logits(x), expected, **TOLERANCE)
    assert loss == pytest.approx(F.cross_entropy(expected, y).item(), rel=1e-5)
    assert torch.equal(predicted, expected.argmax(dim=1))
    assert accuracy == (expected.argmax(dim=1) == y).double().mean().item()


def test_evaluation_follows_training():
    """The forward pass points at the weights: after more training it sees the new values."""
    trainer, x, y = trained(MODELS["cifar_model 28x28x1"]())
    before = trainer.logits(x)
    trainer.train_epoch(x, y, EpochState(1), 32, seed=0)
    after = trainer.logits(x)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, plain_logits(trainer, x), **TOLERANCE)


def test_models_the_forward_pass_does_not_cover_evaluate_as_before():
    spec = new_spec("bn", [make_layer("Conv2D", {"filters": 2, "kernel_size": 3}),
                           make_layer("BatchNormalization", {}), make_layer("Flatten", {}),
                           make_layer("Dense", {"units": 10})], (9, 9, 1))
    trainer, x, y = trained(spec, count=40)
    torch.testing.assert_close(trainer.logits(x), plain_logits(trainer, x))
    assert trainer.forward_pass == (KERNELS_OFF or "layer batch_normalization: BatchNormBlock")
