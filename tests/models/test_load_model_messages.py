"""cnnlab.load_model from Python: what it accepts and messages in Python's words."""

import pytest

import cnnlab

LAYERS = "Conv2D(8, (3, 3))\nFlatten()\nDense(10)\n"


def test_missing_input_shape_names_the_keyword_in_python(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text(LAYERS)
    spec = cnnlab.load_model(str(path))
    with pytest.raises(cnnlab.ModelError) as raised:
        cnnlab.analyze(spec)
    assert str(raised.value) == ("model 'sequential' has no known input shape; give the data's shape, "
                                 "e.g. cnnlab.load_model(..., input_shape=(32, 32, 3))")
    assert "--" not in str(raised.value)
    assert cnnlab.analyze(cnnlab.load_model(str(path), input_shape=(8, 8, 1))).total == (3 * 3 * 8 + 8) + (6 * 6 * 8 * 10 + 10)


def test_a_bad_input_shape_names_the_keyword_in_python_and_the_flag_on_the_cli(tmp_path, cli):
    path = tmp_path / "model.txt"
    path.write_text(LAYERS)
    with pytest.raises(cnnlab.ModelError, match=r"^input_shape 'abc' is not a shape; write it like 32,32,3$"):
        cnnlab.load_model(str(path), input_shape="abc")
    code, _, err = cli("summary", str(path), "--input-shape", "abc")
    assert (code, err) == (2, "cnnlab: error: --input-shape 'abc' is not a shape; write it like 32,32,3\n")


def test_model_code_in_a_string_is_read_as_the_same_code_in_a_file(tmp_path):
    keras_code = ("from tensorflow import keras\n"
                  "model = keras.Sequential([keras.Input(shape=(8, 8, 1)), keras.layers.Conv2D(8, (3, 3)),\n"
                  "                          keras.layers.Flatten(), keras.layers.Dense(10)])\n")
    for text, shape in ((LAYERS, (8, 8, 1)), (keras_code, None), ("Dense(10)", (4,))):
        path = tmp_path / "model.py"
        path.write_text(text)
        assert cnnlab.load_model(text, input_shape=shape) == cnnlab.load_model(str(path), input_shape=shape)
    assert cnnlab.analyze(cnnlab.load_model(keras_code)).total == (3 * 3 * 8 + 8) + (6 * 6 * 8 * 10 + 10)
    with pytest.raises(cnnlab.ModelError, match=r"^the code: line 2: "):
        cnnlab.load_model("Dense(10)\nNotALayer(3)\n", input_shape=(4,))


def test_a_missing_file_name_is_not_read_as_code():
    for name in ("model (1).py", "my_model.txt", "cifar_modle"):
        with pytest.raises(cnnlab.ModelError, match="not a preset .* and no such file"):
            cnnlab.load_model(name)


def test_the_docstring_says_what_load_model_accepts():
    doc = cnnlab.load_model.__doc__
    for accepted in ("preset name", "Keras code", "layer list", "TOML or JSON", "ModelSpec", "input_shape"):
        assert accepted in doc
