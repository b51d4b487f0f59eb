"""The command line: answers, exit codes, exact messages, and what it imports."""

import subprocess
import sys

import pytest

from cnnlab.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_params_dense_prints_the_lesson_answer_with_formula(capsys):
    code, out, _ = run(capsys, "params", "dense", "--input", "32x32x3", "--units", "100")
    assert code == 0
    assert "(3072 + 1) * 100 = 307,300" in out
    assert out.splitlines()[-1] == "307,300"


def test_params_conv_without_bias(capsys):
    code, out, _ = run(
        capsys, "params", "conv", "--kernel", "3x3", "--channels", "3", "--filters", "100", "--no-bias"
    )
    assert code == 0
    assert "3*3*3 * 100 = 2,700" in out
    assert out.splitlines()[-1] == "2,700"


def test_params_conv_with_input_gives_output_shape(capsys):
    code, out, _ = run(capsys, "params", "conv", "--input", "32x32x3", "--kernel", "3", "--filters", "32")
    assert code == 0
    assert "(3*3*3 + 1) * 32 = 896" in out
    assert "output shape = (None, 30, 30, 32)" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["params", "dense", "--input", "32xAx3", "--units", "10"],
         "cnnlab: error: --input '32xAx3' is not a shape; write it like 32,32,3\n"),
        (["params", "conv", "--kernel", "3x3", "--filters", "4"],
         "cnnlab: error: give --input HxWxC (e.g. 32x32x3) or --channels C\n"),
        (["params", "conv", "--input", "2x2x3", "--kernel", "3x3", "--filters", "4"],
         "cnnlab: error: the 3x3 kernel is larger than the 2x2 input; use padding='same' or a smaller kernel\n"),
        (["summary", "no_such_model"],
         "cnnlab: error: unknown model 'no_such_model': not a preset (dense100, conv100, dense_only, "
         "cifar_model_small, cifar_model, cifar_model_dropout, mnist_convnet, dollar_street_model_small, "
         "dollar_street_model, dollar_street_dense, dollar_street_model_extra, dollar_street_model_dropout) "
         "and no such file\n"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err == message
    assert out == ""


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["params", "dense", "--units", "x"])
    assert e.value.code == 2
    assert "invalid int value: 'x'" in capsys.readouterr().err


def test_summary_of_the_lesson_model(capsys):
    code, out, _ = run(capsys, "summary", "cifar_model", "--line-length", "76")
    assert code == 0
    assert out.startswith('Model: "cifar_model"\n')
    assert "│ conv2d_2 (Conv2D)               │ (None, 4, 4, 32)       │         9,248 │" in out
    assert " Total params: 36,138 (141.16 KB)\n" in out


def test_summary_explain_and_macs(capsys):
    code, out, _ = run(capsys, "summary", "cifar_model_small", "--explain", "--macs")
    assert code == 0
    assert "(1152 + 1) * 32 = 36,896" in out
    assert " Total MACs: 2,372,288 per image" in out


def test_summary_of_a_model_that_does_not_fit_says_where(capsys, tmp_path):
    code, _, err = run(capsys, "summary", "cifar_model", "--input-shape", "10,10,3")
    assert code == 2
    assert err == (
        "cnnlab: error: conv2d_2 (Conv2D): the 3x3 kernel is larger than its 1x1 input "
        "(Keras: negative dimension size); use padding='same', a smaller kernel, "
        "or fewer downsampling layers before it\n"
    )


def test_models_lists_presets_with_their_totals(capsys):
    code, out, _ = run(capsys, "models")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:3] for line in out.splitlines()[1:]}
    assert rows["cifar_model"] == ["32x32x3", "36,138"]
    assert rows["cifar_model_small"] == ["32x32x3", "47,370"]
    assert rows["dollar_street_model_dropout"] == ["64x64x3", "137,060"]  # the longest name keeps its columns


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["params", "dense", "--input", "32x32x3", "--units", "100"], ["summary", "cifar_model"]],
)
def test_cli_does_not_import_torch(argv):
    code = (
        "import sys\n"
        "from cnnlab.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_python_dash_m_works():
    result = subprocess.run(
        [sys.executable, "-m", "cnnlab", "params", "dense", "--input", "28x28", "--units", "10"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "7,850"


LESSON_CODE = """inputs = keras.Input(shape=train_images.shape[1:])
x = keras.layers.Conv2D(32, (3, 3), activation=’relu’)(inputs)
x = keras.layers.MaxPooling2D((2, 2))(x)
x = keras.layers.Conv2D(32, (3, 3), activation=’relu’)(x)
x = keras.layers.MaxPooling2D((2, 2))(x)
x = keras.layers.Conv2D(32, (3, 3), activation=’relu’)(x)
x = keras.layers.Flatten()(x)
x = keras.layers.Dense(32, activation=’relu’)(x)
outputs = keras.layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=outputs, name=“cifar_model”)
"""


def test_summary_of_pasted_keras_code_from_stdin(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(LESSON_CODE))
    code, out, _ = run(capsys, "summary", "-", "--input-shape", "32,32,3", "--line-length", "76")
    assert code == 0
    assert out.startswith('Model: "cifar_model"\n')
    assert " Total params: 36,138 (141.16 KB)\n" in out


def test_pasted_code_without_a_readable_input_shape(capsys, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(LESSON_CODE, encoding="utf-8")
    code, _, err = run(capsys, "summary", str(path))
    assert code == 2
    assert err == (
        "cnnlab: error: model 'cifar_model' has no known input shape (the code says "
        "train_images.shape[1:]); give --input-shape 32,32,3 or --dataset cifar10\n"
    )
    code, out, _ = run(capsys, "summary", str(path), "--dataset", "mnist")
    assert code == 0
    assert "│ flatten (Flatten)               │ (None, 288)            │             0 │" in out


def test_dense_on_an_image_follows_keras_and_says_so(capsys, tmp_path):
    path = tmp_path / "layers.txt"
    path.write_text("Conv2D(8, 3)\nDense(4)\n")
    code, out, _ = run(capsys, "summary", str(path), "--input-shape", "6,6,1", "--line-length", "76")
    assert code == 0
    assert "│ dense (Dense)                   │ (None, 4, 4, 4)        │            36 │" in out
    assert "Note: dense (Dense): gets a 4-D input (None, 4, 4, 8); like Keras it acts on the last axis" in out


def test_summary_explain_fits_an_80_column_terminal(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = run(capsys, "summary", "cifar_model", "--explain")
    assert code == 0
    assert max(map(len, out.splitlines())) <= 80
    assert out.endswith(" Param # formulas:\n"
                        "   conv2d (Conv2D)    (3*3*3 + 1) * 32 = 896\n"
                        "   conv2d_1 (Conv2D)  (3*3*32 + 1) * 32 = 9,248\n"
                        "   conv2d_2 (Conv2D)  (3*3*32 + 1) * 32 = 9,248\n"
                        "   dense (Dense)      (512 + 1) * 32 = 16,416\n"
                        "   dense_1 (Dense)    (32 + 1) * 10 = 330\n")
    monkeypatch.setenv("COLUMNS", "140")  # wide enough: the formulas are a column of the table
    code, out, _ = run(capsys, "summary", "cifar_model", "--explain")
    assert "│ (512 + 1) * 32 = 16,416 " in out and "Param # formulas" not in out


def test_import_cnnlab_and_the_command_line_parser_load_no_numpy():
    code = ("import sys, cnnlab, cnnlab.cli\n"
            "cnnlab.cli.build_parser()\n"
            "assert not {'numpy', 'torch'} & set(sys.modules), 'numpy or torch was imported'\n"
            "assert cnnlab.dense_params(3072, 100)[0] == 307300 and 'dense_params' in dir(cnnlab)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
