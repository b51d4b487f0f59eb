"""The torch module: Keras initialisation, parameter counts, layout, final softmax."""

import math

import torch

from cnnlab.models.build import build
from cnnlab.models.layers import make_layer, new_spec
from cnnlab.models.presets import PRESETS


def test_parameter_counts_equal_the_lesson_totals():
    expected = {"dense100": 307_300, "conv100": 2_700, "dense_only": 156_710,
                "cifar_model_small": 47_370, "cifar_model": 36_138,
                "cifar_model_dropout": 36_138, "mnist_convnet": 34_826}
    for name, total in expected.items():
        assert sum(build(PRESETS[name].spec()).count_params()) == total, name


def test_glorot_uniform_kernels_and_zero_biases():
    torch.manual_seed(0)
    net = build(PRESETS["cifar_model"].spec())
    conv = net.blocks[0].conv  # 3x3x3 -> 32: fan_in 27, fan_out 288
    limit = math.sqrt(6 / (27 + 288))
    assert conv.weight.abs().max() <= limit
    assert conv.weight.abs().max() > 0.9 * limit  # spans the range, not a narrower init
    assert torch.count_nonzero(conv.bias) == 0
    dense = net.blocks[-1].linear  # 32 -> 10
    assert dense.weight.abs().max() <= math.sqrt(6 / 42)


def test_same_seed_same_weights():
    spec = PRESETS["cifar_model_small"].spec()
    torch.manual_seed(3)
    a = build(spec).state_dict()
    torch.manual_seed(3)
    b = build(spec).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_final_softmax_is_left_to_predict():
    net = build(PRESETS["mnist_convnet"].spec())
    assert net.output_softmax
    x = torch.rand(4, 1, 28, 28)
    probs = net.eval().predict_proba(x)
    torch.testing.assert_close(probs.sum(dim=-1), torch.ones(4))
    assert not torch.allclose(net(x).sum(dim=-1), torch.ones(4))  # forward gives logits


def test_batchnorm_stats_are_non_trainable():
    layers = [make_layer("Conv2D", {"filters": 8, "kernel_size": 3}), make_layer("BatchNormalization", {}),
              make_layer("Flatten", {}), make_layer("Dense", {"units": 2})]
    net = build(new_spec("bn", layers, (6, 6, 1)))
    assert net.count_params() == (80 + 16 + 16 * 8 * 2 + 2, 16)


def test_accepts_channels_last_batches():
    net = build(PRESETS["cifar_model"].spec())
    x = torch.rand(2, 32, 32, 3).permute(0, 3, 1, 2)  # NHWC data seen as NCHW
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert net(x).shape == (2, 10)


def test_same_average_pooling_averages_only_real_values_as_tensorflow():
    # [1, 2, 3, 4, 5], pool 3, 'same': out 2, one pad on the far side -> [mean(1,2,3), mean(4,5)]
    spec = new_spec("avg", [make_layer("AveragePooling2D", {"pool_size": 3, "padding": "same"})], (1, 5, 1))
    x = torch.arange(1.0, 6.0).reshape(1, 1, 1, 5)  # (N, C, H, W)
    assert build(spec)(x).flatten().tolist() == [2.0, 4.5]


def test_one_channel_convolutions_with_unequal_strides_are_right():
    """torch 2.13's CPU conv2d miscomputes these on channels_last input; build.conv_input avoids it."""
    torch.manual_seed(0)
    layers = [make_layer("Conv2D", {"filters": 1, "kernel_size": 1, "strides": 2, "use_bias": False}),
              make_layer("Conv2D", {"filters": 8, "kernel_size": (3, 3), "strides": (1, 2)})]
    net = build(new_spec("strided", layers, (19, 5, 2)))
    x = torch.rand(2, 19, 5, 2).permute(0, 3, 1, 2)  # a batch as the engine hands it over
    got = net(x)
    first, second = net.blocks
    want = torch.nn.functional.conv2d(
        torch.nn.functional.conv2d(x.double(), first.conv.weight.double(), None, 2),
        second.conv.weight.double(), second.conv.bias.double(), (1, 2),
    )
    assert torch.allclose(got.double(), want, atol=1e-5)
