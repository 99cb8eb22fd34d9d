"""Common base of the model zoo: Functional models whose config is their constructor arguments."""

from __future__ import annotations

from tfgancomp.backend import keras
from tfgancomp.validation import check_positive_int


def check_size(what: str, value, stride: int) -> int | None:
    """Validate an optional spatial size: ``None`` or a positive multiple of the network's ``stride``."""
    if value is None:
        return None
    check_positive_int(what, value)
    if value % stride:
        raise ValueError(
            f"{what} {value} is not divisible by the network's stride {stride}; "
            f"use a multiple of {stride} (e.g. {max(stride, value - value % stride)})"
        )
    return value


class ZooModel(keras.Model):
    """A Functional ``tf_keras`` model built by its constructor; ``get_config`` returns the constructor args.

    Subclasses build their graph in ``__init__`` and call :meth:`_finish` with their arguments, so that
    ``cls.from_config(model.get_config())`` rebuilds an identical architecture (weights are loaded separately).
    """

    #: Total downsampling factor: input height and width must be multiples of it.
    stride: int = 1

    def _finish(self, config: dict) -> None:
        self._zoo_config = dict(config)

    def get_config(self):
        return {"name": self.name, **self._zoo_config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

    def tap_layer_names(self) -> list[str]:
        """Names of the layers whose outputs are matched during distillation (design.md)."""
        return []
