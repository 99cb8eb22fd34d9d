"""Keras → TFLite conversion with a fixed batch-1 signature."""

from __future__ import annotations

import dataclasses

from mobile_export._backend import tf

#: Precisions this converter produces. Quantized ones (dynamic, int8, int16x8) come with the quantization stage.
PRECISIONS = ("float32", "float16")


@dataclasses.dataclass(frozen=True)
class ConvertSettings:
    """How to convert a model.

    Args:
        precision: ``"float32"`` or ``"float16"`` (weights stored in fp16, computed in fp32 on CPU).
        input_size: ``(height, width)`` to fix when the model's input size is dynamic (``None`` keeps the
            model's own fixed size).
    """

    precision: str = "float32"
    input_size: tuple[int, int] | None = None

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if self.input_size is not None:
            size = tuple(self.input_size)
            if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
                raise ValueError(f"input_size must be (height, width) positive integers, got {self.input_size!r}")
            object.__setattr__(self, "input_size", size)


def input_signature(model, input_size: tuple[int, int] | None = None) -> list:
    """Batch-1 ``TensorSpec`` per model input, with ``input_size`` filling or replacing the spatial dims."""
    specs = []
    for tensor in model.inputs:
        shape = list(tensor.shape)
        if len(shape) == 4 and input_size is not None:
            shape[1:3] = input_size
        shape[0] = 1
        if any(d is None for d in shape):
            raise ValueError(
                f"input {tensor.name!r} of model {model.name!r} has a dynamic shape {tuple(tensor.shape)}; "
                "pass input_size=(height, width) to fix it for export"
            )
        specs.append(tf.TensorSpec(shape, tensor.dtype, name=tensor.name.split(":")[0]))
    return specs


def to_tflite(model, precision: str = "float32", input_size: tuple[int, int] | None = None) -> bytes:
    """Convert a Keras model to a TFLite flatbuffer with a fixed batch-1 input shape.

    Only TFLite builtin ops are allowed (no Flex ops), so the result runs with the plain runtime and is a
    candidate for the GPU delegate (check with :func:`mobile_export.verify.gpu_compatibility`).

    Args:
        model: A Keras model taking NHWC inputs (called with ``training=False``).
        precision: See :class:`ConvertSettings`.
        input_size: See :class:`ConvertSettings`.

    Returns:
        The ``.tflite`` flatbuffer bytes.
    """
    settings = ConvertSettings(precision=precision, input_size=input_size)
    specs = input_signature(model, settings.input_size)

    @tf.function(input_signature=specs)
    def serve(*inputs):
        return model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if settings.precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    return converter.convert()
