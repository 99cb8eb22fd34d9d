"""The single import point of TensorFlow for ``mobile_export``.

``mobile_export`` depends only on a Keras model and its own settings, never on ``tfgancomp`` internals, so it
keeps its own import point. It never imports Keras: it only calls the model it is given.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")


def flatbuffer_tools():
    """``(schema module, flatbuffer_utils module)`` of TensorFlow Lite, to edit a model's flatbuffer."""
    from tensorflow.lite.python import schema_py_generated
    from tensorflow.lite.tools import flatbuffer_utils

    return schema_py_generated, flatbuffer_utils


__all__ = ["flatbuffer_tools", "tf"]
