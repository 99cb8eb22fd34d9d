"""Keras → TFLite conversion with a fixed batch-1 signature."""

from __future__ import annotations

import dataclasses

from mobile_export._backend import tf

#: Precisions this converter produces.
PRECISIONS = ("float32", "float16", "dynamic", "int8", "int16x8")
#: Precisions that calibrate activation ranges on representative inputs (or take them from a QAT model).
CALIBRATED = ("int8", "int16x8")


@dataclasses.dataclass(frozen=True)
class ConvertSettings:
    """How to convert a model.

    Args:
        precision: ``"float32"``; ``"float16"`` (weights stored in fp16, computed in fp32 on CPU, fp16 on GPU);
            ``"dynamic"`` (int8 weights, float activations); ``"int8"`` (full integer: int8 weights and
            activations, ranges from representative data or from a QAT model's fake-quant nodes); ``"int16x8"``
            (int8 weights, int16 activations).
        input_size: ``(height, width)`` to fix when the model's input size is dynamic (``None`` keeps the
            model's own fixed size).
        uint8_io: Input and output are uint8 pixels in [0, 255] (the scaling to and from the model's [-1, 1] is
            part of the graph, so an app needs no scaling code); float32 in [-1, 1] otherwise.
    """

    precision: str = "float32"
    input_size: tuple[int, int] | None = None
    uint8_io: bool = False

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


def to_pixels(images):
    """[-1, 1] floats → uint8 pixels in [0, 255] (rounded), the app-side form of ``uint8_io`` exports."""
    import numpy as np

    return np.clip(np.floor((np.asarray(images, np.float32) + 1.0) * 127.5 + 0.5), 0, 255).astype(np.uint8)


def from_pixels(pixels):
    """uint8 pixels → [-1, 1] floats (the inverse of :func:`to_pixels` up to rounding)."""
    import numpy as np

    return np.asarray(pixels, np.float32) / 127.5 - 1.0


def to_tflite(model, precision: str = "float32", input_size: tuple[int, int] | None = None,
              representative_data=None, uint8_io: bool = False) -> bytes:  # fmt: skip
    """Convert a Keras model to a TFLite flatbuffer with a fixed batch-1 input shape.

    Only TFLite builtin ops are allowed (no Flex ops), so the result runs with the plain runtime and is a
    candidate for the GPU delegate (check with :func:`mobile_export.verify.gpu_compatibility`).

    Args:
        model: A Keras model taking NHWC inputs in [-1, 1] (called with ``training=False``).
        precision: See :class:`ConvertSettings`.
        input_size: See :class:`ConvertSettings`.
        representative_data: For ``int8`` / ``int16x8``: an iterable (or callable returning one) of input batches
            in [-1, 1], ``(N, H, W, C)`` arrays; every sample calibrates the activation ranges. Not needed for a
            QAT model converted to ``int8`` (its fake-quant nodes carry the ranges).
        uint8_io: See :class:`ConvertSettings`.

    Returns:
        The ``.tflite`` flatbuffer bytes.
    """
    import numpy as np

    settings = ConvertSettings(precision=precision, input_size=input_size, uint8_io=uint8_io)
    specs = input_signature(model, settings.input_size)
    if settings.uint8_io:
        if len(specs) != 1:
            raise ValueError(f"uint8_io takes a model with one image input, {model.name!r} has {len(specs)}")
        specs = [tf.TensorSpec(specs[0].shape, tf.uint8, name=specs[0].name)]

    @tf.function(input_signature=specs)
    def serve(*inputs):
        if settings.uint8_io:
            x = tf.cast(inputs[0], tf.float32) * (1.0 / 127.5) - 1.0
            y = model(x, training=False)
            # +0.5 then a truncating cast rounds (ROUND is not a GPU-delegate op; CAST is)
            return tf.cast(tf.clip_by_value((y + 1.0) * 127.5 + 0.5, 0.0, 255.0), tf.uint8)
        return model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)

    # The converter saves the function with the object that owns its variables. Handing it the Keras model makes it
    # serialize every layer's call functions too (Keras' SavedModel traces, ~3/4 of a SPADE-family conversion's
    # time); a plain module with the same variables gives the same flatbuffer.
    owner = tf.Module()
    owner.weights = list(model.variables)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], owner)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if settings.precision != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if settings.precision == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if settings.precision in CALIBRATED:
        qat = representative_data is None and _has_fake_quant(serve.get_concrete_function())
        if settings.precision == "int16x8":
            ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
            converter.target_spec.supported_ops = [ops, tf.lite.OpsSet.TFLITE_BUILTINS]
        elif not qat:
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # A QAT model keeps the builtin op set: every tensor its fake-quants cover becomes int8, the rest (the
        # normalization islands the QAT model computes in float) stays float between DEQUANTIZE and QUANTIZE.
        if representative_data is not None:
            source = representative_data

            def samples():
                count = 0
                for batch in source() if callable(source) else source:
                    for x in np.asarray(batch, np.float32):
                        count += 1
                        yield [to_pixels(x[None]) if settings.uint8_io else x[None]]
                if count == 0:
                    raise ValueError("representative_data gave no samples")

            converter.representative_dataset = samples
        elif not qat:
            raise ValueError(f"precision {settings.precision!r} needs representative_data (input batches in "
                             "[-1, 1]) unless the model is quantization-aware trained")  # fmt: skip
    try:
        return converter.convert()
    except Exception as err:  # noqa: BLE001 - the converter raises many types; report which model and precision
        raise ValueError(f"converting {model.name!r} to {settings.precision} TFLite failed: {err}") from err


def _has_fake_quant(concrete) -> bool:
    """Whether a traced model holds fake-quantization ops (a QAT model)."""
    return any(op.type.startswith("FakeQuant") for op in concrete.graph.get_operations())
