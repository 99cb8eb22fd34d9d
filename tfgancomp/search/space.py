"""Channel search spaces as data: per position of a configuration string, the widths it may take.

A configuration is a tuple of widths in the sub-mobile generators' string format (``c0_c1_..._c7``, see
:mod:`tfgancomp.models.config`). A ResNet space may also choose each residual group's block layout — separable or
dense blocks, and how many — for speed: its configurations are then 14 ints (the 8 widths, 3 block kinds, 3 block
counts), written like ``32_32_32_24dx2_16x3_16x1_24_24``. The reference spaces of GAN Compression / Fast GAN
Compression, and two layout spaces, are in :data:`SPACES`; user-defined spaces are :class:`SearchSpace` objects or
JSON files ``{"family": "resnet", "choices": [[64, 48, 32], ...]}``, optionally with
``"kinds": [["separable", "dense"], ...]`` and ``"depths": [[3, 2, 1], ...]`` (one list per residual group).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from tfgancomp.models.config import BLOCK_KINDS, CONFIG_LENGTHS, LAYOUT_LENGTH, format_config, parse_config
from tfgancomp.models.spade import SPADE_BLOCKS, UPSAMPLING_LAYERS, upsamples_before


@dataclass(frozen=True)
class SearchSpace:
    """The widths each position of a channel configuration may take.

    Args:
        name: The space's name.
        family: ``"resnet"`` or ``"spade"`` (which sub-mobile generator the configurations build).
        choices: Per position, the allowed widths (largest first by convention): 8 positions, or for a ResNet
            space with block layouts 14 (then positions 8–10 list block-kind codes, 0 separable / 1 dense, and
            11–13 block counts per residual group).
    """

    name: str
    family: str
    choices: tuple[tuple[int, ...], ...]

    def __post_init__(self):
        if self.family not in CONFIG_LENGTHS:
            raise ValueError(f"search space {self.name!r}: unknown family {self.family!r}; expected resnet or spade")
        choices = tuple(tuple(int(w) for w in position) for position in self.choices)
        lengths = (8, LAYOUT_LENGTH) if self.family == "resnet" else (8,)
        if len(choices) not in lengths:
            raise ValueError(f"search space {self.name!r} has {len(choices)} positions; {self.family} configurations "
                             f"have {' or '.join(map(str, lengths))}")  # fmt: skip
        for i, position in enumerate(choices):
            low = 0 if 8 <= i < 11 else 1
            if not position or any(w < low for w in position) or len(set(position)) != len(position):
                what = "distinct positive widths" if i < 8 else "distinct positive block counts"
                raise ValueError(f"search space {self.name!r}: position {i} must list {what}, got {position}")
            if 8 <= i < 11 and any(w >= len(BLOCK_KINDS) for w in position):
                raise ValueError(f"search space {self.name!r}: position {i} lists block kinds by code "
                                 f"(0 separable, 1 dense), got {position}")  # fmt: skip
        object.__setattr__(self, "choices", choices)

    @property
    def ngf(self) -> int:
        """The widest width of any position (a supernet over the space needs at least this ``ngf``)."""
        return max(max(c) for c in self.choices[:8])

    @property
    def has_layout(self) -> bool:
        """Whether configurations also choose block kinds and counts (14 positions)."""
        return len(self.choices) == LAYOUT_LENGTH

    @property
    def size(self) -> int:
        """Number of configurations."""
        return math.prod(len(c) for c in self.choices)

    def largest(self) -> tuple[int, ...]:
        """The widest configuration."""
        return tuple(max(c) for c in self.choices)

    def smallest(self) -> tuple[int, ...]:
        """The narrowest configuration."""
        return tuple(min(c) for c in self.choices)

    def sample(self, rng: np.random.Generator) -> tuple[int, ...]:
        """A uniformly random configuration."""
        return tuple(int(c[rng.integers(len(c))]) for c in self.choices)

    def contains(self, config) -> bool:
        """Whether ``config`` (string or widths) is a configuration of this space."""
        try:
            return self.decode(config) is not None
        except ValueError:
            return False

    def decode(self, config) -> tuple[int, ...]:
        """Widths of a configuration string (or sequence), checked against the space.

        Raises:
            ValueError: naming the position and the widths it allows.
        """
        widths = parse_config(config, self.family)
        if len(widths) != len(self.choices):
            raise ValueError(f"configuration {config!r} has {len(widths)} entries; space {self.name!r} uses "
                             f"{len(self.choices)}" + (" (write each residual entry's kind and count, e.g. 24dx2 or "
                                                        "24x3)" if self.has_layout else ""))  # fmt: skip
        for i, (w, allowed) in enumerate(zip(widths, self.choices, strict=True)):
            if w not in allowed:
                raise ValueError(
                    f"configuration {format_config(widths)!r} is not in space {self.name!r}: position {i} is {w}, "
                    f"allowed {list(allowed)}"
                )
        return widths

    @staticmethod
    def encode(config) -> str:
        """The configuration string of widths."""
        return format_config(config)

    def to_dict(self) -> dict:
        """The space as its JSON file form (what :func:`get_space` reads)."""
        out = {"name": self.name, "family": self.family, "choices": [list(c) for c in self.choices[:8]]}
        if self.has_layout:
            out["kinds"] = [[BLOCK_KINDS[k] for k in c] for c in self.choices[8:11]]
            out["depths"] = [list(c) for c in self.choices[11:]]
        return out

    @classmethod
    def from_dict(cls, data: dict, name: str | None = None) -> SearchSpace:
        """A space from its JSON form (``family``, ``choices``, optional ``kinds`` and ``depths``).

        Raises:
            ValueError: naming the key that is missing or wrong.
        """
        if not isinstance(data, dict):
            raise ValueError("a search space is a JSON object with 'family' and 'choices'")
        for key in ("family", "choices"):
            if key not in data:
                raise ValueError(f"search space has no {key!r}")
        choices = [list(c) for c in data["choices"]]
        if ("kinds" in data) != ("depths" in data):
            raise ValueError("a search space with block layouts needs both 'kinds' and 'depths' (3 lists each)")
        if "kinds" in data:
            kinds, depths = data["kinds"], data["depths"]
            if len(kinds) != 3 or len(depths) != 3:
                raise ValueError("'kinds' and 'depths' hold one list per residual group (3 each)")
            for group in kinds:
                unknown = [k for k in group if k not in BLOCK_KINDS]
                if unknown:
                    raise ValueError(f"'kinds' lists unknown block kinds {unknown}; expected {list(BLOCK_KINDS)}")
            choices += [[BLOCK_KINDS.index(k) for k in group] for group in kinds] + [list(d) for d in depths]
        return cls(data.get("name", name or "space"), data["family"], choices)


def _uniform(widths):
    return tuple(tuple(widths) for _ in range(8))


#: The reference search spaces, keyed by (family, name).
SPACES = {
    ("resnet", "channels-32"): SearchSpace("channels-32", "resnet", _uniform([32, 24, 16])),
    ("resnet", "channels-48"): SearchSpace(
        "channels-48",
        "resnet",
        (
            (48, 32),
            (48, 32),
            (48, 40, 32),
            (48, 40, 32),
            (48, 40, 32),
            (48, 40, 32),
            (48, 32, 24, 16),
            (48, 32, 24, 16),
        ),
    ),  # fmt: skip
    ("resnet", "channels-64-cycleGAN"): SearchSpace("channels-64-cycleGAN", "resnet", _uniform([64, 48, 32, 24, 16])),
    ("resnet", "channels-64-pix2pix"): SearchSpace(
        "channels-64-pix2pix", "resnet", _uniform([64, 56, 48, 40, 32, 24, 16])
    ),
    # the channels-* widths, and per residual group separable or dense blocks, 3, 2 or 1 of them (9-block layout)
    ("resnet", "blocks-32"): SearchSpace(
        "blocks-32", "resnet", _uniform([32, 24, 16]) + ((0, 1),) * 3 + ((3, 2, 1),) * 3
    ),
    ("resnet", "blocks-64-pix2pix"): SearchSpace(
        "blocks-64-pix2pix", "resnet", _uniform([64, 56, 48, 40, 32, 24, 16]) + ((0, 1),) * 3 + ((3, 2, 1),) * 3
    ),
    ("spade", "channels-48"): SearchSpace("channels-48", "spade", ((48, 40, 32),) * 5 + ((48, 40, 32, 24),) * 3),
    ("spade", "channels-64"): SearchSpace(
        "channels-64", "spade", ((64, 48, 40, 32),) * 5 + ((64, 48, 40, 32, 24),) * 3
    ),
}


def get_space(name: str, family: str = "resnet") -> SearchSpace:
    """A reference space by name, or a user-defined one from a JSON file path.

    Raises:
        ValueError: for an unknown name (listing the known ones) or a malformed file.
    """
    if name.endswith(".json") or os.path.sep in name:
        if not os.path.isfile(name):
            raise ValueError(f"search space file {name} does not exist")
        try:
            with open(name) as f:
                data = json.load(f)
            return SearchSpace.from_dict(data, os.path.basename(name))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
            raise ValueError(
                f"search space file {name} is not a JSON object with 'family' and 'choices' (8 lists of widths, "
                f"optionally 'kinds' and 'depths'): {err}"
            ) from None
    if (family, name) not in SPACES:
        known = ", ".join(n for f, n in SPACES if f == family)
        raise ValueError(f"unknown {family} search space {name!r}; expected one of {known} or a JSON file")
    return SPACES[(family, name)]


def resnet_macs(config, height: int, width: int, n_blocks: int = 9, input_nc: int = 3, output_nc: int = 3) -> int:
    """MACs (published convention, normalizations included) of ``SubMobileResNetGenerator(config)`` — closed form.

    Equal to ``profile(SubMobileResNetGenerator(config, ...), height, width).macs`` without building the model, so
    a search can check thousands of candidates against a budget. Block layouts (dense blocks, fewer blocks) count.
    """
    c = parse_config(config, "resnet")
    if len(c) == 6:
        c = (c[0], c[1], c[2], c[3], c[3], c[3], c[4], c[5])
    return int(resnet_macs_of_widths(np.asarray(c, np.int64), height, width, n_blocks, input_nc, output_nc))


def resnet_macs_of_widths(widths, height: int, width: int, n_blocks: int = 9, input_nc: int = 3, output_nc: int = 3):
    """:func:`resnet_macs` vectorized: ``widths`` is an ``(..., 8)`` or ``(..., 14)`` int array of configurations."""
    w = np.asarray(widths, np.int64)
    c0, c1, c2, r1, r2, r3, u1, u2 = (w[..., i] for i in range(8))
    d1, t, up1 = 2 * c1, 4 * c2, 2 * u1
    a1, a2, a4 = height * width, (height // 2) * (width // 2), (height // 4) * (width // 4)
    n1 = n_blocks // 3
    full = (n1, n1, n_blocks - 2 * n1)
    layout = w.shape[-1] == LAYOUT_LENGTH
    macs = a1 * c0 * input_nc * 49 + a1 * c0  # stem conv + norm
    macs = macs + a2 * d1 * c0 * 9 + a2 * d1 + a4 * t * d1 * 9 + a4 * t  # downsampling
    for g, (r, count) in enumerate(zip((r1, r2, r3), full, strict=True)):
        m = 4 * r
        # two separable convs (depthwise, inner norm, pointwise) and their norms
        block = a4 * (t * 9 + t * m + t) + a4 * m + a4 * (m * 9 + m * t + m) + a4 * t
        if layout:
            dense = a4 * (t * m * 9 + m + m * t * 9 + t)  # two full 3×3 convs and their norms
            block = np.where(w[..., 8 + g] == 1, dense, block)
            count = np.where(w[..., 11 + g] == 0, count, w[..., 11 + g])
        macs = macs + count * block
    macs = macs + a2 * up1 * t * 9 + a2 * up1 + a1 * u2 * up1 * 9 + a1 * u2  # transposed convs at output size
    return macs + a1 * output_nc * u2 * 49


def spade_macs(config, height: int, width: int, label_nc: int, instance: bool = False, output_nc: int = 3,
               separable_norm: str = "instance", num_upsampling_layers: str = "normal") -> int:  # fmt: skip
    """MACs (published convention) of ``SubMobileSPADEGenerator(config, ...)`` — closed form, as :func:`resnet_macs`."""
    c = parse_config(config, "spade")
    return int(spade_macs_of_widths(np.asarray(c, np.int64), height, width, label_nc, instance, output_nc,
                                    separable_norm, num_upsampling_layers))  # fmt: skip


def spade_macs_of_widths(widths, height: int, width: int, label_nc: int, instance: bool = False,
                         output_nc: int = 3, separable_norm: str = "instance",
                         num_upsampling_layers: str = "normal"):  # fmt: skip
    """:func:`spade_macs` vectorized: ``widths`` is an ``(..., 8)`` integer array of configurations."""
    w = np.asarray(widths, np.int64)
    semantic = label_nc + (1 if instance else 0)
    stride = 2 ** UPSAMPLING_LAYERS[num_upsampling_layers]
    area = (height // stride) * (width // stride)
    current = 16 * w[..., 0]
    macs = area * current * semantic * 9  # fc

    def spade(a, channels, hidden):  # shared conv, separable γ and β, their norms, the norm and modulation of x
        separable = 2 * (a * hidden * 9 + a * hidden * channels)
        norms = (2 * a * hidden if separable_norm == "instance" else 0) + 2 * a * channels
        return a * hidden * semantic * 9 + separable + norms

    for k, (block, fin, fout) in enumerate(SPADE_BLOCKS, start=1):
        if upsamples_before(block, num_upsampling_layers):
            area *= 4
        ch = w[..., k]
        middle = fout * ch
        out = middle if fin != fout else current
        macs = macs + spade(area, current, 2 * ch) + area * middle * current * 9
        macs = macs + spade(area, middle, 2 * ch) + area * out * middle * 9
        if fin != fout:
            macs = macs + spade(area, current, 2 * ch) + area * out * current
        current = out
    return macs + area * output_nc * current * 9
