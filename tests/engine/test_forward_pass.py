"""The evaluation forward pass (engine/forward.py): the model's own forward, up to rounding."""

import pytest
import torch

from cnnlab import engine
from cnnlab.engine import forward
from cnnlab.engine.forward import ForwardPass
from cnnlab.engine.native import compiler
from cnnlab.models.build import build
from cnnlab.models.layers import make_layer, new_spec
from cnnlab.models.presets import PRESETS

TOLERANCE = {"atol": 1e-5, "rtol": 1e-5}  # fp32, as the engine's oneDNN tests


def layer(kind, **args):
    return make_layer(kind, args)


def grid_model(n_layers):
    """The lesson's keras_tuner model (create_nn_with_hp) on Fashion-MNIST's shape."""
    conv = {"filters": 50, "kernel_size": 3, "activation": "relu"}
    return new_spec("grid", [
        layer("Conv2D", **conv), layer("MaxPooling2D", pool_size=2),
        *[layer("Conv2D", **conv) for _ in range(n_layers)], layer("MaxPooling2D", pool_size=2),
        layer("Dropout", rate=0.5), layer("Flatten"), layer("Dense", units=50, activation="relu"),
        layer("Dense", units=10),
    ], (28, 28, 1))


MODELS = {
    "cifar_model 32x32x3": lambda: PRESETS["cifar_model"].spec((32, 32, 3), 10),
    "cifar_model 28x28x1": lambda: PRESETS["cifar_model"].spec((28, 28, 1), 10),
    "cifar_model_dropout": lambda: PRESETS["cifar_model_dropout"].spec((20, 20, 3), 5),
    "mnist_convnet (dropout, softmax output)": lambda: PRESETS["mnist_convnet"].spec((28, 28, 1), 10),
    "dense_only": lambda: PRESETS["dense_only"].spec((12, 12, 3), 10),
    "keras_tuner grid model": lambda: grid_model(2),
    "same padding, no bias, sigmoid/tanh, pooling first": lambda: new_spec("mix", [
        layer("MaxPooling2D", pool_size=2, padding="same"),
        layer("Conv2D", filters=4, kernel_size=3, padding="same", activation="tanh", use_bias=False),
        layer("Conv2D", filters=6, kernel_size=(2, 3), strides=2, activation="relu"),
        layer("MaxPooling2D", pool_size=2, padding="same"),
        layer("Flatten"),
        layer("Dense", units=7, activation="sigmoid"),
        layer("ReLU"),
        layer("Dense", units=5, use_bias=False),
    ], (21, 19, 3)),
}


def eval_net(spec):
    torch.manual_seed(0)
    net = build(spec).to(memory_format=torch.channels_last)
    engine.use_kernels(net)
    return net.eval()


def plain(net, images):
    """The model's own forward: what evaluation ran before the forward pass."""
    with torch.inference_mode():
        return net(engine.to_input(images, torch.float32)).float()


def images_for(net, count, seed=1):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, *net.input_shape), dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize("name", MODELS)
def test_logits_are_the_models_forward(name, monkeypatch):
    monkeypatch.setattr(forward, "BATCH_PER_THREAD", 8)  # several batches and a smaller last one
    net = eval_net(MODELS[name]())
    assert ForwardPass.unsupported(net, "cpu", "fp32") is None
    images = images_for(net, 45)
    logits = ForwardPass(net)(images)
    expected = plain(net, images)
    assert logits.shape == expected.shape and logits.dtype == torch.float32
    torch.testing.assert_close(logits, expected, **TOLERANCE)
    # float images are taken as they are, not scaled
    floats = images.float() / 200 - 0.25
    with torch.inference_mode():
        expected = net(floats.permute(0, 3, 1, 2))
    torch.testing.assert_close(ForwardPass(net)(floats), expected, **TOLERANCE)


def test_weights_changed_in_place_or_replaced_are_followed():
    net = eval_net(MODELS["cifar_model 28x28x1"]())
    passes, images = ForwardPass(net), images_for(net, 20)
    passes(images)
    with torch.no_grad():
        net.blocks[0].conv.weight.mul_(-1.5)  # as an optimizer step does
    torch.testing.assert_close(passes(images), plain(net, images), **TOLERANCE)
    dense = net.blocks[-1].linear
    dense.weight.data = torch.randn_like(dense.weight)  # new memory, as loading weights may do
    torch.testing.assert_close(passes(images), plain(net, images), **TOLERANCE)


def test_non_finite_values_spread_as_in_the_model():
    net = eval_net(MODELS["cifar_model 28x28x1"]())
    with torch.no_grad():
        net.blocks[0].conv.weight[3, 0, 1, 1] = float("nan")
    images = images_for(net, 10)
    logits, expected = ForwardPass(net)(images), plain(net, images)
    assert torch.equal(logits.isnan(), expected.isnan()) and logits.isnan().any()


def test_empty_input_and_other_dtypes_are_left_to_the_model():
    net = eval_net(MODELS["cifar_model 28x28x1"]())
    passes = ForwardPass(net)
    assert passes(images_for(net, 0)) is None
    assert passes(images_for(net, 3).double()) is None


@pytest.mark.parametrize(("spec", "precision", "reason"), [
    (lambda: new_spec("overlap", [layer("MaxPooling2D", pool_size=3, strides=2), layer("Flatten"),
                                  layer("Dense", units=3)], (9, 9, 1)), "fp32",
     "layer max_pooling2d: overlapping pooling windows"),
    (lambda: new_spec("bn", [layer("Conv2D", filters=2, kernel_size=3), layer("BatchNormalization"),
                             layer("Flatten"), layer("Dense", units=3)], (9, 9, 1)), "fp32",
     "layer batch_normalization: BatchNormBlock"),
    (lambda: PRESETS["cifar_model"].spec((32, 32, 3), 10), "bf16", "precision bf16"),
])
def test_unsupported_says_why(spec, precision, reason):
    assert ForwardPass.unsupported(eval_net(spec()), "cpu", precision) == reason
    assert ForwardPass.unsupported(eval_net(spec()), "cuda", "fp32") == "written for the CPU, not cuda"


@pytest.mark.parametrize(("variable", "reason"), [
    ("CNNLAB_NATIVE", "CNNLAB_NATIVE=0"),
    ("CNNLAB_ONEDNN", "oneDNN is not installed (pip install onednn-devel-cpu-gomp)"),
])
def test_without_native_kernels_or_onednn_it_says_why(variable, reason, monkeypatch):
    monkeypatch.setenv(variable, "0")
    compiler.load.cache_clear()
    try:
        net = eval_net(MODELS["cifar_model 28x28x1"]())
        assert ForwardPass.unsupported(net, "cpu", "fp32") == reason
        with pytest.raises(ValueError, match="cannot run this model"):
            ForwardPass(net)
    finally:
        monkeypatch.delenv(variable)
        compiler.load.cache_clear()
        compiler._reasons.clear()
