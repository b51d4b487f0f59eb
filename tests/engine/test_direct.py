"""The direct training step: bit for bit what autograd (and autocast) compute, or autograd itself."""

import numpy as np
import pytest
import torch

from cnnlab.engine.direct import DirectStep
from cnnlab.models.build import build
from cnnlab.models.layers import make_layer, new_spec
from cnnlab.models.presets import PRESETS
from cnnlab.train.precision import cpu_has_bf16
from cnnlab.train.trainer import EpochState, Trainer

PRECISIONS = ["fp32", pytest.param("bf16", marks=pytest.mark.skipif(not cpu_has_bf16(), reason="no bf16 CPU"))]


def layer(kind, **args):
    return make_layer(kind, args)


# models covering every layer and option the direct step handles
MODELS = {
    "cifar_model": lambda: PRESETS["cifar_model"].spec((20, 20, 3), 5),
    "mnist_convnet (dropout, softmax output)": lambda: PRESETS["mnist_convnet"].spec((20, 20, 3), 5),
    "same padding, no bias, sigmoid/tanh, overlapping pool, dropout first": lambda: new_spec("mix", [
        layer("Dropout", rate=0.25),
        layer("Conv2D", filters=4, kernel_size=3, padding="same", activation="tanh", use_bias=False),
        layer("MaxPooling2D", pool_size=3, strides=2, padding="same"),
        layer("Conv2D", filters=6, kernel_size=(2, 3), strides=2, activation="relu"),
        layer("MaxPooling2D", pool_size=2, padding="same"),
        layer("Flatten"),
        layer("Dense", units=7, activation="sigmoid"),
        layer("ReLU"),
        layer("Dense", units=5, use_bias=False),
    ], (20, 20, 3)),
    "1x1 kernels with strides": lambda: new_spec("pointwise", [
        layer("Conv2D", filters=4, kernel_size=1, strides=2, activation="relu"),
        layer("Conv2D", filters=3, kernel_size=1, strides=(1, 3), padding="same"),
        layer("Flatten"), layer("Dense", units=5),
    ], (20, 20, 3)),
    "dense only": lambda: new_spec("mlp", [
        layer("Flatten"), layer("Dense", units=8, activation="relu"), layer("Dropout", rate=0.5),
        layer("Dense", units=5, activation="softmax"),
    ], (20, 20, 3)),
}


def train_steps(spec, precision, step: str, steps=6, batch=8):
    """step: "autograd", "direct" (oneDNN convolutions and a step program where available),
    "direct, layer by layer" (no program), "direct, torch ops"."""
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.integers(0, 256, (steps * batch, 20, 20, 3), dtype=np.uint8))
    y = torch.from_numpy(rng.integers(0, 5, steps * batch))
    torch.manual_seed(0)
    # the oneDNN primitives themselves are compared with torch in test_onednn.py
    mode = {"autograd": "autograd", "direct": "auto", "direct, layer by layer": "layers",
            "direct, torch ops": "torch-ops"}[step]
    trainer = Trainer(build(spec), _placement(precision), "adam", 1e-2, step=mode)
    state = EpochState(0)
    trainer.train_epoch(x, y, state, batch, seed=3)
    return trainer, state


def _placement(precision):
    from cnnlab.train.precision import Placement

    return Placement("cpu", precision, torch.get_num_threads())


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", MODELS)
def test_direct_step_trains_bit_for_bit_as_autograd(model, precision):
    spec = MODELS[model]()
    direct, direct_state = train_steps(spec, precision, "direct, torch ops")
    assert direct.step_kind == "direct" and direct.direct is not None
    reference, reference_state = train_steps(spec, precision, "autograd")
    assert direct_state.means() == reference_state.means()
    for (name, a), b in zip(direct.net.named_parameters(), reference.net.parameters()):
        assert torch.equal(a, b), name
        assert torch.equal(a.grad, b.grad), name


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", MODELS)
def test_direct_step_with_onednn_convolutions_computes_autograds_gradients(model, precision):
    spec = MODELS[model]()
    direct, direct_state = train_steps(spec, precision, "direct", steps=1)
    reference, reference_state = train_steps(spec, precision, "autograd", steps=1)
    tolerance = 1e-5 if precision == "fp32" else 2e-2  # bf16: a rounding step may differ
    assert direct_state.means()[0] == pytest.approx(reference_state.means()[0], rel=tolerance)
    for (name, a), b in zip(direct.net.named_parameters(), reference.net.parameters()):
        scale = b.grad.abs().max().item() or 1.0
        assert (a.grad - b.grad).abs().max().item() <= tolerance * scale, name


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("use_programs", [True, False])
def test_a_weight_given_new_memory_trains_as_one_changed_in_place(precision, use_programs):
    """cnnlab copies weights in place; code that assigns `param.data` must not train stale ones."""
    x = torch.from_numpy(np.random.default_rng(2).integers(0, 256, (16, 20, 20, 3), dtype=np.uint8))
    y = torch.arange(16) % 5
    results = []
    for new_memory in (False, True):
        step = "direct" if use_programs else "direct, layer by layer"
        trainer, _ = train_steps(MODELS["cifar_model"](), precision, step, steps=1)
        weight = next(trainer.net.parameters())
        if new_memory:
            weight.data = torch.full_like(weight, 0.01)
        else:
            weight.detach().fill_(0.01)
        state = EpochState(0)
        trainer.train_epoch(x, y, state, 8, seed=0)
        results.append((state.means(), [p.detach().clone() for p in trainer.net.parameters()]))
    (means_in_place, weights_in_place), (means_moved, weights_moved) = results
    assert means_moved == means_in_place
    assert all(torch.equal(a, b) for a, b in zip(weights_moved, weights_in_place))


def test_weights_change_and_training_continues_after_a_reload():
    spec = MODELS["cifar_model"]()
    trainer, _ = train_steps(spec, "fp32", "direct")
    before = [p.detach().clone() for p in trainer.net.parameters()]
    trainer.net.load_state_dict(build(spec).state_dict())  # e.g. a checkpoint restored
    fresh = [p.detach().clone() for p in trainer.net.parameters()]
    assert not all(torch.equal(a, b) for a, b in zip(before, fresh))
    x = torch.zeros((4, 20, 20, 3), dtype=torch.uint8)
    trainer.train_epoch(x, torch.zeros(4, dtype=torch.int64), EpochState(0), 4, seed=0)
    after = [p.detach() for p in trainer.net.parameters()]
    # one Adam step from the reloaded weights moves each weight by at most lr (and some at all)
    assert all((a - b).abs().max() <= 1e-2 + 1e-6 for a, b in zip(after, fresh))
    assert any(not torch.equal(a, b) for a, b in zip(after, fresh))


@pytest.mark.parametrize("layers, reason", [
    ([layer("Conv2D", filters=2, kernel_size=3), layer("BatchNormalization")], "layer batch_normalization: BatchNorm"),
    ([layer("AveragePooling2D", pool_size=2)], "average pooling"),
    ([layer("Conv2D", filters=2, kernel_size=3), layer("Dense", units=3)], "Dense on 4-D input"),
    ([layer("Conv2D", filters=2, kernel_size=3), layer("GlobalAveragePooling2D")], "GlobalPool"),
    ([layer("Flatten"), layer("Dense", units=4, activation="softmax"), layer("Dense", units=2)], "activation 'softmax'"),
])
def test_other_models_train_through_autograd_and_say_why(layers, reason):
    spec = new_spec("other", layers + [layer("Flatten"), layer("Dense", units=2)], (6, 6, 1))
    trainer = Trainer(build(spec), _placement("fp32"), "adam", 1e-3)
    assert trainer.direct is None
    assert trainer.step_kind.startswith("autograd (") and reason in trainer.step_kind
    with pytest.raises(ValueError, match="cannot train"):
        DirectStep(trainer.net, "fp32")


def test_evaluation_only_trainers_have_no_training_step():
    trainer = Trainer(build(MODELS["cifar_model"]()), _placement("fp32"))
    assert trainer.direct is None and trainer.step_kind == "autograd"


def test_the_lesson_model_trains_with_the_onednn_primitives_in_one_step_program_where_installed():
    from cnnlab.engine.native import onednn
    from cnnlab.engine.native import step as native_step

    trainer, _ = train_steps(MODELS["cifar_model"](), "fp32", "direct", steps=1)
    installed = onednn.library() is not None
    convs = [stage for stage in trainer.direct.stages if type(stage).__name__ == "_Conv"]
    dense = [stage for stage in trainer.direct.stages if type(stage).__name__ == "_Dense"]
    assert len(convs) == 3 and len(dense) == 2
    assert all((call is not None) == installed for stage in convs for call in stage.calls.values())
    assert all(len(stage.calls) == 3 for stage in dense)  # forward, input and weight gradients
    assert list(trainer.direct.programs) == [(8, 20, 20, 3)]
    assert (trainer.direct.programs[(8, 20, 20, 3)] is not None) == native_step.available()
    assert trainer.direct.program_unsupported() is None or not native_step.available()


# models a step program holds: the lesson's, one without biases and with strides, a flat one
PROGRAM_MODELS = {
    "cifar_model": MODELS["cifar_model"],
    "no bias, strides, linear conv": lambda: new_spec("strided", [
        layer("Conv2D", filters=4, kernel_size=3, activation="relu", use_bias=False),
        layer("MaxPooling2D", pool_size=2),
        layer("Conv2D", filters=6, kernel_size=(2, 3), strides=2),
        layer("Flatten"),
        layer("Dense", units=5, use_bias=False),
    ], (20, 20, 3)),
    "flatten first": lambda: new_spec("flat", [
        layer("Flatten"), layer("Dense", units=8, activation="relu"), layer("Dense", units=5),
    ], (20, 20, 3)),
    "mnist_convnet (dropout, softmax output)": MODELS["mnist_convnet (dropout, softmax output)"],
    "dense only": MODELS["dense only"],
    "cifar_model_dropout": lambda: PRESETS["cifar_model_dropout"].spec((20, 20, 3), 5),
    "same padding": lambda: new_spec("same", [
        layer("Conv2D", filters=4, kernel_size=3, padding="same", activation="relu"),
        layer("MaxPooling2D", pool_size=2, padding="same"),
        layer("Conv2D", filters=6, kernel_size=(2, 3), strides=2, padding="same"),
        layer("MaxPooling2D", pool_size=(3, 2), padding="same"),
        layer("Flatten"), layer("Dense", units=5),
    ], (20, 20, 3)),
    "sigmoid, tanh, activation layers": lambda: new_spec("activations", [
        layer("Conv2D", filters=4, kernel_size=3, activation="tanh"),
        layer("MaxPooling2D", pool_size=2),
        layer("Conv2D", filters=6, kernel_size=3, activation="sigmoid"),
        layer("Flatten"),
        layer("Dense", units=7, activation="sigmoid"),
        layer("ReLU"),
        layer("Activation", activation="tanh"),
        layer("Dense", units=5),
    ], (20, 20, 3)),
}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", PROGRAM_MODELS)
def test_the_step_program_computes_what_the_layer_by_layer_step_does(model, precision):
    """Same kernels, so the same numbers, up to the rounding of the loss's exp and log."""
    from cnnlab.engine.native import onednn
    from cnnlab.engine.native import step as native_step

    if not native_step.available() or not onednn.dtype_works(getattr(torch, {"fp32": "float32"}.get(precision, "bfloat16"))):
        pytest.skip("no step programs here")
    spec = PROGRAM_MODELS[model]()
    programmed, programmed_state = train_steps(spec, precision, "direct")
    layered, layered_state = train_steps(spec, precision, "direct, layer by layer")
    assert [p is not None for p in programmed.direct.programs.values()] == [True]
    assert layered.direct.programs == {}
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    assert programmed_state.means()[0] == pytest.approx(layered_state.means()[0], rel=tolerance)
    assert programmed_state.means()[1] == layered_state.means()[1]
    for (name, a), b in zip(programmed.net.named_parameters(), layered.net.parameters()):
        scale = b.abs().max().item() or 1.0
        assert (a - b).abs().max().item() <= tolerance * scale, name


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("model", ["cifar_model", "flatten first", "mnist_convnet (dropout, softmax output)"])
def test_float_images_train_in_a_step_program_as_autograd_trains_them(model, precision):
    """Float32 images (cnnlab.keras's standardised inputs) are read as given by the program."""
    from cnnlab.engine.native import onednn
    from cnnlab.engine.native import step as native_step

    if not native_step.available() or not onednn.dtype_works(getattr(torch, {"fp32": "float32"}.get(precision, "bfloat16"))):
        pytest.skip("no step programs here")
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.standard_normal((48, 20, 20, 3)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 5, 48))
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    for steps in (1, 6):  # one step's gradients, then an epoch's losses
        results = {}
        for mode in ("auto", "layers", "autograd"):
            torch.manual_seed(0)
            trainer = Trainer(build(PROGRAM_MODELS[model]()), _placement(precision), "adam", 1e-2, step=mode)
            state = EpochState(0)
            trainer.train_epoch(x[: steps * 8], y[: steps * 8], state, 8, seed=3)
            results[mode] = trainer, state
        programmed, state = results["auto"]
        assert [key[-1] for key, p in programmed.direct.programs.items() if p is not None] == ["float32"]
        for mode in ("layers", "autograd"):
            other, other_state = results[mode]
            assert state.means()[0] == pytest.approx(other_state.means()[0], rel=tolerance)
            if steps == 1:
                for (name, a), b in zip(programmed.net.named_parameters(), other.net.parameters()):
                    scale = b.grad.abs().max().item() or 1.0
                    assert (a.grad - b.grad).abs().max().item() <= tolerance * scale, (mode, name)


@pytest.mark.parametrize("layers, reason", [
    (MODELS["same padding, no bias, sigmoid/tanh, overlapping pool, dropout first"]().layers,
     "layers before the first weights"),
    ([layer("Conv2D", filters=2, kernel_size=3), layer("MaxPooling2D", pool_size=3, strides=2)],
     "layer max_pooling2d: overlapping pooling windows"),
])
def test_models_a_step_program_cannot_hold_train_layer_by_layer_and_say_why(layers, reason):
    from cnnlab.engine.native import step as native_step

    if not native_step.available():
        pytest.skip("no step programs here")
    layers = [layer(lay.kind, **lay.args) for lay in layers]  # unnamed, so names are Keras's defaults
    spec = new_spec("other", layers + ([layer("Flatten")] if layers[-1].kind != "Flatten" else [])
                    + [layer("Dense", units=5)], (20, 20, 3))
    trainer, _ = train_steps(spec, "fp32", "direct", steps=1)
    assert list(trainer.direct.programs.values()) == [None]
    assert trainer.direct.program_unsupported() == reason


def test_training_flushes_subnormal_floats_to_zero_and_then_stops():
    """Subnormals make Adam's late steps slow; training counts them as zero, as TensorFlow does."""
    tiny = torch.tensor([1e-39])  # subnormal in float32
    seen = []
    trainer = Trainer(build(MODELS["cifar_model"]()), _placement("fp32"), "adam", 1e-3)
    x = torch.zeros((8, 20, 20, 3), dtype=torch.uint8)
    trainer.train_epoch(x, torch.zeros(8, dtype=torch.int64), EpochState(0), 4, seed=0,
                        on_progress=lambda *_: seen.append((tiny * 1.0).item()))
    if torch.set_flush_denormal(False):  # a CPU that can flush
        assert seen and all(value == 0.0 for value in seen)
    assert (tiny * 1.0).item() != 0.0


def test_without_onednn_kernels_for_the_dtype_the_step_runs_torchs_operators(monkeypatch):
    from cnnlab.engine.native import onednn

    monkeypatch.setattr(onednn, "dtype_works", lambda dtype: False)
    trainer, state = train_steps(MODELS["cifar_model"](), "fp32", "direct", steps=2)
    assert trainer.direct.program_unsupported() == "oneDNN has no float32 kernels on this CPU"
    assert list(trainer.direct.programs.values()) == [None]
    reference, reference_state = train_steps(MODELS["cifar_model"](), "fp32", "direct, torch ops", steps=2)
    assert state.means() == reference_state.means()  # torch's operators, bit for bit
