"""Export Keras models to TFLite and prove the export sound; independent of ``tfgancomp`` internals."""

from mobile_export import metadata
from mobile_export.bundle import BundleSettings, ExportError, export_bundle
from mobile_export.convert import PRECISIONS, ConvertSettings, from_pixels, to_pixels, to_tflite
from mobile_export.runtime import interpreter_class, make_interpreter, run, run_batch
from mobile_export.verify import GpuCompatibility, Parity, gpu_compatibility, parity, psnr

__all__ = [
    "PRECISIONS",
    "BundleSettings",
    "ConvertSettings",
    "ExportError",
    "export_bundle",
    "from_pixels",
    "metadata",
    "to_pixels",
    "GpuCompatibility",
    "Parity",
    "gpu_compatibility",
    "interpreter_class",
    "make_interpreter",
    "parity",
    "psnr",
    "run",
    "run_batch",
    "to_tflite",
]
