"""Hostile review of model code held in a string: a missing file's name is never read as code."""

import pytest

import cnnlab


@pytest.mark.parametrize("name", ["model (1).keras", "my_model(2).h5", "runs/model(1)", "models\\net (copy)",
                                  "~/Downloads/cnn(3)"])
def test_a_missing_file_name_with_brackets_is_a_missing_file(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(cnnlab.ModelError, match=r"^unknown model .*: not a preset .* and no such file$"):
        cnnlab.load_model(name)


@pytest.mark.parametrize("code", ["Dense(64 // 2)", "keras.layers.Dense(10)", "Dense(10)  ", "Dense(units=4)"])
def test_one_line_of_code_is_still_code(code):
    assert cnnlab.load_model(code, input_shape=(4,)).layers[-1].kind == "Dense"
