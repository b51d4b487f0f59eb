"""A real Jupyter kernel runs the lesson's notebook cells with `from cnnlab import keras`.

The cells are the lesson's code with the import changed; the data cell loads scikit-learn's
embedded digits (no network) instead of a download, and the model fits 8x8 images.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = [
    "from cnnlab import keras\nimport numpy as np",
    # the lesson downloads its data here; the test uses the embedded digits
    "import cnnlab\n(train_images, train_labels), (test_images, test_labels) = cnnlab.load_dataset('digits')\n"
    "train_images = train_images / 255.0\ntest_images = test_images / 255.0\ntrain_images.shape",
    "keras.utils.set_random_seed(2)\n"
    "inputs = keras.Input(shape=(8, 8, 1))\n"
    "x = keras.layers.Conv2D(16, (3, 3), activation='relu')(inputs)\n"
    "x = keras.layers.MaxPooling2D((2, 2))(x)\n"
    "x = keras.layers.Flatten()(x)\n"
    "x = keras.layers.Dense(32, activation='relu')(x)\n"
    "outputs = keras.layers.Dense(10)(x)\n"
    "model = keras.Model(inputs=inputs, outputs=outputs, name='digits_model_small')\n"
    "model.summary()",
    "model.compile(optimizer='adam',\n"
    "              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),\n"
    "              metrics=['accuracy'])\n"
    "history = model.fit(train_images, train_labels, epochs=3,\n"
    "                    validation_data=(test_images, test_labels))",
    "history.history.keys()",
    "def create_nn_with_dropout(dropout_rate):\n"
    "    inputs = keras.Input(shape=(8, 8, 1))\n"
    "    x = keras.layers.Conv2D(16, (3, 3), activation='relu')(inputs)\n"
    "    x = keras.layers.MaxPooling2D((2, 2))(x)\n"
    "    x = keras.layers.Dropout(dropout_rate)(x)\n"
    "    x = keras.layers.Flatten()(x)\n"
    "    outputs = keras.layers.Dense(10)(x)\n"
    "    return keras.Model(inputs=inputs, outputs=outputs, name='dropout_model')\n"
    "model_dropout = create_nn_with_dropout(0.2)\n"
    "model_dropout.summary()",
    "model_dropout.compile(optimizer='adam',\n"
    "                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),\n"
    "                      metrics=['accuracy'])\n"
    "early = keras.callbacks.EarlyStopping(monitor='val_loss', patience=2)\n"
    "history = model_dropout.fit(train_images, train_labels, epochs=4, verbose=2,\n"
    "                            validation_data=(test_images, test_labels), callbacks=[early])",
    "test_loss, test_acc = model_dropout.evaluate(test_images, test_labels, verbose=2)\nprint(round(test_acc, 2))",
    "predictions = model_dropout.predict(test_images)\npredictions.shape",
    "model_dropout.save('digits_model.cnnlab')\n"
    "loaded = keras.models.load_model('digits_model.cnnlab')\n"
    "np.array_equal(loaded.predict(test_images, verbose=0), predictions)",
    "from cnnlab import keras_tuner\n"
    "def build_model(hp):\n"
    "    n_conv_layer = hp.Int('n_conv_layer', min_value=1, max_value=2, step=1)\n"
    "    inputs = keras.Input(shape=(8, 8, 1))\n"
    "    x = inputs\n"
    "    for i in range(n_conv_layer):\n"
    "        x = keras.layers.Conv2D(8, (3, 3), padding='same', activation='relu')(x)\n"
    "    outputs = keras.layers.Dense(10)(keras.layers.Flatten()(x))\n"
    "    model = keras.Model(inputs=inputs, outputs=outputs)\n"
    "    model.compile(optimizer='adam', metrics=['accuracy'],\n"
    "                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))\n"
    "    return model\n"
    "tuner = keras_tuner.GridSearch(build_model, objective='val_loss')\n"
    "tuner.search(train_images, train_labels, epochs=2, validation_data=(test_images, test_labels))",
    "tuner.results_summary()",
]


def test_the_lessons_cells_run_in_a_jupyter_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_OFFLINE", "1")
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "home"))  # a first run: kernels compile here
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [cell.outputs for cell in notebook.cells]
    for cell_outputs in outputs:
        for out in cell_outputs:
            assert out.output_type != "error"
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text

    def stdout(i: int) -> str:
        return "".join(o.text for o in outputs[i] if o.output_type == "stream" and o.name == "stdout")

    def result(i: int) -> str:
        return "".join(o.data["text/plain"] for o in outputs[i] if o.output_type == "execute_result")

    assert stdout(2).startswith('Model: "digits_model_small"')
    if shutil.which(os.environ.get("CC", "cc")):  # a first run compiles the engine's kernels and says so
        assert "cnnlab: compiling cnnlab's CPU kernels, once" in stdout(3)
    assert "│ input_layer (InputLayer)" in stdout(2) and " Total params: 5,130 (20.04 KB)" in stdout(2)
    fit = stdout(3)
    assert fit.startswith("Epoch 1/3\n") and "Epoch 3/3\n" in fit
    assert len(fit) < 20_000
    finals = [line.split("\r")[-1] for line in fit.split("\n") if "val_accuracy" in line]
    assert len(finals) == 3 and all(re.match(r"\d+/\d+ ━{20} \d+s", line) for line in finals)
    assert result(4) == "dict_keys(['accuracy', 'loss', 'val_accuracy', 'val_loss'])"
    assert "dropout (Dropout)" in stdout(5)
    assert stdout(6).count("Epoch ") >= 3 and "\r" not in stdout(6)
    assert float(stdout(7).splitlines()[-1]) > 0.5
    assert result(8) == "(360, 10)" or re.fullmatch(r"\(\d+, 10\)", result(8))
    assert result(9) == "True"
    assert "Search: Running Trial #2" in stdout(10) and "Trial 2 Complete" in stdout(10)
    assert stdout(11).startswith("Results summary\nResults in ./untitled_project\nShowing 10 best trials\n")
