"""Run ``.tflite`` models with the best available runtime: LiteRT, then ``tflite_runtime``, then ``tf.lite``."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np


def interpreter_class():
    """Return ``(Interpreter class, runtime name)``, preferring ``ai_edge_litert`` (TFLite's successor)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter

        return Interpreter, "tflite_runtime"
    except ImportError:
        pass
    from mobile_export._backend import tf

    return tf.lite.Interpreter, "tf.lite"


def make_interpreter(model, num_threads: int | None = None):
    """An allocated interpreter for ``model`` (flatbuffer bytes or a path).

    Raises:
        ValueError: naming the file (or saying "model bytes") when it is not a loadable TFLite model.
    """
    cls, _ = interpreter_class()
    what = "model bytes" if isinstance(model, (bytes, bytearray)) else f"file {os.fspath(model)!r}"
    try:
        if isinstance(model, (bytes, bytearray)):
            interpreter = cls(model_content=bytes(model), num_threads=num_threads)
        else:
            interpreter = cls(model_path=os.fspath(model), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"{what} is not a loadable TFLite model: {err}") from None
    return interpreter


def run(model, inputs, num_threads: int | None = None) -> list[np.ndarray]:
    """Run ``model`` once on ``inputs`` (one array, or one per model input in input order).

    Inputs are cast to the model's input dtype; shapes must match the model's fixed input shapes.
    """
    interpreter = model if hasattr(model, "get_input_details") else make_interpreter(model, num_threads)
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    details = interpreter.get_input_details()
    if len(inputs) != len(details):
        raise ValueError(f"the model takes {len(details)} input(s), got {len(inputs)}")
    for detail, value in zip(details, inputs, strict=True):
        value = np.asarray(value)
        expected = tuple(int(d) for d in detail["shape"])
        if tuple(value.shape) != expected:
            raise ValueError(f"input {detail['name']!r} expects shape {expected}, got {tuple(value.shape)}")
        interpreter.set_tensor(detail["index"], value.astype(detail["dtype"]))
    try:
        interpreter.invoke()
    except RuntimeError as err:  # a malformed model can load and still fail here
        raise ValueError(f"the TFLite model failed to run: {err}") from None
    return [interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()]


def run_batch(model, batch: Sequence[np.ndarray] | np.ndarray, num_threads: int | None = None) -> np.ndarray:
    """Run a batch-1 single-input model (or interpreter) over every sample of ``batch`` (N, ...); stack output 0."""
    interpreter = model if hasattr(model, "get_input_details") else make_interpreter(model, num_threads)
    return np.concatenate([run(interpreter, np.asarray(x)[None])[0] for x in batch], axis=0)
