"""The export bundle: ``model.tflite`` (with our JSON in its metadata), ``model.json``, a sample input / output PNG.

Everything is written under temporary names in the output folder and renamed at the very end, after the parity
check passed: an export that is not faithful to its Keras model raises :class:`ExportError` and leaves no final
file behind (nor any temporary one).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import numpy as np
from PIL import Image

from mobile_export import metadata
from mobile_export.convert import PRECISIONS, from_pixels, to_pixels, to_tflite
from mobile_export.files import replace_folder, staging_folder
from mobile_export.runtime import run
from mobile_export.verify import gpu_compatibility, parity

#: Default least PSNR (dB) of the TFLite output against the Keras output, per precision.
DEFAULT_MIN_PSNR = {"float32": 60.0, "float16": 40.0, "dynamic": 30.0, "int8": 30.0, "int16x8": 30.0}
#: Version of the ``model.json`` layout.
FORMAT_VERSION = 1
BUNDLE_FILES = ("model.tflite", "model.json", "sample_input.png", "sample_output.png")


class ExportError(ValueError):
    """An export that failed its parity check (or could not be converted); nothing final was written."""


@dataclasses.dataclass(frozen=True)
class BundleSettings:
    """How to export a bundle.

    Args:
        precision: One of :data:`~mobile_export.convert.PRECISIONS`.
        uint8_io: uint8 pixels in and out instead of float32 in [-1, 1].
        min_psnr: Least PSNR (dB) vs the Keras model on the parity inputs (default :data:`DEFAULT_MIN_PSNR`, at
            most 50 dB with ``uint8_io``: rounding the output to 256 levels alone limits PSNR to ~58.9 dB).
        input_size: ``(height, width)`` for a model with a dynamic input size.
    """

    precision: str = "float32"
    uint8_io: bool = False
    min_psnr: float | None = None
    input_size: tuple[int, int] | None = None

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {self.precision!r}")
        if self.min_psnr is None:
            default = DEFAULT_MIN_PSNR[self.precision]
            object.__setattr__(self, "min_psnr", min(default, 50.0) if self.uint8_io else default)


def _image(array: np.ndarray) -> Image.Image:
    """An (H, W, C) array in [-1, 1] as a PNG-able image: RGB as is, a label map (C ≠ 3) as a palette of argmax."""
    if array.shape[-1] == 3:
        return Image.fromarray(to_pixels(array))
    if array.shape[-1] == 1:
        return Image.fromarray(to_pixels(array[..., 0]))
    palette = np.random.default_rng(0).integers(0, 256, (array.shape[-1], 3), dtype=np.uint8)
    return Image.fromarray(palette[np.argmax(array, axis=-1)])


def _describe_tensor(shape, uint8_io: bool, channels_meaning: str) -> dict:
    return {"shape": [int(d) for d in shape], "dtype": "uint8" if uint8_io else "float32", "layout": "NHWC",
            "range": [0, 255] if uint8_io else [-1.0, 1.0], "channels": channels_meaning}  # fmt: skip


def check_bundle_folder(out_dir: str) -> None:
    """Refuse an ``out_dir`` that cannot be a bundle folder (a bundle replaces its folder as a whole).

    A file is refused, and so are the current folder and the folders above it.

    Raises:
        ValueError: naming the folder.
    """
    path = os.path.abspath(out_dir)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"bundle folder {out_dir} is a file")
    here = os.getcwd()
    if path == here or here.startswith(path.rstrip(os.sep) + os.sep):
        raise ValueError(f"bundle folder {out_dir} is the current folder or above it: give the bundle a folder of "
                         "its own (it is replaced as a whole)")  # fmt: skip


def export_bundle(model, out_dir: str, parity_inputs, settings: BundleSettings | None = None,
                  representative_data=None, info: dict | None = None, input_channels: str = "RGB",
                  reference: str = "the Keras model (float32)") -> dict:  # fmt: skip
    """Convert ``model``, prove it, and write the bundle into ``out_dir``; returns the ``model.json`` content.

    Args:
        model: A Keras generator (one NHWC input in [-1, 1], output in [-1, 1]).
        out_dir: Output folder (created); existing bundle files are replaced only when the export succeeds.
        parity_inputs: ``(N, H, W, C)`` inputs in [-1, 1] (held-out images): parity is measured on all of them, and
            the first is the sample input.
        settings: :class:`BundleSettings`.
        representative_data: Calibration batches for ``int8`` / ``int16x8`` (see :func:`to_tflite`).
        info: What the caller knows and the bundle should record (MACs, params, config string, quality
            figures...); stored under ``"model"`` in ``model.json``.
        input_channels: What the input channels are (``"RGB"``, or e.g. ``"one-hot labels (35) + instance edge"``).
        reference: What ``model`` is, as the parity record names it (``parity.against``).

    Raises:
        ExportError: when the conversion fails or the parity PSNR is below ``settings.min_psnr``.
    """
    settings = settings or BundleSettings()
    check_bundle_folder(out_dir)
    inputs = np.asarray(parity_inputs, np.float32)
    if inputs.ndim != 4 or len(inputs) == 0:
        raise ValueError(f"parity_inputs must be a non-empty (N, H, W, C) batch, got shape {inputs.shape}")
    size = settings.input_size or tuple(inputs.shape[1:3])
    try:
        content = to_tflite(model, settings.precision, size if model.inputs[0].shape[1] is None else None,
                            representative_data, settings.uint8_io)  # fmt: skip
    except ValueError as err:
        raise ExportError(str(err)) from err
    try:
        result = parity(model, content, inputs)
    except (RuntimeError, ValueError) as err:  # e.g. an op without a kernel for the chosen integer type
        raise ExportError(f"the {settings.precision} TFLite model of {model.name!r} does not run: {err}") from err
    compatibility = gpu_compatibility(content)
    sample_in = inputs[0]
    sample_out = run(content, to_pixels(sample_in[None]) if settings.uint8_io else sample_in[None])[0]
    description = {
        "format_version": FORMAT_VERSION,
        "precision": settings.precision,
        "input": _describe_tensor((1, *inputs.shape[1:]), settings.uint8_io, input_channels),
        "output": _describe_tensor(sample_out.shape, settings.uint8_io, "RGB"),
        "parity": {**result.to_dict(), "min_psnr": settings.min_psnr, "against": reference},
        "gpu_delegate": compatibility.to_dict(),
        "model": dict(info or {}),
    }
    description = json.loads(json.dumps(description))  # exactly what model.json and the metadata will hold
    if not result.psnr >= settings.min_psnr:
        raise ExportError(
            f"{settings.precision} export of {model.name!r} is not faithful: PSNR {result.psnr:.2f} dB vs the Keras "
            f"model (max |Δ| {result.max_abs:.4g}) is below the required {settings.min_psnr} dB; nothing was written"
        )
    content = metadata.embed(content, description)
    # the bundle is built in a folder beside out_dir, then swapped in whole: a kill leaves the old bundle or the
    # new one, never a model.tflite of one export beside the model.json of another
    staging = staging_folder(out_dir, BUNDLE_FILES)
    try:
        with open(os.path.join(staging, "model.tflite"), "wb") as f:
            f.write(content)
        with open(os.path.join(staging, "model.json"), "w") as f:
            json.dump(description, f, indent=2, sort_keys=True)
            f.write("\n")
        _image(sample_in).save(os.path.join(staging, "sample_input.png"))
        _image(from_pixels(sample_out[0]) if settings.uint8_io else sample_out[0]).save(
            os.path.join(staging, "sample_output.png"))  # fmt: skip
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_folder(staging, out_dir, carry_over=BUNDLE_FILES)  # other entries (a QAT run dir) move along
    for name in os.listdir(out_dir):  # what the earlier in-place writer left when killed
        if name.startswith(".export-") and os.path.isdir(os.path.join(out_dir, name)):
            shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    return description
