"""`model.save('x.keras')` / `load_model('x.keras')` / save_weights in Keras 3's own format,
with real Keras as the oracle both ways, and hostile files refused."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnnlab import keras as ck
from cnnlab.keras.keras_config import KerasFileError
from cnnlab.keras.saving import keras_layout
from cnnlab.models.layers import ModelError

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")


def digits(n=256):
    from cnnlab.datasets import load_dataset

    (x, y), _ = load_dataset("digits")
    return (x[:n] / 255.0).astype("float32"), y[:n]


def functional(k, name="cnn"):
    inputs = k.Input(shape=(8, 8, 1))
    x = k.layers.Conv2D(8, (3, 3), activation="relu", padding="same")(inputs)
    x = k.layers.BatchNormalization()(x)
    x = k.layers.MaxPooling2D((2, 2))(x)
    x = k.layers.Dropout(0.25)(x)
    x = k.layers.Conv2D(6, 3, use_bias=False)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    outputs = k.layers.Dense(10)(x)
    model = k.Model(inputs=inputs, outputs=outputs, name=name)
    model.compile(optimizer=k.optimizers.Adam(learning_rate=0.002),
                  loss=k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def sequential(k):
    model = k.Sequential([
        k.layers.Conv2D(4, (3, 3), activation="relu", input_shape=(8, 8, 1)),
        k.layers.MaxPooling2D(),
        k.layers.Flatten(),
        k.layers.Dense(16, activation="relu"),
        k.layers.BatchNormalization(),
        k.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def summary(model) -> str:
    lines = []
    model.summary(print_fn=lambda text, line_break=None: lines.append(text))
    return "".join(lines)


def keras_load(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.saving.load_model(path, **kwargs)
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    return model


@pytest.mark.parametrize("build", [functional, sequential])
def test_a_cnnlab_keras_file_is_loaded_by_keras_with_the_same_predictions(tmp_path, build):
    x, y = digits()
    ck.backend.clear_session()
    ck.utils.set_random_seed(1)
    model = build(ck)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    model.save(tmp_path / "cnn_model.keras")
    with zipfile.ZipFile(tmp_path / "cnn_model.keras") as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        assert json.loads(archive.read("metadata.json"))["keras_version"] == ck.__version__
    loaded = keras_load(tmp_path / "cnn_model.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert summary(loaded) == summary(model)  # trained: both show the optimizer's parameters
    assert [la.name for la in loaded.layers] == [la.name for la in model.layers]
    assert int(loaded.optimizer.iterations) == 2 * 256 // 32
    first = next(model._trainer.net.parameters())  # the first kernel: Keras's slot 2 is its own
    slot = {"Adam": "exp_avg", "RMSprop": "square_avg"}[type(model.optimizer).__name__]
    np.testing.assert_array_equal(loaded.optimizer.variables[2].numpy(),
                                  keras_layout(model._trainer.optimizer.state[first][slot]))
    assert float(loaded.optimizer.learning_rate) == pytest.approx(model.optimizer.learning_rate)
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    assert loaded.loss.get_config()["from_logits"] == model.loss.from_logits


@pytest.mark.parametrize("build", [functional, sequential])
def test_a_keras_file_is_loaded_by_cnnlab_with_the_same_predictions(tmp_path, build):
    x, y = digits()
    keras.backend.clear_session()
    keras.utils.set_random_seed(2)
    model = build(keras)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # BatchNormalization statistics move
    model.save(tmp_path / "k.keras")
    loaded = ck.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert summary(loaded) == summary(keras_load(tmp_path / "k.keras"))  # with "Optimizer params"
    assert summary(ck.models.load_model(tmp_path / "k.keras", compile=False)) == \
        summary(keras_load(tmp_path / "k.keras", compile=False))
    # the optimizer's state as Keras restores it: its step count and each weight's slots
    slot = {"Adam": "exp_avg_sq", "RMSprop": "square_avg"}[type(model.optimizer).__name__]
    first = next(loaded._trainer.net.parameters())
    state = loaded._trainer.optimizer.state[first]
    assert float(state["step"]) == int(model.optimizer.iterations) == 256 // 32
    keras_slot = [v for v in model.optimizer.variables if v.path.endswith("velocity")][0]
    np.testing.assert_array_equal(keras_layout(state[slot]), keras_slot.numpy())
    assert loaded.name == model.name
    assert type(loaded.optimizer).__name__ == type(model.optimizer).__name__
    # Keras keeps the rate as float32; cnnlab reads back the number the learner typed
    assert loaded.optimizer.learning_rate == {"Adam": 0.002, "RMSprop": 0.001}[type(model.optimizer).__name__]
    assert np.float32(loaded.optimizer.learning_rate) == np.float32(model.optimizer.learning_rate)
    assert loaded._metrics == ["accuracy"]
    assert not ck.models.load_model(tmp_path / "k.keras", compile=False).compiled
    loaded.fit(x, y, epochs=1, verbose=0)  # the restored settings train


def test_round_trip_within_cnnlab_and_the_notebook_cell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = digits()
    ck.backend.clear_session()
    model = functional(ck)
    model.fit(x, y, epochs=1, verbose=0)
    model.save("cnn_model.keras")  # the lesson notebook's cell, unchanged
    loaded = ck.models.load_model("cnn_model.keras")
    assert np.array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [la.name for la in loaded.layers] == [la.name for la in model.layers]
    assert (loaded.optimizer.learning_rate, loaded.loss.from_logits, loaded._metrics) == (0.002, True, ["accuracy"])
    for each in (model, loaded):  # the optimizer's state came along: training goes on identically
        ck.utils.set_random_seed(3)
        each.fit(x, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))
    model.save("cnn_model.keras")
    before = (tmp_path / "cnn_model.keras").read_bytes()
    model.save("cnn_model.keras")  # Keras's default overwrite=True replaces the file
    with pytest.raises(ModelError, match="exists; pass overwrite=True"):
        model.save("cnn_model.keras", overwrite=False)
    assert len(before) > 0 and sorted(p.name for p in tmp_path.iterdir()) == ["cnn_model.keras"]


def test_save_weights_and_load_weights_in_keras_layout(tmp_path):
    x, y = digits()
    for k in (keras, ck):
        k.backend.clear_session()
    ours, theirs = functional(ck), functional(keras)
    ours.fit(x, y, epochs=1, verbose=0)
    ours.save_weights(tmp_path / "ours.weights.h5")
    theirs.load_weights(tmp_path / "ours.weights.h5")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x, verbose=0), atol=1e-5)
    theirs.fit(x, y, epochs=1, verbose=0)
    theirs.save_weights(tmp_path / "theirs.weights.h5")
    theirs.save(tmp_path / "theirs.keras")
    ck.backend.clear_session()
    fresh = functional(ck)
    fresh.load_weights(tmp_path / "theirs.weights.h5")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    ck.backend.clear_session()
    other = functional(ck)
    other.load_weights(tmp_path / "theirs.keras")
    np.testing.assert_allclose(other.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    with pytest.raises(ModelError, match=r"must end in `\.weights\.h5`"):
        ours.save_weights(tmp_path / "w.h5")
    with pytest.raises(KerasFileError, match=r"layer 'dense' \(Dense\) weight 0: shape"):
        ck.backend.clear_session()
        ck.Sequential([ck.Input((8, 8, 1)), ck.layers.Flatten(), ck.layers.Dense(10, name="dense")]
                      ).load_weights(tmp_path / "theirs.keras")


def test_model_checkpoint_writes_keras_files(tmp_path):
    x, y = digits()
    ck.backend.clear_session()
    model = functional(ck)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ck.callbacks.ModelCheckpoint(str(tmp_path / "m-{epoch}.keras"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1.keras", "m-2.keras"]
    np.testing.assert_allclose(keras_load(tmp_path / "m-2.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-5)


def test_legacy_h5_is_refused_and_an_unbuilt_model_writes_nothing(tmp_path):
    ck.backend.clear_session()
    with pytest.raises(ModelError, match=r"legacy \.h5 model files are not supported.*model\.save\('my_model\.keras'\)"):
        functional(ck).save(tmp_path / "m.h5")
    with pytest.raises(ModelError, match="legacy"):
        ck.models.load_model(tmp_path / "m.h5")
    with pytest.raises(ModelError, match=r"holds weights only: write it with model\.save_weights\('m\.weights\.h5'\)"):
        ck.models.load_model(tmp_path / "m.weights.h5")
    with pytest.raises(ValueError, match="has not been built yet"):
        ck.Sequential([ck.layers.Dense(3)]).save(tmp_path / "m.keras")
    assert list(tmp_path.iterdir()) == []


def test_keras_files_cnnlab_cannot_hold_are_refused_by_name(tmp_path):
    keras.backend.clear_session()
    keras.Sequential([keras.layers.Dense(3)]).save(tmp_path / "unbuilt.keras")  # Keras warns only
    with pytest.raises(KerasFileError, match="the saved model has no input shape"):
        ck.models.load_model(tmp_path / "unbuilt.keras")
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, kernel_initializer="he_normal")(inputs)
    keras.Model(inputs, keras.layers.Flatten()(x)).save(tmp_path / "he.keras")
    with pytest.raises(KerasFileError, match=r"kernel_initializer='he_normal' is not supported"):
        ck.models.load_model(tmp_path / "he.keras")
    branch = keras.layers.Conv2D(4, 3)(inputs)
    keras.Model(inputs, keras.layers.Add()([branch, branch])).save(tmp_path / "add.keras")
    with pytest.raises(KerasFileError, match=r"layer 'add' takes 2 inputs; cnnlab\.keras loads models that are one chain"):
        ck.models.load_model(tmp_path / "add.keras")
    with pytest.raises(ModelError, match="custom_objects=.* is not supported"):
        ck.models.load_model(tmp_path / "he.keras", custom_objects={"x": int})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["add.keras", "he.keras", "unbuilt.keras"]


def test_import_cnnlab_does_not_import_h5py():
    code = "import sys, cnnlab, cnnlab.keras; print('h5py' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- hostile and damaged files --------------------------------------------------------------

def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_config(members, change) -> bytes:
    config = json.loads(members["config.json"])
    change(config)
    return _zip([*{**members, "config.json": json.dumps(config).encode()}.items()])


def _lambda(config):
    config["config"]["layers"][2] = {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "lambda", "function": {"class_name": "__lambda__",
                                                  "config": {"code": "4wEAAAAA"}}}}


def _custom(config):
    config["config"]["layers"][1]["registered_name"] = "my_package>MyConv"
    config["config"]["layers"][1]["module"] = "my_package.layers"


def _unknown(config):
    config["config"]["layers"][3]["class_name"] = "LSTM"


def _shape_mismatch(members, tmp_path):
    ck.backend.clear_session()
    other = ck.Sequential([ck.Input((8, 8, 1)), ck.layers.Conv2D(4, 3, activation="relu"),
                           ck.layers.MaxPooling2D(), ck.layers.Flatten(),
                           ck.layers.Dense(15, activation="relu"), ck.layers.BatchNormalization(),
                           ck.layers.Dense(10, activation="softmax")])
    other.save(tmp_path / "other.keras")
    weights = _members(tmp_path / "other.keras")["model.weights.h5"]
    (tmp_path / "other.keras").unlink()
    return _zip([*{**members, "model.weights.h5": weights}.items()])


HOSTILE = {
    "lambda layer": (lambda m, t: _with_config(m, _lambda),
                     r"layer 'lambda' \(Lambda\) holds Python code, which cnnlab\.keras never runs; "
                     r"it loads models made of Input, InputLayer, Conv2D"),
    "custom object": (lambda m, t: _with_config(m, _custom), r"custom object 'my_package>MyConv'"),
    "unknown layer": (lambda m, t: _with_config(m, _unknown),
                      r"layer 'flatten' \(LSTM\) is not supported by cnnlab\.keras; it loads models made of"),
    "shape mismatch": (_shape_mismatch,
                       r"layer 'dense' \(Dense\) weight 0: shape \(36, 15\) in the file, \(36, 16\) in the model$"),
    "truncated zip": (lambda m, t: _zip([*m.items()])[:700], r"not a complete \.keras file .*truncated"),
    "damaged member": (lambda m, t: _damage_weights(_zip([*m.items()])),
                       r"model\.weights\.h5 is damaged \(Bad CRC-32"),
    "oversized member": (lambda m, t: _zip([*{**m, "config.json": b" " * (17 * 2**20)}.items()],
                                           zipfile.ZIP_DEFLATED),
                         r"config\.json declares 17,825,792 bytes, more than the 16,777,216"),
    "path traversal": (lambda m, t: _zip([*m.items(), ("../../evil.py", b"print(1)")]),
                       r"member '\.\./\.\./evil\.py' points outside the archive"),
    "extra member": (lambda m, t: _zip([*m.items(), ("assets/x.bin", b"1")]),
                     r"members \['assets/x\.bin'\] are not part of a \.keras file"),
    "weights not hdf5": (lambda m, t: _zip([*{**m, "model.weights.h5": b"not an hdf5 file"}.items()]),
                         r"model\.weights\.h5 is not a readable HDF5 file"),
    "link in the weights": (lambda m, t: _zip([*{**m, "model.weights.h5": _linked(m)}.items()]),
                            r"layers/dense/vars/0: links inside the weights file are refused"),
    "pickled config": (lambda m, t: _zip([*{**m, "config.json": b"\x80\x04K\x01."}.items()]),
                       r"config\.json is not valid JSON"),
}


def _linked(members) -> bytes:
    """The weights with one array replaced by an external link to a file on this machine."""
    buffer = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buffer, "a") as h5:
        del h5["layers/dense/vars/0"]
        h5["layers/dense/vars/0"] = h5py.ExternalLink("/etc/passwd", "/x")
    return buffer.getvalue()


def _damage_weights(data: bytes) -> bytes:
    """Bytes inside the weights member overwritten, the zip's directory left as it was."""
    start = data.index(b"\x89HDF") + 512
    return data[:start] + bytes(256) + data[start + 256:]


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_files_are_refused_with_one_message_and_nothing_written(tmp_path, case):
    ck.backend.clear_session()
    good = sequential(ck)
    good.save(tmp_path / "good.keras")
    members = _members(tmp_path / "good.keras")
    (tmp_path / "good.keras").unlink()
    make, message = HOSTILE[case]
    bad = tmp_path / "bad.keras"
    bad.write_bytes(make(members, tmp_path))
    for load in (ck.models.load_model, lambda p: ck.models.load_model(p, compile=False)):
        with pytest.raises(ModelError, match=message) as info:
            load(bad)
        assert str(info.value).startswith(f"{bad}: ") and "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.keras"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _leaves(item, (*path, i))
    yield path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_the_config_loads_or_is_refused_with_a_model_error(tmp_path, data):
    if not (tmp_path / "good.keras").exists():
        ck.backend.clear_session()
        functional(ck).save(tmp_path / "good.keras")
    members = _members(tmp_path / "good.keras")
    config = json.loads(members["config.json"])
    paths = sorted(_leaves(config), key=repr)
    path = data.draw(st.sampled_from(paths))
    value = data.draw(JSON_VALUES)
    if path:
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    else:
        config = value
    bad = tmp_path / "bad.keras"
    bad.write_bytes(_zip([*{**members, "config.json": json.dumps(config).encode()}.items()]))
    try:
        ck.models.load_model(bad)
    except ModelError as e:
        assert str(e).startswith(f"{bad}: ") and "\n" not in str(e)


def test_model_checkpoint_weights_only_writes_weights_files_keras_reads(tmp_path):
    x, y = digits()
    ck.backend.clear_session()
    with pytest.raises(ModelError, match=r"must end in `\.weights\.h5`"):
        ck.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_weights_only=True)
    model = functional(ck)
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[ck.callbacks.ModelCheckpoint(str(tmp_path / "w-{epoch}.weights.h5"), save_weights_only=True)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w-1.weights.h5", "w-2.weights.h5"]
    theirs = functional(keras)
    theirs.load_weights(tmp_path / "w-2.weights.h5")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


def test_save_keywords_as_keras_takes_them(tmp_path):
    x, y = digits()
    ck.backend.clear_session()
    model = functional(ck)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "with.keras")
    model.save(tmp_path / "without.keras", include_optimizer=False)
    with zipfile.ZipFile(tmp_path / "with.keras") as a, zipfile.ZipFile(tmp_path / "without.keras") as b:
        with h5py.File(io.BytesIO(a.read("model.weights.h5"))) as ha, h5py.File(io.BytesIO(b.read("model.weights.h5"))) as hb:
            # Keras 3 keeps the optimizer in a .keras file whatever include_optimizer says
            assert "optimizer" in ha and "optimizer" in hb
    np.testing.assert_allclose(keras_load(tmp_path / "without.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-5)
    np.testing.assert_allclose(ck.models.load_model(tmp_path / "without.keras").predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-5)
    with pytest.warns(UserWarning, match="save_format is deprecated"):
        model.save(tmp_path / "fmt.keras", save_format="keras")
    keras_model = functional(keras)
    for name, bad, message in [("bad.tf", {"save_format": "tf"}, "gone in Keras 3"),
                               ("bad.keras", {"signatures": None}, "signatures are not supported")]:
        with pytest.raises(ModelError, match=message):
            model.save(tmp_path / name, **bad)
        with pytest.raises(ValueError):  # Keras refuses the same call
            keras_model.save(tmp_path / name, **bad)
    with pytest.raises(ModelError, match="zipped .keras file only"):  # Keras would write a folder
        model.save(tmp_path / "bad.keras", zipped=False)
    assert not list(tmp_path.glob("bad*"))
