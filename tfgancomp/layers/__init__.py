"""Serializable layers of the generator zoo; every one lowers to GPU-delegate TFLite ops."""

from tfgancomp.layers.normalization import InstanceNorm
from tfgancomp.layers.padding import ReflectionPad2D
from tfgancomp.layers.resize import AvgPoolExcludePad, NearestDownsample, resize_nearest
from tfgancomp.layers.separable import SeparableConv
from tfgancomp.layers.spade import SPADE, MobileSPADE

__all__ = [
    "SPADE",
    "AvgPoolExcludePad",
    "InstanceNorm",
    "MobileSPADE",
    "NearestDownsample",
    "ReflectionPad2D",
    "SeparableConv",
    "resize_nearest",
]
