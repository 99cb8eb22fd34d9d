"""Quantization: TFMOT quantization-aware training for every generator family (see :mod:`.configs`)."""

from tfgancomp.quantize.configs import QUANTIZE_CONFIGS, CompositeQuantizeConfig, FloatIslandQuantizeConfig, config_for
from tfgancomp.quantize.qat import QATGenerator, calibrate_ranges, describe, load_qat, quantize_model

__all__ = [
    "QUANTIZE_CONFIGS",
    "CompositeQuantizeConfig",
    "FloatIslandQuantizeConfig",
    "QATGenerator",
    "calibrate_ranges",
    "config_for",
    "describe",
    "load_qat",
    "quantize_model",
]
