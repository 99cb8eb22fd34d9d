"""Teacher training: tasks with a custom ``train_step`` (run dirs: :mod:`tfgancomp.pipeline`)."""

from tfgancomp.train.callbacks import EpochCheckpoint, LinearDecay, NonFiniteStop, linear_decay_factor
from tfgancomp.train.losses import GAN_MODES, discriminator_loss, feature_matching_loss, generator_loss
from tfgancomp.train.perceptual import VGGPerceptual
from tfgancomp.train.tasks import CycleGANTask, GauGANTask, ImagePool, Pix2PixTask

__all__ = [
    "GAN_MODES",
    "CycleGANTask",
    "EpochCheckpoint",
    "GauGANTask",
    "ImagePool",
    "LinearDecay",
    "NonFiniteStop",
    "Pix2PixTask",
    "VGGPerceptual",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_loss",
    "linear_decay_factor",
]
