"""tfgancomp: GAN Compression for Keras and TensorFlow Lite.

The public API is small on purpose: build generators and discriminators (:mod:`tfgancomp.models`), count
their cost (:func:`profile`), make procedural datasets (:func:`synthesize`), and one verb per stage, each writing a
resumable run dir (:mod:`tfgancomp.pipeline`): :func:`train_teacher`, :func:`distill` (also fine-tuning),
:func:`train_supernet`, :func:`search`, :func:`extract`, :func:`export_generator`, and :func:`compress` for all of
them in one call; :func:`load_generator` reads a run's generator back. Converting a Keras model lives in the
separate ``mobile_export`` package.
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
from tfgancomp.pipeline import (
    CompressSettings,
    DistillSettings,
    QATSettings,
    SupernetSettings,
    TeacherSettings,
    compress,
    distill,
    export_generator,
    extract,
    load_generator,
    search,
    train_supernet,
    train_teacher,
)

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "CompressSettings",
    "DistillSettings",
    "QATSettings",
    "SupernetSettings",
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
    "compress",
    "distill",
    "export_generator",
    "extract",
    "load_generator",
    "profile",
    "search",
    "synthesize",
    "train_supernet",
    "train_teacher",
]
