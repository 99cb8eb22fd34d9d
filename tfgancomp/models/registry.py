"""Build any zoo model by architecture name."""

from __future__ import annotations

import copy

from tfgancomp.models.discriminators import MultiscaleDiscriminator, PatchGANDiscriminator
from tfgancomp.models.presets import PRESETS
from tfgancomp.models.resnet import MobileResNetGenerator, ResNetGenerator, SubMobileResNetGenerator
from tfgancomp.models.spade import MobileSPADEGenerator, SPADEGenerator, SubMobileSPADEGenerator
from tfgancomp.models.unet import UnetGenerator

#: Architecture name -> model class.
ARCHITECTURES = {
    "resnet": ResNetGenerator,
    "mobile_resnet": MobileResNetGenerator,
    "sub_mobile_resnet": SubMobileResNetGenerator,
    "unet": UnetGenerator,
    "spade": SPADEGenerator,
    "mobile_spade": MobileSPADEGenerator,
    "sub_mobile_spade": SubMobileSPADEGenerator,
    "patchgan": PatchGANDiscriminator,
    "multiscale": MultiscaleDiscriminator,
}

GENERATORS = tuple(a for a in ARCHITECTURES if a not in ("patchgan", "multiscale"))


def architecture(arch: str):
    """The model class of ``arch``, or a ``ValueError`` listing the known architectures."""
    try:
        return ARCHITECTURES[arch]
    except (KeyError, TypeError):
        raise ValueError(f"unknown architecture {arch!r}; expected one of {', '.join(ARCHITECTURES)}") from None


def build_model(arch: str, **kwargs):
    """Build the model ``arch`` (a key of :data:`ARCHITECTURES`) with constructor ``kwargs``."""
    cls = architecture(arch)
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(f"invalid arguments for architecture {arch!r}: {err}") from None


def preset(name: str) -> dict:
    """A copy of the reference configuration ``name`` (see :data:`PRESETS`)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])


def build_preset(name: str, **overrides):
    """Build a preset at its reference resolution; ``overrides`` replace constructor arguments."""
    spec = preset(name)
    kwargs = {"height": spec["height"], "width": spec["width"], **spec["kwargs"], **overrides}
    return build_model(spec["arch"], **kwargs)
