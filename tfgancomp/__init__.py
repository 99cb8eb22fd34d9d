"""tfgancomp: GAN Compression for Keras and TensorFlow Lite.

The public API is small on purpose: build generators and discriminators (:mod:`tfgancomp.models`), count
their cost (:func:`profile`), make procedural datasets (:func:`synthesize`), train and load teachers
(:func:`train_teacher`, :func:`load_generator`); exporting lives in the separate ``mobile_export`` package.
"""

from tfgancomp.data import ReaderSettings, SynthSettings, synthesize
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
from tfgancomp.train import TeacherSettings, load_generator, train_teacher

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "MobileResNetGenerator",
    "MobileSPADEGenerator",
    "MultiscaleDiscriminator",
    "PatchGANDiscriminator",
    "Profile",
    "ProfileSpec",
    "ReaderSettings",
    "ResNetGenerator",
    "SPADEGenerator",
    "SubMobileResNetGenerator",
    "SubMobileSPADEGenerator",
    "SynthSettings",
    "TeacherSettings",
    "__version__",
    "build_model",
    "build_preset",
    "load_generator",
    "profile",
    "synthesize",
    "train_teacher",
]
