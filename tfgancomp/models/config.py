"""Channel configuration strings of sub-mobile generators (the reference ``c0_c1_..._cN`` format)."""

from __future__ import annotations

#: The generator family of each task: whose configuration strings (and supernets, search spaces) it uses.
TASK_FAMILIES = {"pix2pix": "resnet", "cyclegan": "resnet", "gaugan": "spade"}
#: The generator families a task's *teacher* may come from (an imported pix2pix U-Net teaches a ResNet student).
TEACHER_FAMILIES = {"pix2pix": ("resnet", "unet"), "cyclegan": ("resnet", "unet"), "gaugan": ("spade",)}

#: Number of entries a configuration string may have, per generator family.
CONFIG_LENGTHS = {"resnet": (8, 6), "spade": (8,)}

_FORMS = {
    "resnet": "8 entries c0_c1_c2_r1_r2_r3_u1_u2 (stem, downsampling 1-2, residual groups 1-3, upsampling 1-2) "
    "or the legacy 6 entries c0_c1_c2_r_u1_u2",
    "spade": "8 entries, one width per stage: fc/head_0, G_middle_0, G_middle_1, up_0, up_1, up_2, up_3 "
    "(c0_c1_c2_c3_c4_c5_c6_c7)",
}


def parse_config(config, family: str = "resnet") -> tuple[int, ...]:
    """Parse a channel configuration like ``"24_24_24_32_20_16"`` into a tuple of positive ints.

    Args:
        config: The string (``_``-separated integers) or an already parsed sequence of ints.
        family: ``"resnet"`` (8 or legacy 6 entries) or ``"spade"`` (8 entries).

    Returns:
        The widths as a tuple.

    Raises:
        ValueError: naming the bad string and the expected form when it is malformed or has widths <= 0.
    """
    if family not in CONFIG_LENGTHS:
        raise ValueError(f"unknown generator family {family!r}; expected one of {sorted(CONFIG_LENGTHS)}")
    expected = _FORMS[family]
    if isinstance(config, str):
        parts = config.strip().split("_")
        try:
            widths = tuple(int(p) for p in parts)
        except ValueError:
            raise ValueError(
                f"malformed channel configuration {config!r}: expected underscore-separated integers, {expected}"
            ) from None
    else:
        try:
            widths = tuple(config)
        except TypeError:
            raise ValueError(f"channel configuration must be a string, got {config!r}; {expected}") from None
        if not all(isinstance(w, int) and not isinstance(w, bool) for w in widths):
            raise ValueError(f"channel configuration {config!r} must hold integers; {expected}")
    if len(widths) not in CONFIG_LENGTHS[family]:
        raise ValueError(f"channel configuration {config!r} has {len(widths)} entries; expected {expected}")
    bad = [w for w in widths if w <= 0]
    if bad:
        raise ValueError(f"channel configuration {config!r} has non-positive widths {bad}; every width must be >= 1")
    return widths


def format_config(widths) -> str:
    """Encode widths as the reference string format (``"24_24_24_32_20_16"``)."""
    return "_".join(str(int(w)) for w in widths)
