"""Distillation: a narrow student learns the teacher's outputs and intermediate features (GAN Compression).

The distillation stage (run dirs, settings): :mod:`tfgancomp.pipeline.distill`.
"""

from tfgancomp.distill.cache import TeacherCache
from tfgancomp.distill.defaults import DISTILL_DEFAULTS, DISTILL_MODES, DISTILL_NORMS
from tfgancomp.distill.distiller import Distiller, distill_loss
from tfgancomp.distill.taps import build_mappings, default_taps, init_from_teacher, tap_channels, tap_model

__all__ = [
    "DISTILL_DEFAULTS",
    "DISTILL_MODES",
    "DISTILL_NORMS",
    "Distiller",
    "TeacherCache",
    "build_mappings",
    "default_taps",
    "distill_loss",
    "init_from_teacher",
    "tap_channels",
    "tap_model",
]
