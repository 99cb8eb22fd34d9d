"""The single import point of TensorFlow and Keras for the whole ``tfgancomp`` package.

Every other module does ``from tfgancomp.backend import tf, keras`` and never imports ``tensorflow``,
``tf_keras`` or ``keras`` itself, nor reaches for ``tf.keras``. This keeps one place that decides:

* ``TF_USE_LEGACY_KERAS=1`` is set before TensorFlow loads, so ``tf_keras`` (Keras 2) is the Keras in use —
  TensorFlow Model Optimization requires it and sets it anyway on import;
* TensorFlow's C++ logging is quiet by default (``TF_CPP_MIN_LOG_LEVEL=2``) unless the user already chose a level;
* custom objects are registered under one package name (:data:`PACKAGE`).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

tf.get_logger().setLevel("ERROR")

#: Package name under which every custom layer and model is registered for serialization.
PACKAGE = "tfgancomp"


def register(cls):
    """Register ``cls`` as a Keras serializable object under the ``tfgancomp`` package."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def custom_objects() -> dict:
    """All registered ``tfgancomp`` objects, for ``keras.models.load_model(..., custom_objects=...)``."""
    prefix = PACKAGE + ">"
    return {
        name[len(prefix) :]: obj for name, obj in keras.saving.get_custom_objects().items() if name.startswith(prefix)
    }


__all__ = ["PACKAGE", "custom_objects", "keras", "register", "tf"]
