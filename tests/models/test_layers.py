"""Layer specs: Keras's names, defaults and argument checks."""

import pytest

from cnnlab.models.layers import ModelError, ModelSpec, default_base_name, make_layer, new_spec


def test_keras_default_names():
    names = [default_base_name(k) for k in ("Conv2D", "MaxPooling2D", "BatchNormalization", "ReLU")]
    assert names == ["conv2d", "max_pooling2d", "batch_normalization", "re_lu"]
    spec = new_spec("m", [make_layer("Conv2D", {"filters": 1, "kernel_size": 1}) for _ in range(3)], (4, 4, 1))
    assert [layer.name for layer in spec.layers] == ["conv2d", "conv2d_1", "conv2d_2"]


def test_defaults_are_filled_in_canonical_form():
    layer = make_layer("MaxPooling2D", {"pool_size": 3})
    assert layer.args == {"pool_size": (3, 3), "strides": (3, 3), "padding": "valid"}


def test_spelled_out_defaults_are_accepted_and_others_refused():
    make_layer("Conv2D", {"filters": 2, "kernel_size": 3, "data_format": "channels_last",
                          "kernel_initializer": "glorot_uniform"})
    with pytest.raises(ModelError, match=r"^Conv2D: data_format='channels_first' is not supported; "
                       r"cnnlab supports only data_format='channels_last' \(Keras's default\)"):
        make_layer("Conv2D", {"filters": 2, "kernel_size": 3, "data_format": "channels_first"})


@pytest.mark.parametrize(
    "kind, args, message",
    [
        ("Conv3D", {}, "unknown layer 'Conv3D'; cnnlab knows Conv2D, MaxPooling2D"),
        ("Dense", {"units": 0}, "Dense: units=0 should be a positive integer"),
        ("Dense", {"units": 4, "activation": "gelu"}, "Dense: activation='gelu' should be one of"),
        ("Dense", {}, "Dense: missing required argument 'units'"),
        ("Dropout", {"rate": 1.5}, "Dropout: rate=1.5 should be a number in [0, 1)"),
        ("Conv2D", {"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size=(3, 3, 3) should be a positive integer or a pair"),
        ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "full"}, "padding='full' should be 'valid' or 'same'"),
        ("Dense", {"units": 2, "kernel": 3}, "Dense: unknown argument 'kernel'; Dense takes units, activation, use_bias"),
    ],
)
def test_bad_layers_say_what_is_wrong(kind, args, message):
    with pytest.raises(ModelError) as e:
        make_layer(kind, args, line=7)
    assert str(e.value).startswith("line 7: ")
    assert message in str(e.value)


def test_dict_round_trip():
    spec = new_spec("m", [make_layer("Conv2D", {"filters": 4, "kernel_size": 3}), make_layer("Flatten", {}),
                          make_layer("Dense", {"units": 2, "activation": "softmax"})], (8, 8, 1))
    again = ModelSpec.from_dict(spec.to_dict())
    assert again.to_dict() == spec.to_dict()


@pytest.mark.parametrize("args", [{"momentum": float("nan")}, {"momentum": 1.5}, {"epsilon": float("inf")},
                                  {"epsilon": float("nan")}, {"epsilon": -1e-3}])
def test_batch_normalization_refuses_numbers_that_break_it(args):
    with pytest.raises(ModelError, match="BatchNormalization"):
        make_layer("BatchNormalization", args)
