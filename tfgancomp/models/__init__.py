"""The model zoo: generators and discriminators as Functional ``tf_keras`` models."""

from tfgancomp.models.base import ZooModel
from tfgancomp.models.config import format_config, parse_config
from tfgancomp.models.discriminators import MultiscaleDiscriminator, PatchGANDiscriminator
from tfgancomp.models.presets import PRESETS
from tfgancomp.models.registry import (
    ARCHITECTURES,
    GENERATORS,
    architecture,
    build_model,
    build_preset,
    preset,
)
from tfgancomp.models.resnet import MobileResNetGenerator, ResNetGenerator, SubMobileResNetGenerator
from tfgancomp.models.spade import MobileSPADEGenerator, SPADEGenerator, SubMobileSPADEGenerator
from tfgancomp.models.unet import UnetGenerator

__all__ = [
    "ARCHITECTURES",
    "GENERATORS",
    "PRESETS",
    "MobileResNetGenerator",
    "MobileSPADEGenerator",
    "MultiscaleDiscriminator",
    "PatchGANDiscriminator",
    "ResNetGenerator",
    "SPADEGenerator",
    "SubMobileResNetGenerator",
    "SubMobileSPADEGenerator",
    "UnetGenerator",
    "ZooModel",
    "architecture",
    "build_model",
    "build_preset",
    "format_config",
    "parse_config",
    "preset",
]
