"""Distillation: a narrow student learns the teacher's outputs and intermediate features (GAN Compression)."""

from tfgancomp.distill.defaults import DISTILL_DEFAULTS, DISTILL_MODES
from tfgancomp.distill.distiller import Distiller, distill_loss
from tfgancomp.distill.runner import (
    DistillSettings,
    build_discriminator,
    build_distiller,
    build_student,
    distill,
    evaluate_student,
    load_teacher,
)
from tfgancomp.distill.taps import build_mappings, default_taps, init_from_teacher, tap_channels, tap_model

__all__ = [
    "DISTILL_DEFAULTS",
    "DISTILL_MODES",
    "DistillSettings",
    "Distiller",
    "build_discriminator",
    "build_distiller",
    "build_mappings",
    "build_student",
    "default_taps",
    "distill",
    "distill_loss",
    "evaluate_student",
    "init_from_teacher",
    "load_teacher",
    "tap_channels",
    "tap_model",
]
