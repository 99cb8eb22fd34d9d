"""Channel configuration strings of sub-mobile generators (the reference ``c0_c1_..._cN`` format)."""

from __future__ import annotations

import re

#: The generator family of each task: whose configuration strings (and supernets, search spaces) it uses.
TASK_FAMILIES = {"pix2pix": "resnet", "cyclegan": "resnet", "gaugan": "spade"}
#: The generator families a task's *teacher* may come from (an imported pix2pix U-Net teaches a ResNet student).
TEACHER_FAMILIES = {"pix2pix": ("resnet", "unet"), "cyclegan": ("resnet", "unet"), "gaugan": ("spade",)}

#: Number of entries a configuration may have, per generator family (a ResNet configuration with a block layout
#: is 14 ints: the 8 widths, then the block kind and the block count of each of the three residual groups).
CONFIG_LENGTHS = {"resnet": (8, 6, 14), "spade": (8,)}
#: Residual block kinds of a ResNet layout, by their code in a 14-int configuration (string suffix "" / "d").
BLOCK_KINDS = ("separable", "dense")
#: Length of a ResNet configuration with a block layout.
LAYOUT_LENGTH = 14
_RESIDUAL_TOKEN = re.compile(r"^(\d+)(d|s)?(?:x(\d+))?$")

_FORMS = {
    "resnet": "8 entries c0_c1_c2_r1_r2_r3_u1_u2 (stem, downsampling 1-2, residual groups 1-3, upsampling 1-2; "
    "a residual entry may add d for dense blocks and xN for N blocks in its group, e.g. 24dx2) "
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
            if family == "resnet" and len(parts) == 8 and any(not p.isdigit() for p in parts[3:6]):
                widths = _parse_layout(parts)
            else:
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
            try:  # numpy integers (a search's configurations) are integers too
                widths = tuple(int(w) for w in widths if int(w) == w and not isinstance(w, (bool, float)))
            except (TypeError, ValueError):
                widths = ()
            if len(widths) != len(tuple(config)):
                raise ValueError(f"channel configuration {config!r} must hold integers; {expected}")
    if len(widths) not in CONFIG_LENGTHS[family]:
        raise ValueError(f"channel configuration {config!r} has {len(widths)} entries; expected {expected}")
    bad = [w for w in widths[:8] if w <= 0]
    if bad:
        raise ValueError(f"channel configuration {config!r} has non-positive widths {bad}; every width must be >= 1")
    if len(widths) == LAYOUT_LENGTH:
        kinds, depths = widths[8:11], widths[11:]
        if any(k not in range(len(BLOCK_KINDS)) for k in kinds) or any(d < 0 for d in depths):
            raise ValueError(f"channel configuration {config!r}: entries 8-10 are block kinds (0 separable, 1 dense) "
                             "and 11-13 block counts per group (0: the whole group)")  # fmt: skip
    return widths


def _parse_layout(parts) -> tuple[int, ...]:
    """14 ints of an 8-token string whose residual tokens carry a block kind (``d``/``s``) or count (``xN``)."""
    kinds, depths, inner = [], [], []
    for token in parts[3:6]:
        match = _RESIDUAL_TOKEN.match(token)
        if match is None:
            raise ValueError(token)
        inner.append(int(match.group(1)))
        kinds.append(1 if match.group(2) == "d" else 0)
        depths.append(int(match.group(3) or 0))
        if match.group(3) is not None and depths[-1] < 1:
            raise ValueError(token)
    return (int(parts[0]), int(parts[1]), int(parts[2]), *inner, int(parts[6]), int(parts[7]), *kinds, *depths)


def split_layout(config) -> tuple[tuple[int, ...], tuple[int, int, int], tuple[int, int, int]]:
    """``(widths, kinds, depths)`` of a parsed ResNet configuration: 8 widths, kind codes, block counts (0: all).

    A plain 8-entry configuration has separable blocks only, every group whole.
    """
    c = tuple(int(w) for w in config)
    if len(c) == 6:
        c = (c[0], c[1], c[2], c[3], c[3], c[3], c[4], c[5])
    if len(c) == LAYOUT_LENGTH:
        return c[:8], c[8:11], c[11:]
    return c, (0, 0, 0), (0, 0, 0)


def format_config(widths) -> str:
    """Encode widths as the reference string format (``"24_24_24_32_20_16"``).

    A 14-int ResNet configuration writes its layout into the residual entries: ``24d`` dense blocks, ``24x2`` two
    blocks in the group, ``24dx2`` both (``"32_32_32_24dx2_16_16x1_24_24"``).
    """
    w = [int(v) for v in widths]
    if len(w) != LAYOUT_LENGTH:
        return "_".join(str(v) for v in w)
    residual = [f"{r}{'d' if k else ''}{f'x{d}' if d else ''}" for r, k, d in zip(w[3:6], w[8:11], w[11:], strict=True)]
    return "_".join([str(v) for v in w[:3]] + residual + [str(v) for v in w[6:8]])
