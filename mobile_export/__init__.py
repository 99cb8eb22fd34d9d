"""Export Keras models to TFLite, prove the export sound, and measure it; independent of ``tfgancomp`` internals.

The names below load on first use, so the parts that need no TensorFlow (``metadata``, ``benchmark``,
``benchmark_log``, ``runtime``: what a phone-side or board-side tool needs) import without it.
"""

import importlib

_EXPORTS = {
    "PRECISIONS": "convert",
    "ConvertSettings": "convert",
    "from_pixels": "convert",
    "to_pixels": "convert",
    "to_tflite": "convert",
    "BundleSettings": "bundle",
    "ExportError": "bundle",
    "export_bundle": "bundle",
    "interpreter_class": "runtime",
    "make_interpreter": "runtime",
    "run": "runtime",
    "run_batch": "runtime",
    "GpuCompatibility": "verify",
    "Parity": "verify",
    "gpu_compatibility": "verify",
    "parity": "verify",
    "psnr": "verify",
    "BenchmarkError": "benchmark",
    "BenchmarkResult": "benchmark",
    "BenchmarkSettings": "benchmark",
    "Comparison": "benchmark",
    "compare": "benchmark",
    "BenchmarkLog": "benchmark_log",
    "BenchmarkLogError": "benchmark_log",
}
_MODULES = ("metadata", "benchmark", "benchmark_log", "bundle", "convert", "runtime", "verify")

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"mobile_export.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f"mobile_export.{name}")
    raise AttributeError(f"module 'mobile_export' has no attribute {name!r}")
