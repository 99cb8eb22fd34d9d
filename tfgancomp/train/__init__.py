"""Teacher training: tasks with a custom ``train_step``, and the resumable run that drives them."""

from tfgancomp.train.callbacks import EpochCheckpoint, LinearDecay, NonFiniteStop, linear_decay_factor
from tfgancomp.train.loop import ResumableRun, TrainingDiverged, open_run_dir
from tfgancomp.train.losses import GAN_MODES, discriminator_loss, feature_matching_loss, generator_loss
from tfgancomp.train.perceptual import VGGPerceptual
from tfgancomp.train.runner import (
    TEACHER_TASKS,
    TeacherSettings,
    build_models,
    build_task,
    evaluate,
    held_out_reader,
    load_generator,
    train_teacher,
)
from tfgancomp.train.tasks import CycleGANTask, GauGANTask, ImagePool, Pix2PixTask

__all__ = [
    "GAN_MODES",
    "TEACHER_TASKS",
    "CycleGANTask",
    "EpochCheckpoint",
    "GauGANTask",
    "ImagePool",
    "LinearDecay",
    "NonFiniteStop",
    "Pix2PixTask",
    "ResumableRun",
    "TeacherSettings",
    "TrainingDiverged",
    "VGGPerceptual",
    "build_models",
    "build_task",
    "discriminator_loss",
    "evaluate",
    "feature_matching_loss",
    "generator_loss",
    "held_out_reader",
    "linear_decay_factor",
    "load_generator",
    "open_run_dir",
    "train_teacher",
]
