"""Latency predictors: a per-target lookup table of measured stage latencies, summed to predict a configuration.

MACs are not milliseconds: depthwise convolutions and normalizations are memory-bound, and every target (phone
CPU, mobile GPU, Jetson, this host) weighs them differently. A :class:`LatencyTable` holds the measured latency of
every stage of the mobile ResNet generator (stem, the two downsamplings, a separable or a dense residual block, the
two upsamplings, the head) at every pair of channel counts it was built for, at one input size, on one target,
plus a constant and a scale measured on whole models (what the stage split leaves out: one invocation instead of
many, the tensors handed between stages no longer hot in the cache). The prediction of a configuration is
``constant + scale × (the sum of its stages)``, memoized, so a search checks thousands of candidates against a
budget as it does MACs with :func:`~tfgancomp.search.space.resnet_macs_of_widths`.

The file is versioned JSON (:data:`TABLE_VERSION`) naming the target: device, runtime, threads, precision, input
size. ``tfgancomp latency-table`` builds one (:mod:`tfgancomp.pipeline.latency_table`); :func:`shipped_tables`
lists the ones in the package (the host CPU of a reference setting), so a search under ``--budget-ms`` runs out of
the box.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources

from tfgancomp.models.config import BLOCK_KINDS, LAYOUT_LENGTH, format_config
from tfgancomp.models.resnet import RESNET_STAGES, group_depths

#: Version of the table file format.
TABLE_VERSION = 1
#: What a table's ``target`` records (all required).
TARGET_KEYS = ("kind", "device", "runtime", "threads", "precision")


class LatencyTableError(ValueError):
    """A latency table file that is malformed (the key is named) or that does not fit the search (what is named)."""


def _pair(key: str) -> tuple[int, int]:
    a, b = key.split(",")
    return int(a), int(b)


@dataclass(frozen=True)
class LatencyTable:
    """Measured stage latencies of the mobile ResNet generator on one target, at one input size.

    Args:
        target: ``kind`` (``host``, ``android``, ``jetson``), ``device`` (CPU / phone / board name), ``runtime``
            (e.g. ``"LiteRT 2.1 XNNPACK"``), ``threads`` and ``precision`` (``float32``, ``float16``, ...).
        height: Generator input height the stages were measured at.
        width: Generator input width.
        input_nc: Image channels in.
        output_nc: Image channels out.
        stages: Per stage of :data:`~tfgancomp.models.resnet.RESNET_STAGES`, ``{"c_in,c_out": ms}`` (for blocks
            ``"trunk,inner"``): the median latency of that stage alone.
        constant_ms: What a whole model takes beyond ``scale`` × the sum of its stages (fitted, see
            :func:`fit_calibration`).
        scale: Whole-model latency per ms of summed stages (fitted on the calibration models; 1 with one).
        calibration: The whole models measured to fit ``constant_ms`` and ``scale`` (config, measured and summed ms).
        settings: How it was measured (runs, warm-up, ...), for the record.
        source: The file it was read from (not stored).
    """

    target: dict
    height: int
    width: int
    input_nc: int
    output_nc: int
    stages: dict
    constant_ms: float = 0.0
    scale: float = 1.0
    calibration: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    source: str | None = None

    # ------------------------------------------------------------------------------------------ file form

    def to_dict(self) -> dict:
        """The JSON form (what :meth:`from_dict` reads)."""
        return {"version": TABLE_VERSION, "family": "resnet", "target": self.target,
                "size": [self.height, self.width], "input_nc": self.input_nc, "output_nc": self.output_nc,
                "constant_ms": self.constant_ms, "scale": self.scale, "stages": self.stages,
                "calibration": self.calibration,
                "settings": self.settings}  # fmt: skip

    def save(self, path: str) -> None:
        """Write the table as JSON (atomically)."""
        tmp = f"{path}.tmp"
        with open(tmp, "w") as f:
            json.dump(self.to_dict(), f, indent=1)
            f.write("\n")
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, data, source: str | None = None) -> LatencyTable:
        """Read and check a table's JSON form.

        Raises:
            LatencyTableError: naming ``source`` (the file) and the key that is missing or wrong.
        """

        def bad(key, expected):
            return LatencyTableError(f"{where}: key {key!r} {expected}")

        where = f"latency table {source}" if source else "latency table"

        if not isinstance(data, dict):
            raise LatencyTableError(f"{where}: not a JSON object (a latency table from tfgancomp latency-table)")
        if data.get("version") != TABLE_VERSION:
            raise bad("version", f"is {data.get('version')!r}; this tfgancomp reads version {TABLE_VERSION}")
        if data.get("family") != "resnet":
            raise bad("family", f"is {data.get('family')!r}; latency tables cover the ResNet family (pix2pix, "
                      "CycleGAN)")  # fmt: skip
        target = data.get("target")
        if not isinstance(target, dict):
            raise bad("target", "must be an object with " + ", ".join(TARGET_KEYS))
        for key in TARGET_KEYS:
            if key not in target:
                raise bad(f"target.{key}", "is missing")
        size = data.get("size")
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
            raise bad("size", f"must be [height, width] positive integers, got {size!r}")
        for key in ("input_nc", "output_nc"):
            if not isinstance(data.get(key), int) or data[key] < 1:
                raise bad(key, f"must be a positive integer, got {data.get(key)!r}")
        if not isinstance(data.get("constant_ms"), (int, float)) or isinstance(data.get("constant_ms"), bool):
            raise bad("constant_ms", f"must be a number (ms), got {data.get('constant_ms')!r}")
        scale = data.get("scale", 1.0)
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not scale > 0:
            raise bad("scale", f"must be a positive number, got {scale!r}")
        stages = data.get("stages")
        if not isinstance(stages, dict):
            raise bad("stages", "must be an object: stage -> {'c_in,c_out': ms}")
        for stage, entries in stages.items():
            if stage not in RESNET_STAGES:
                raise bad(f"stages.{stage}", f"is not a stage; expected {', '.join(RESNET_STAGES)}")
            if not isinstance(entries, dict) or not entries:
                raise bad(f"stages.{stage}", "must be a non-empty object {'c_in,c_out': ms}")
            for key, ms in entries.items():
                try:
                    a, b = _pair(key)
                    ok = a > 0 and b > 0
                except ValueError:
                    ok = False
                if not ok:
                    raise bad(f"stages.{stage}.{key}", "is not 'c_in,c_out' (two positive integers)")
                if not isinstance(ms, (int, float)) or isinstance(ms, bool) or not ms > 0:
                    raise bad(f"stages.{stage}.{key}", f"must be a positive latency in ms, got {ms!r}")
        for stage in RESNET_STAGES:
            if stage not in stages and stage != "block_dense":
                raise bad(f"stages.{stage}", "is missing")
        return cls(dict(target), size[0], size[1], data["input_nc"], data["output_nc"],
                   {k: dict(v) for k, v in stages.items()}, float(data["constant_ms"]), float(scale),
                   list(data.get("calibration", [])), dict(data.get("settings", {})), source)  # fmt: skip

    @classmethod
    def load(cls, path: str) -> LatencyTable:
        """Read a table file.

        Raises:
            LatencyTableError: the file is missing, not JSON, or a key is wrong (named).
        """
        if not os.path.isfile(path):
            raise LatencyTableError(f"latency table {path} does not exist")
        try:
            with open(path) as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise LatencyTableError(f"latency table {path} is not valid JSON: {err}") from None
        return cls.from_dict(data, path)

    # ------------------------------------------------------------------------------------------ prediction

    def describe(self) -> str:
        """One line: where and how it was measured."""
        t = self.target
        return (f"{t['kind']} {t['device']}, {t['runtime']}, {t['threads']} threads, {t['precision']}, "
                f"{self.height}x{self.width}")  # fmt: skip

    def stage_channels(self, config, n_blocks: int = 9) -> list[tuple[str, int, int, int]]:
        """``(stage, c_in, c_out, count)`` of every stage of a ResNet configuration (8 or 14 ints)."""
        c = [int(v) for v in config]
        if len(c) == 6:
            c = [c[0], c[1], c[2], c[3], c[3], c[3], c[4], c[5]]
        kinds, depths = (c[8:11], c[11:]) if len(c) == LAYOUT_LENGTH else ((0, 0, 0), (0, 0, 0))
        counts = group_depths(n_blocks, depths, format_config(c))
        c0, c1, c2, r1, r2, r3, u1, u2 = c[:8]
        trunk = 4 * c2
        out = [("stem", self.input_nc, c0, 1), ("down1", c0, 2 * c1, 1), ("down2", 2 * c1, trunk, 1)]
        for r, kind, count in zip((r1, r2, r3), kinds, counts, strict=True):
            if count:
                out.append((f"block_{BLOCK_KINDS[kind]}", trunk, 4 * r, count))
        return out + [("up1", trunk, 2 * u1, 1), ("up2", 2 * u1, u2, 1), ("head", u2, self.output_nc, 1)]

    def missing(self, config, n_blocks: int = 9) -> list[str]:
        """The stage entries a configuration needs that the table lacks (empty: it can be predicted)."""
        out = []
        for stage, a, b, _ in self.stage_channels(config, n_blocks):
            if f"{a},{b}" not in self.stages.get(stage, {}):
                out.append(f"{stage} {a},{b}")
        return out

    def stage_sum(self, config, n_blocks: int = 9) -> float:
        """The sum of a configuration's stage latencies (ms), each block counted as often as it runs.

        Raises:
            LatencyTableError: the configuration needs a stage the table has no entry for (named).
        """
        total = 0.0
        for stage, a, b, count in self.stage_channels(config, n_blocks):
            entries = self.stages.get(stage, {})
            if f"{a},{b}" not in entries:
                raise LatencyTableError(self._missing_message(format_config(config), stage, a, b))
            total += count * entries[f"{a},{b}"]
        return float(total)

    def predict(self, config, n_blocks: int = 9) -> float:
        """Predicted latency (ms) of ``SubMobileResNetGenerator(config, n_blocks=n_blocks)`` at the table's size.

        ``constant_ms + scale × stage_sum``.

        Raises:
            LatencyTableError: the configuration needs a stage the table has no entry for (named).
        """
        return float(self.constant_ms + self.scale * self.stage_sum(config, n_blocks))

    def _missing_message(self, what: str, stage: str, a: int, b: int) -> str:
        have = sorted({_pair(k) for k in self.stages.get(stage, {})})
        where = f"latency table {self.source}" if self.source else "the latency table"
        known = f"it covers {', '.join(f'{x},{y}' for x, y in have[:12])}{' ...' if len(have) > 12 else ''}"
        return (f"{where} has no {stage} entry for channels {a},{b} (needed by {what}); "
                f"{known if have else 'it has no such stage'} — build one for this space with "
                "tfgancomp latency-table")  # fmt: skip

    def check(self, space, height: int, width: int, n_blocks: int = 9) -> None:
        """Refuse a table that cannot predict every configuration of ``space`` at ``height`` × ``width``.

        Raises:
            LatencyTableError: another input size, another family, or a stage entry (block kind, channel pair) the
                space needs and the table lacks — each named.
        """
        where = f"latency table {self.source}" if self.source else "the latency table"
        if space.family != "resnet":
            raise LatencyTableError(f"{where} times ResNet-family stages; space {space.name!r} is of the "
                                    f"{space.family} family")  # fmt: skip
        if (self.height, self.width) != (int(height), int(width)):
            raise LatencyTableError(f"{where} was measured at {self.height}x{self.width}; the search runs at "
                                    f"{height}x{width} — build a table at that size with tfgancomp latency-table "
                                    f"--size {height}" + (f" --width {width}" if width != height else ""))  # fmt: skip
        needs = stage_pairs(space, self.input_nc, self.output_nc)
        for stage, pairs in needs.items():
            have = self.stages.get(stage, {})
            for a, b in sorted(pairs):
                if f"{a},{b}" not in have:
                    raise LatencyTableError(self._missing_message(f"space {space.name!r}", stage, a, b))
        if space.has_layout:
            deepest = [max(d) for d in space.choices[11:]]
            group_depths(n_blocks, deepest, f"space {space.name!r} (up to {deepest} blocks per group)")

    def predictor(self, n_blocks: int = 9):
        """``predict`` as a one-argument cost function for the search oracles (memoized per configuration)."""
        cache: dict[tuple[int, ...], float] = {}

        def cost(config) -> float:
            key = tuple(int(v) for v in config)
            if key not in cache:
                cache[key] = self.predict(key, n_blocks)
            return cache[key]

        return cost


def fit_calibration(calibration: list[dict]) -> tuple[float, float]:
    """``(constant_ms, scale)`` with ``measured ≈ constant + scale × stage_sum`` over the calibration models.

    Least squares on the *relative* error (small models count as much as large ones: a tight budget is decided among
    small ones). One model gives ``scale`` 1 and the residual as the constant.
    """
    summed = [float(c["stage_sum_ms"]) for c in calibration]
    measured = [float(c["measured_ms"]) for c in calibration]
    if not calibration:
        raise ValueError("fitting a latency table needs at least one calibration model")
    if len(calibration) == 1 or max(summed) - min(summed) <= 1e-9 * max(summed):
        return float(sum(m - s for m, s in zip(measured, summed, strict=True)) / len(summed)), 1.0
    # minimize sum(((c + k s_i) / m_i - 1)^2): normal equations of the 2x2 system
    a11 = sum(1 / m**2 for m in measured)
    a12 = sum(s / m**2 for s, m in zip(summed, measured, strict=True))
    a22 = sum(s**2 / m**2 for s, m in zip(summed, measured, strict=True))
    b1 = sum(1 / m for m in measured)
    b2 = sum(s / m for s, m in zip(summed, measured, strict=True))
    det = a11 * a22 - a12 * a12
    constant, scale = (a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det
    if scale <= 0:  # measurements too noisy to separate the two: a constant alone
        return float(sum(m - s for m, s in zip(measured, summed, strict=True)) / len(summed)), 1.0
    return float(constant), float(scale)


def stage_pairs(space, input_nc: int = 3, output_nc: int = 3) -> dict[str, set[tuple[int, int]]]:
    """Every ``(c_in, c_out)`` each stage takes over the configurations of a ResNet-family ``space``."""
    c = space.choices
    needs = {"stem": {(input_nc, c0) for c0 in c[0]}, "down1": {(c0, 2 * c1) for c0 in c[0] for c1 in c[1]},
             "down2": {(2 * c1, 4 * c2) for c1 in c[1] for c2 in c[2]},
             "up1": {(4 * c2, 2 * u1) for c2 in c[2] for u1 in c[6]},
             "up2": {(2 * u1, u2) for u1 in c[6] for u2 in c[7]}, "head": {(u2, output_nc) for u2 in c[7]}}  # fmt: skip
    kinds = [set(k) for k in c[8:11]] if space.has_layout else [{0}] * 3
    for g in range(3):
        for kind in kinds[g]:
            needs.setdefault(f"block_{BLOCK_KINDS[kind]}", set()).update(
                (4 * c2, 4 * r) for c2 in c[2] for r in c[3 + g]
            )
    return needs


def shipped_tables() -> list[str]:
    """Paths of the latency tables shipped in the package (``tfgancomp/search/latency_tables/*.json``)."""
    folder = resources.files("tfgancomp.search") / "latency_tables"
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.name.endswith(".json"))


def find_table(height: int, width: int, path: str | None = None) -> LatencyTable:
    """The table at ``path``, or the shipped host table measured at ``height`` × ``width``.

    Raises:
        LatencyTableError: no shipped table has that size (the shipped sizes and how to build one are named).
    """
    if path:
        return LatencyTable.load(path)
    tables = [LatencyTable.load(p) for p in shipped_tables()]
    for table in tables:
        if (table.height, table.width) == (int(height), int(width)):
            return table
    sizes = ", ".join(f"{t.height}x{t.width}" for t in tables) or "none"
    raise LatencyTableError(f"no shipped latency table is measured at {height}x{width} (shipped: {sizes}); build one "
                            f"for your target with tfgancomp latency-table --size {height} ... and pass "
                            "--latency-table FILE")  # fmt: skip
