"""Proofs an export is sound: numeric parity with the Keras model, and GPU-delegate compatibility."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re

import numpy as np

from mobile_export._backend import tf
from mobile_export.runtime import run_batch

#: Builtin ops that the TFLite GPU delegate implements (its operation parsers), as a second check beside
#: the Analyzer, whose verdict in TF 2.21's pip build does not flag unsupported ops.
GPU_DELEGATE_OPS = frozenset(
    """ABS ADD AVERAGE_POOL_2D BATCH_MATMUL CAST CONCATENATION CONV_2D COS CUMSUM DENSIFY DEPTH_TO_SPACE
    DEPTHWISE_CONV_2D DEQUANTIZE DIV ELU EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GREATER
    GREATER_EQUAL HARD_SWISH LEAKY_RELU LESS LESS_EQUAL LOG LOGISTIC MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD
    MUL NEG NOT_EQUAL ONE_HOT PACK PAD PADV2 POW PRELU QUANTIZE REDUCE_MAX REDUCE_MIN REDUCE_PROD RELU RELU6
    RELU_N1_TO_1 RELU_0_TO_1 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR RSQRT SELECT_V2 SIN SLICE SOFTMAX
    SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE STRIDED_SLICE SUB SUM TANH TILE TRANSPOSE
    TRANSPOSE_CONV""".split()
)

_OP_LINE = re.compile(r"^\s*Op#\d+\s+([A-Z0-9_]+)\(", re.MULTILINE)
_WARNING = re.compile(r"GPU COMPATIBILITY WARNING:?\s*(.*)")
_COMPATIBLE = "Your model looks compatible with GPU delegate"


@dataclasses.dataclass(frozen=True)
class Parity:
    """Agreement between a Keras model and its TFLite export on the same inputs.

    Attributes:
        max_abs: Largest absolute difference.
        mean_abs: Mean absolute difference.
        psnr: PSNR of the TFLite output against the Keras output (dB, ``inf`` when identical).
        samples: Number of inputs compared.
    """

    max_abs: float
    mean_abs: float
    psnr: float
    samples: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class GpuCompatibility:
    """GPU-delegate compatibility of a TFLite model.

    Attributes:
        compatible: The Analyzer raised no warning and every op is one the GPU delegate implements.
        analyzer_compatible: The Analyzer's own verdict.
        warnings: The Analyzer's ``GPU COMPATIBILITY WARNING`` lines.
        unsupported_ops: Ops outside :data:`GPU_DELEGATE_OPS`.
        ops: Every op type in the model, sorted.
        report: The Analyzer's full text.
    """

    compatible: bool
    analyzer_compatible: bool
    warnings: tuple[str, ...]
    unsupported_ops: tuple[str, ...]
    ops: tuple[str, ...]
    report: str = dataclasses.field(repr=False, default="")

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out.pop("report")
        return out


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 2.0) -> float:
    """PSNR in dB between two arrays whose values span ``data_range`` (2 for images in [-1, 1])."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def parity(model, tflite_model, inputs: np.ndarray, data_range: float = 2.0) -> Parity:
    """Compare ``model`` (Keras, ``training=False``) with its export on a batch of ``inputs`` (N, H, W, C) in [-1, 1].

    A ``uint8_io`` export is fed the inputs as pixels and the Keras model the same pixels mapped back to [-1, 1];
    its uint8 output is mapped to [-1, 1] before comparing (so the output's rounding to 256 levels counts).
    """
    from mobile_export.convert import from_pixels, to_pixels
    from mobile_export.runtime import make_interpreter

    inputs = np.asarray(inputs, np.float32)
    if inputs.ndim != 4:
        raise ValueError(f"parity expects a batch of NHWC inputs (rank 4), got shape {inputs.shape}")
    interpreter = make_interpreter(tflite_model)
    pixels_in = interpreter.get_input_details()[0]["dtype"] == np.uint8
    pixels_out = interpreter.get_output_details()[0]["dtype"] == np.uint8
    feed = to_pixels(inputs) if pixels_in else inputs
    expected = np.asarray(model(from_pixels(feed) if pixels_in else inputs, training=False))
    actual = run_batch(interpreter, feed)
    actual = from_pixels(actual) if pixels_out else actual.astype(np.float32)
    if actual.shape != expected.shape:
        raise ValueError(f"TFLite output shape {actual.shape} differs from the Keras output shape {expected.shape}")
    diff = np.abs(actual - expected)
    return Parity(
        max_abs=float(diff.max()),
        mean_abs=float(diff.mean()),
        psnr=psnr(actual, expected, data_range),
        samples=len(inputs),
    )


def gpu_compatibility(tflite_model) -> GpuCompatibility:
    """Check a model (bytes or path) with ``tf.lite.experimental.Analyzer`` and the GPU delegate's op list."""
    kwargs = {"model_content": bytes(tflite_model)} if isinstance(tflite_model, (bytes, bytearray)) else {
        "model_path": str(tflite_model)
    }  # fmt: skip
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tf.lite.experimental.Analyzer.analyze(gpu_compatibility=True, **kwargs)
    report = buffer.getvalue()
    if "Subgraph#" not in report:
        raise ValueError(f"the Analyzer could not read the model: {report.strip()[:500]}")
    warnings = tuple(m.group(1).strip() for m in _WARNING.finditer(report))
    ops = tuple(sorted(set(_OP_LINE.findall(report))))
    unsupported = tuple(op for op in ops if op not in GPU_DELEGATE_OPS)
    analyzer_ok = _COMPATIBLE in report and not warnings
    return GpuCompatibility(
        compatible=analyzer_ok and not unsupported,
        analyzer_compatible=analyzer_ok,
        warnings=warnings,
        unsupported_ops=unsupported,
        ops=ops,
        report=report,
    )
