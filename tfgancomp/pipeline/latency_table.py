"""``tfgancomp latency-table``: measure a latency table on a target (host CPU or GPU, Android over adb, Jetson).

Every stage of the mobile ResNet generator that a search space's configurations use — stem, down1, down2, a
separable or dense residual block, up1, up2, head, at every channel pair the space gives it — is built alone
(:func:`~tfgancomp.models.resnet.resnet_stage_model`: the generator's own layers), converted to ``.tflite`` and
timed with ``tflite_benchmark``'s machinery (:mod:`mobile_export.benchmark`) on the target; then a few whole
generators are timed to fit the constant and scale the stage sum leaves out. The result is a
:class:`~tfgancomp.search.latency.LatencyTable` JSON file that ``search`` / ``compress --budget-ms`` read.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass

import numpy as np

from tfgancomp.search.latency import LatencyTable, fit_calibration, stage_pairs
from tfgancomp.validation import check_choice, check_positive_int

#: Precisions a table can be measured in (the float bundles; an integer model needs calibration data).
TABLE_PRECISIONS = ("float32", "float16")
TABLE_TARGETS = ("host", "android", "jetson")


@dataclass(frozen=True)
class LatencyTableSettings:
    """What ``latency-table`` measures, where and how.

    Args:
        target: ``host`` (this machine), ``android`` (a phone over adb) or ``jetson`` (a board over ssh).
        size: Generator input height.
        width: Generator input width (default: ``size``).
        space: The ResNet-family search space whose stages to time (name or JSON file); its every channel pair.
        n_blocks: Residual blocks of the full generator (group sizes for the calibration models).
        precision: ``float32`` or ``float16`` (the bundle the app ships).
        gpu: Time on the GPU (host: LiteRT's GPU accelerator; android / jetson: benchmark_model ``--use_gpu``).
        num_threads: CPU threads (-1: the runtime's default).
        num_runs: Timed runs of every model (the table keeps their median).
        warmup_runs: Untimed runs before them.
        calibration: Whole generators timed to fit the constant and scale (the largest and the smallest
            configuration, then random ones).
        device: Name of the device in the table (default: the host's CPU, the adb serial or the ssh host).
        binary: android: a ``benchmark_model`` binary built for the phone; jetson: its path on the board (without
            one the LiteRT Python runner is used there).
        serial: android: the device serial (``adb -s``).
        taskset: android / jetson: a hexadecimal CPU mask to pin runs to (e.g. ``f0``).
        host: jetson: ``user@address`` for ssh.
        remote_dir: Where models go on the device.
        remote_python: jetson: the Python that runs the LiteRT runner.
        timeout_s: Limit of every remote call, in seconds.
        seed: Seed of the weights and the calibration configurations.
    """

    target: str = "host"
    size: int = 128
    width: int | None = None
    space: str = "blocks-64-pix2pix"
    n_blocks: int = 9
    precision: str = "float32"
    gpu: bool = False
    num_threads: int = 2
    num_runs: int = 30
    warmup_runs: int = 5
    calibration: int = 8
    device: str | None = None
    binary: str | None = None
    serial: str | None = None
    taskset: str | None = None
    host: str | None = None
    remote_dir: str | None = None
    remote_python: str = "python3"
    timeout_s: float = 600.0
    seed: int = 0

    def __post_init__(self):
        check_choice("target", self.target, TABLE_TARGETS)
        check_choice("precision", self.precision, TABLE_PRECISIONS)
        check_positive_int("size", self.size)
        if self.width is not None:
            check_positive_int("width", self.width)
        for what in ("n_blocks", "num_runs", "calibration"):
            check_positive_int(what, getattr(self, what))
        if self.size % 4 or (self.width or self.size) % 4:
            raise ValueError(f"size {self.size}x{self.width or self.size} must be a multiple of 4 on both sides")
        t = self.timeout_s
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t <= 0:
            raise ValueError(f"timeout_s must be a finite positive number of seconds, got {t!r}")
        self.benchmark_settings()  # the target's own checks (threads, runs, binary / host given), before any work

    def benchmark_settings(self):
        """The :class:`mobile_export.benchmark.BenchmarkSettings` of every run."""
        from mobile_export.benchmark import BenchmarkSettings

        return BenchmarkSettings(num_threads=self.num_threads, num_runs=self.num_runs, warmup_runs=self.warmup_runs,
                                 gpu=self.gpu, target=self.target, binary=self.binary, serial=self.serial,
                                 taskset=self.taskset, host=self.host, remote_dir=self.remote_dir,
                                 remote_python=self.remote_python, timeout_s=self.timeout_s)  # fmt: skip


def host_device() -> str:
    """This machine's CPU model and core count (Linux ``/proc/cpuinfo``, else ``platform``)."""
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


def _litert_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        return "(version unknown)"


def _convert(model, precision: str, path: str) -> str:
    from mobile_export.convert import to_tflite

    with open(path, "wb") as f:
        f.write(to_tflite(model, precision))
    return path


def build_latency_table(settings: LatencyTableSettings, out: str, work: str | None = None,
                        verbose: bool = False) -> LatencyTable:  # fmt: skip
    """Measure every stage ``settings.space`` needs, and fit the constant and scale, on the target; write ``out``.

    Args:
        settings: What and where to measure.
        out: The JSON file to write (written last: a failure leaves no table).
        work: Folder for the ``.tflite`` models (default: a temporary folder, removed after).
        verbose: Print one line per model timed.

    Returns:
        The table written.

    Raises:
        ValueError: a bad setting or a space of another family.
        mobile_export.benchmark.BenchmarkError: a model that could not be timed on the target (why is named).
    """
    from mobile_export.benchmark import benchmarker
    from tfgancomp.backend import keras
    from tfgancomp.models import SubMobileResNetGenerator
    from tfgancomp.models.resnet import RESNET_STAGES, resnet_stage_model
    from tfgancomp.search.space import get_space

    space = get_space(settings.space, "resnet")
    if space.family != "resnet":
        raise ValueError(f"space {settings.space!r} is of the {space.family} family; latency tables time the ResNet "
                         "family's stages")  # fmt: skip
    height, width = settings.size, settings.width or settings.size
    if not out.endswith(".json"):
        raise ValueError(f"--out {out!r}: a latency table is a .json file")
    run = benchmarker(settings.benchmark_settings())
    pairs = stage_pairs(space)
    total = sum(len(p) for p in pairs.values()) + settings.calibration
    keras.utils.set_random_seed(settings.seed)
    started, done, runtime = time.time(), 0, None
    stages: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(dir=work) as folder:

        def measure(model, label):
            nonlocal done, runtime
            path = _convert(model, settings.precision, os.path.join(folder, f"{label}.tflite"))
            result = run(path)
            os.remove(path)
            done += 1
            runtime = runtime or result.runtime
            ms = float(result.median_ms if result.median_ms is not None else result.avg_ms)
            if verbose:
                print(f"[{done}/{total}] {label}: {ms:.3f} ms ({time.time() - started:.0f} s)", flush=True)
            return ms

        for stage in RESNET_STAGES:
            for a, b in sorted(pairs.get(stage, ())):
                model = resnet_stage_model(stage, height, width, a, b, name=stage)
                stages.setdefault(stage, {})[f"{a},{b}"] = measure(model, f"{stage}_{a}_{b}")
                keras.backend.clear_session()
        draft = LatencyTable({}, height, width, 3, 3, stages)
        rng = np.random.default_rng(settings.seed)
        calibration = []
        for k in range(settings.calibration):
            config = space.sample(rng) if k > 1 else (space.largest() if k == 0 else space.smallest())
            model = SubMobileResNetGenerator(config, n_blocks=settings.n_blocks, height=height, width=width)
            summed = draft.stage_sum(config, settings.n_blocks)
            measured = measure(model, f"whole_{space.encode(config)}")
            calibration.append({"config": space.encode(config), "measured_ms": measured, "stage_sum_ms": summed})
            keras.backend.clear_session()
    constant, scale = fit_calibration(calibration)
    device = settings.device or {"host": host_device(), "android": f"android {settings.serial or 'device'}",
                                 "jetson": f"jetson {settings.host}"}[settings.target]  # fmt: skip
    if settings.target == "host":
        runtime = f"{runtime} {_litert_version()} ({'GPU accelerator' if settings.gpu else 'CPU, XNNPACK'})"
    target = {"kind": settings.target, "device": device, "runtime": runtime, "gpu": settings.gpu,
              "threads": settings.num_threads, "precision": settings.precision}  # fmt: skip
    record = {k: v for k, v in asdict(settings).items() if k not in ("device",)}
    record.update(space=space.to_dict(), seconds=round(time.time() - started, 1), models=done)
    table = LatencyTable(target, height, width, 3, 3, stages, constant, scale, calibration, record, out)
    folder_out = os.path.dirname(os.path.abspath(out))
    os.makedirs(folder_out, exist_ok=True)
    table.save(out)
    return table
