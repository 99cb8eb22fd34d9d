"""tfgancomp: GAN Compression for Keras and TensorFlow Lite.

The public API is small on purpose: build generators and discriminators (:mod:`tfgancomp.models`), count
their cost (:func:`profile`); exporting lives in the separate ``mobile_export`` package.
"""

from tfgancomp.metrics import Profile, ProfileSpec, profile
from tfgancomp.models import (
    PRESETS,
    MobileResNetGenerator,
    MobileSPADEGenerator,
    MultiscaleDiscriminator,
    PatchGANDiscriminator,
    ResNetGenerator,
    SPADEGenerator,
    SubMobileResNetGenerator,
    SubMobileSPADEGenerator,
    build_model,
    build_preset,
)

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "MobileResNetGenerator",
    "MobileSPADEGenerator",
    "MultiscaleDiscriminator",
    "PatchGANDiscriminator",
    "Profile",
    "ProfileSpec",
    "ResNetGenerator",
    "SPADEGenerator",
    "SubMobileResNetGenerator",
    "SubMobileSPADEGenerator",
    "__version__",
    "build_model",
    "build_preset",
    "profile",
]
