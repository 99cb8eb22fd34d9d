"""Export Keras models to TFLite and prove the export sound; independent of ``tfgancomp`` internals."""

from mobile_export.convert import PRECISIONS, ConvertSettings, to_tflite
from mobile_export.runtime import interpreter_class, make_interpreter, run, run_batch
from mobile_export.verify import GpuCompatibility, Parity, gpu_compatibility, parity, psnr

__all__ = [
    "PRECISIONS",
    "ConvertSettings",
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
