"""TrainSettings: Keras's defaults, TOML files, flags over TOML, and exact messages."""

import pytest

from cnnlab.settings import ConfigError, TrainSettings


def test_defaults_are_keras_fit_and_adam():
    s = TrainSettings()
    assert (s.batch_size, s.optimizer, s.learning_rate, s.seed) == (32, "adam", 1e-3, 0)
    assert TrainSettings(optimizer="sgd").learning_rate == 1e-2
    assert TrainSettings(optimizer="rmsprop", lr=0.5).learning_rate == 0.5


def test_toml_then_flags(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text("[train]\nepochs = 3\nbatch-size = 64\noptimizer = 'sgd'\n")
    s = TrainSettings.from_sources(path, {"epochs": 5, "lr": None})
    assert (s.epochs, s.batch_size, s.optimizer, s.lr) == (5, 64, "sgd", None)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"optimizer": "adamw"}, "unknown optimizer 'adamw'; use one of adam, sgd, rmsprop"),
        ({"batch_size": 0}, "batch_size=0 must be a positive integer (Keras's default is 32)"),
        ({"epochs": 0}, "epochs=0 must be a positive integer"),
        ({"validation_split": 1.0}, "validation_split=1.0 must be in [0, 1), e.g. 0.1"),
        ({"precision": "fp16"}, "precision='fp16': use one of auto, fp32, bf16"),
        ({"lr": -1.0}, "lr=-1.0 must be a positive number, e.g. 1e-3"),
        ({"early_stopping": 2, "validation_split": 0.0},
         "early_stopping watches val_loss; give a validation_split > 0"),
        ({"epoch": 3}, "unknown setting 'epoch'; train settings are epochs, batch_size, optimizer, lr, "
                       "validation_split, validation, train_subset, seed, precision, early_stopping, threads"),
    ],
)
def test_bad_settings_say_what_is_wrong(values, message):
    with pytest.raises(ConfigError) as e:
        TrainSettings.from_dict(values)
    assert str(e.value) == message


def test_bad_toml_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("epochs = = 3\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        TrainSettings.from_sources(path)
