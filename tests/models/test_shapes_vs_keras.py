"""Keras is the oracle: every layer's output shape and parameter count, and the summary text."""

import numpy as np
import pytest
import torch
from helpers.keras_oracle import keras, keras_model, keras_summary
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cnnlab.models.build import build
from cnnlab.models.layers import ModelError, make_layer, new_spec
from cnnlab.models.presets import PRESETS
from cnnlab.models.shapes import analyze
from cnnlab.models.summary import format_summary

pairs = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))
padding = st.sampled_from(["valid", "same"])
activation = st.sampled_from([None, "relu", "sigmoid", "tanh", "softmax", "linear"])

image_layer = st.one_of(
    st.builds(
        lambda f, k, s, p, a, b: ("Conv2D", dict(filters=f, kernel_size=k, strides=s, padding=p, activation=a, use_bias=b)),
        st.integers(1, 8), pairs, pairs, padding, activation, st.booleans(),
    ),
    st.builds(lambda k, s, p: ("MaxPooling2D", dict(pool_size=k, strides=s, padding=p)), pairs, st.one_of(st.none(), pairs), padding),
    st.builds(lambda k, p: ("AveragePooling2D", dict(pool_size=k, padding=p)), pairs, padding),
    st.just(("BatchNormalization", {})),
    st.builds(lambda r: ("Dropout", dict(rate=r)), st.sampled_from([0.0, 0.25, 0.5])),
    st.just(("ReLU", {})),
    st.builds(lambda a: ("Activation", dict(activation=a)), st.sampled_from(["relu", "tanh", "softmax"])),
    st.builds(lambda u, a: ("Dense", dict(units=u, activation=a)), st.integers(1, 6), activation),
)
to_vector = st.sampled_from([("Flatten", {}), ("GlobalAveragePooling2D", {}), ("GlobalMaxPooling2D", {})])
vector_layer = st.one_of(
    st.builds(lambda u, a, b: ("Dense", dict(units=u, activation=a, use_bias=b)), st.integers(1, 12), activation, st.booleans()),
    st.builds(lambda r: ("Dropout", dict(rate=r)), st.sampled_from([0.1, 0.5])),
    st.just(("BatchNormalization", {})),
)
stacks = st.tuples(
    st.tuples(st.integers(1, 24), st.integers(1, 24), st.integers(1, 3)),
    st.lists(image_layer, min_size=0, max_size=5),
    st.lists(st.tuples(to_vector, st.lists(vector_layer, max_size=3)), max_size=1),
    st.booleans(),
)


def make_spec(input_shape, image_layers, tail, functional):
    calls = list(image_layers)
    for head, rest in tail:
        calls += [head, *rest]
    if not calls:
        calls = [("Flatten", {})]
    layers = [make_layer(kind, args) for kind, args in calls]
    return new_spec("oracle", layers, input_shape, functional=functional)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks)
def test_shapes_params_and_summary_equal_keras(stack):
    spec = make_spec(*stack)
    try:
        model = keras_model(spec)
    except ValueError:  # Keras refuses the shapes (negative dimension): so must we
        with pytest.raises(ModelError):
            analyze(spec)
        return
    report = analyze(spec)
    offset = 1 if spec.functional else 0  # Keras lists the InputLayer in functional models
    keras_layers = [la for la in model.layers if type(la).__name__ != "InputLayer"]
    assert len(keras_layers) == len(report.layers)
    for ours, theirs in zip(report.layers, keras_layers):
        assert ours.output_shape == tuple(theirs.output.shape[1:]), ours.layer.name
        assert ours.params == theirs.count_params(), ours.layer.name
        assert ours.layer.name == theirs.name
    assert report.total == model.count_params()
    assert offset in (0, 1)
    assert format_summary(report, line_length=76, notes=False) == keras_summary(model, 76)
    trainable, non_trainable = build(spec).count_params()
    assert (trainable, non_trainable) == (report.trainable, report.non_trainable)


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("line_length", [76, 88])
def test_preset_summaries_are_keras_text(name, line_length, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(line_length + 4))  # the terminal Keras would be printing to
    spec = PRESETS[name].spec()
    model = keras_model(spec)
    assert format_summary(analyze(spec), line_length=line_length, notes=False) == keras_summary(model, line_length)


def _copy_keras_weights(model, net):
    """Keras kernels (kh, kw, in, out) / (in, out) into torch (out, in, kh, kw) / (out, in)."""
    by_name = {layer.name: layer for layer in model.layers}
    for name, block in zip(net.layer_names, net.blocks):
        weights = [np.asarray(w) for w in by_name[name].get_weights()]
        if hasattr(block, "conv"):
            block.conv.weight.data = torch.tensor(weights[0]).permute(3, 2, 0, 1).contiguous()
            if block.conv.bias is not None:
                block.conv.bias.data = torch.tensor(weights[1])
        elif hasattr(block, "linear"):
            block.linear.weight.data = torch.tensor(weights[0]).T.contiguous()
            if block.linear.bias is not None:
                block.linear.bias.data = torch.tensor(weights[1])
        elif hasattr(block, "bn"):
            gamma, beta, mean, var = (torch.tensor(w) for w in weights)
            block.bn.weight.data, block.bn.bias.data = gamma, beta
            block.bn.running_mean.data, block.bn.running_var.data = mean, var


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stacks, st.integers(0, 2**16))
def test_forward_pass_equals_keras(stack, seed):
    """Same weights, same input: same output (padding, Flatten order, Dense on 4-D, softmax)."""
    spec = make_spec(*stack)
    # Keras's torch backend pads 'same' average pooling with edge values where TensorFlow
    # averages only the real values ([1..5], pool 3: [2, 4.67] instead of [2, 4.5]); cnnlab
    # follows TensorFlow, checked by hand in test_build.py.
    assume(not any(layer.kind == "AveragePooling2D" and layer.args["padding"] == "same" for layer in spec.layers))
    try:
        model = keras_model(spec)
    except ValueError:
        return
    # Keras's torch backend runs torch's CPU conv2d, which miscomputes a one-channel input with
    # unequal strides; cnnlab works around it (checked against float64 in test_build.py).
    assume(not any(r.layer.kind == "Conv2D" and r.input_shape[-1] == 1
                   and len(set(r.layer.args["strides"])) > 1 for r in analyze(spec).layers))
    net = build(spec).eval()
    _copy_keras_weights(model, net)
    x = np.random.default_rng(seed).random((2, *spec.input_shape), dtype=np.float32)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    got = net(torch.from_numpy(x).permute(0, 3, 1, 2))
    if net.output_softmax:
        got = torch.softmax(got, dim=-1)
    if got.dim() == 4:
        got = got.permute(0, 2, 3, 1)
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-4, atol=1e-5)
