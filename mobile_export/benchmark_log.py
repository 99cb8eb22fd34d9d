"""A parser of TensorFlow Lite ``benchmark_model`` output into a typed record.

It reads the lines the tool prints on a desktop (``INFO: `` prefix), in an Android shell, or through logcat
(``MM-DD hh:mm:ss.mmm pid tid I tflite : `` prefix): start-up figures, the warm-up and inference statistics lines
(``count=… first=… curr=… min=… max=… avg=… std=… p5=… median=… p95=…``, or ``count=N curr=X (all same)``), the
summary (``Inference timings in us: Init: …, First inference: …, Warmup (avg): …, Inference (avg): …`` and the older
``Average inference timings in us: Warmup: …, Init: …, Inference: …``), memory, and delegate coverage (``Replacing N
out of M node(s) with delegate (…) node, yielding K partitions``). Unknown lines are ignored and missing fields are
``None``; the only exception it raises is :class:`BenchmarkLogError` (for text with no benchmark figures at all).
Times are converted from the tool's microseconds to milliseconds.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


class BenchmarkLogError(ValueError):
    """Text that holds no ``benchmark_model`` figures (or is not text)."""


@dataclasses.dataclass
class BenchmarkLog:
    """What one ``benchmark_model`` run printed (times in milliseconds, memory in MB; ``None`` when absent)."""

    model: str | None = None
    num_threads: int | None = None
    use_gpu: bool | None = None
    xnnpack: bool | None = None
    model_size_mb: float | None = None
    init_ms: float | None = None
    first_ms: float | None = None
    warmup_avg_ms: float | None = None
    warmup_runs: int | None = None
    avg_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    p5_ms: float | None = None
    median_ms: float | None = None
    p95_ms: float | None = None
    runs: int | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    peak_memory_mb: float | None = None
    delegate: str | None = None
    delegated_nodes: int | None = None
    total_nodes: int | None = None
    partitions: int | None = None
    accelerated: bool | None = None

    @property
    def fully_accelerated(self) -> bool | None:
        """Every node went to the delegate.

        The runtime's own verdict when it printed one (LiteRT's ``Fully accelerated: [1]``), else ``Replacing N out
        of M`` with N = M; ``None`` when the log shows neither.
        """
        if self.accelerated is not None:
            return self.accelerated
        if self.delegated_nodes is None or self.total_nodes is None:
            return None
        return self.delegated_nodes == self.total_nodes

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict; ``accelerated`` is folded into ``fully_accelerated``."""
        values = dataclasses.asdict(self)
        values.pop("accelerated")
        return {**values, "fully_accelerated": self.fully_accelerated}


def _ms(value: str) -> float:
    """Microseconds as printed → milliseconds, the double nearest the decimal value (58147.4 → 58.1474 exactly)."""
    return float(Decimal(value) / 1000)


_STATS = re.compile(r"\bcount=(\d+)\b(.*)")
_STAT_FIELD = re.compile(rf"\b(first|curr|min|max|avg|std|p5|median|p95)=({_NUMBER})")
_ALL_SAME = re.compile(rf"\bcurr=({_NUMBER})\s*\(all same\)")
_SUMMARY = re.compile(r"[Ii]nference timings in us:(.*)")
_SUMMARY_FIELD = re.compile(rf"(Init|First inference|Warmup \(avg\)|Inference \(avg\)|Warmup|Inference):\s*({_NUMBER})")
_SIMPLE = [
    (re.compile(r"Graph: \[(.*)\]"), "model", str),
    (re.compile(r"Num threads: \[(\d+)\]"), "num_threads", int),
    (re.compile(r"#threads used for CPU inference: \[(\d+)\]"), "num_threads", int),
    (
        re.compile(r"Use gpu: \[(\d+|true|false)\]", re.IGNORECASE),
        "use_gpu",
        lambda v: v.lower() in ("1", "true"),
    ),  # fmt: skip
    (
        re.compile(r"Fully accelerated: \[(\d+|true|false)\]", re.IGNORECASE),
        "accelerated",
        lambda v: v.lower() in ("1", "true"),
    ),  # fmt: skip
    (re.compile(rf"The input model file size \(MB\): ({_NUMBER})"), "model_size_mb", float),
    (re.compile(rf"Initialized session in ({_NUMBER})ms"), "init_ms", float),
    (
        re.compile(rf"Overall peak memory footprint \(MB\) via periodic monitoring: ({_NUMBER})"),
        "peak_memory_mb",
        float,
    ),  # fmt: skip
]
_MEMORY = re.compile(rf"Memory footprint delta from the start of the tool \(MB\): init=({_NUMBER}) overall=({_NUMBER})")
_REPLACING = re.compile(
    r"Replacing (\d+) out of (\d+) node\(s\) with delegate \(([^)]*)\) node, yielding (\d+) partitions"
)
_XNNPACK = re.compile(r"Created TensorFlow Lite XNNPACK delegate")


def _stats(rest: str, count: int) -> dict | None:
    same = _ALL_SAME.search(rest)
    if same:
        v = same.group(1)
        return {"count": count, "first": v, "min": v, "max": v, "avg": v, "std": "0", "p5": v, "median": v, "p95": v}
    fields = dict(_STAT_FIELD.findall(rest))
    return {"count": count, **fields} if "avg" in fields else None


def parse(text) -> BenchmarkLog:
    """Parse ``benchmark_model`` output (str or bytes) into a :class:`BenchmarkLog`.

    The last statistics line is the measured runs; the one before it, when there is one, the warm-up.

    Raises:
        BenchmarkLogError: when ``text`` is not text or holds no timing, memory or delegate figure.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise BenchmarkLogError(f"benchmark_model output must be text, got {type(text).__name__}")
    record = BenchmarkLog()
    found = False
    stats: list[dict] = []
    summary: dict[str, str] = {}
    for line in text.splitlines():
        try:
            found = _parse_line(line, record, stats, summary) or found
        except (ValueError, OverflowError):  # e.g. a number too long to convert: an unknown line
            continue
    return _finish(record, stats, summary, found)


def _parse_line(line: str, record: BenchmarkLog, stats: list, summary: dict) -> bool:
    found = False
    for pattern, field, cast in _SIMPLE:
        match = pattern.search(line)
        if match:
            setattr(record, field, cast(match.group(1)))
            found = True
    match = _STATS.search(line)
    if match:
        parsed = _stats(match.group(2), int(match.group(1)))
        if parsed is not None:
            stats.append(parsed)
    match = _SUMMARY.search(line)
    if match:
        summary.update(_SUMMARY_FIELD.findall(match.group(1)))
    match = _MEMORY.search(line)
    if match:
        record.memory_init_mb, record.memory_overall_mb = float(match.group(1)), float(match.group(2))
        found = True
    match = _REPLACING.search(line)
    if match:
        record.delegated_nodes, record.total_nodes = int(match.group(1)), int(match.group(2))
        record.delegate, record.partitions = match.group(3), int(match.group(4))
        found = True
    if _XNNPACK.search(line):
        record.xnnpack = True
    return found


def _finish(record: BenchmarkLog, stats: list, summary: dict, found: bool) -> BenchmarkLog:
    if stats:
        runs = stats[-1]
        record.runs = runs["count"]
        for key in ("avg", "std", "min", "max", "p5", "median", "p95"):
            if key in runs:
                setattr(record, f"{key}_ms", _ms(runs[key]))
        if "first" in runs and len(stats) == 1:
            record.first_ms = _ms(runs["first"])
        if len(stats) >= 2:
            warmup = stats[-2]
            record.warmup_runs = warmup["count"]
            record.warmup_avg_ms = _ms(warmup["avg"])
            if "first" in warmup:
                record.first_ms = _ms(warmup["first"])
        found = True
    names = (("Init", "init_ms"), ("First inference", "first_ms"), ("Warmup (avg)", "warmup_avg_ms"),
             ("Warmup", "warmup_avg_ms"), ("Inference (avg)", "avg_ms"), ("Inference", "avg_ms"))  # fmt: skip
    for key, field in names:
        if key in summary:
            setattr(record, field, _ms(summary[key]))
            found = True
    if not found:
        raise BenchmarkLogError("no benchmark_model figures in the text (no timings, memory or delegate lines)")
    return record
