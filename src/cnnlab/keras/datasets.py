"""`keras.datasets.<name>.load_data()` through cnnlab's verified loaders (same arrays as Keras)."""

from __future__ import annotations


class _Dataset:
    def __init__(self, name: str, label_modes: bool = False):
        self.name, self._label_modes = name, label_modes
        self.__name__ = f"cnnlab.keras.datasets.{name}"

    def load_data(self, *args, **kwargs):
        """((x_train, y_train), (x_test, y_test)) as uint8 numpy arrays, shaped as Keras's."""
        from cnnlab.datasets import load_dataset
        from cnnlab.models.layers import ModelError

        label_mode = kwargs.pop("label_mode", args[0] if args and self._label_modes else "fine")
        if kwargs.pop("path", None) is not None or kwargs or (args and not self._label_modes):
            raise ModelError(
                f"{self.name}.load_data(): cnnlab downloads and caches the files itself ($CNNLAB_HOME); "
                "path= is not supported" + ("" if not self._label_modes else ", label_mode= is")
            )
        if self._label_modes:
            return load_dataset(self.name, label_mode=label_mode)
        return load_dataset(self.name)


mnist = _Dataset("mnist")
fashion_mnist = _Dataset("fashion_mnist")
cifar10 = _Dataset("cifar10")
cifar100 = _Dataset("cifar100", label_modes=True)
