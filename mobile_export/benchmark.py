"""Measure ``.tflite`` latency the way the TFLite ecosystem does, on the host, an Android phone or a Jetson board.

Every target gives the same record, :class:`BenchmarkResult` (``benchmark_model``'s figures in milliseconds plus
the target, the runtime and, when the model's bundle metadata knows its MACs, the effective GMAC/s):

- ``host``: in this process, LiteRT's ``Interpreter`` on the CPU (XNNPACK, ``num_threads``), or LiteRT's GPU
  accelerator (``CompiledModel``) with ``gpu=True``, which also says whether every op went to the GPU;
- ``android``: ``adb`` pushes a ``benchmark_model`` binary and the model to ``/data/local/tmp``, runs the binary
  with the mapped flags (optionally pinned to the big cores with ``taskset``) and parses what it prints;
- ``jetson``: ``ssh`` copies the model to the board and runs a ``benchmark_model`` binary that is there, or, without
  one, the LiteRT Python runner (:mod:`mobile_export._runner`, sent on standard input).

:func:`compare` runs two models alternately and reports the per-run latency ratio. Subprocesses are always run from
argument lists (never a shell on this side), remote paths are quoted for the remote shell, every call has a
timeout, and a failing remote command raises :class:`BenchmarkError` with its exit status and standard error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shlex
import subprocess
from pathlib import Path

import numpy as np

from mobile_export import _runner
from mobile_export.benchmark_log import BenchmarkLog, BenchmarkLogError, parse
from mobile_export.metadata import MetadataError, read

TARGETS = ("host", "android", "jetson")
RESULT_FIELDS = ("target", "model", "num_threads", "init_ms", "first_ms", "warmup_avg_ms", "avg_ms", "std_ms",
                 "p5_ms", "median_ms", "p95_ms", "runs", "fully_accelerated")  # fmt: skip


class BenchmarkError(RuntimeError):
    """A benchmark that could not run: the message names the model, the command and the reason (remote stderr)."""


@dataclasses.dataclass
class BenchmarkSettings:
    """How to benchmark, in ``benchmark_model``'s terms.

    Attributes:
        num_threads: CPU threads (-1: the runtime's default).
        num_runs: timed inferences (exactly this many: ``benchmark_model`` gets ``--min_secs=0``).
        warmup_runs: untimed inferences before them (the first one is reported as ``first_ms``).
        gpu: run on the GPU (host: LiteRT's GPU accelerator; android / jetson: ``--use_gpu=true``).
        gpu_precision_loss_allowed: let the GPU compute in float16.
        use_xnnpack: the XNNPACK CPU delegate.
        use_nnapi: Android's NNAPI delegate (android target only).
        target: ``host``, ``android`` or ``jetson``.
        binary: android: a local ``benchmark_model`` binary to push; jetson: a ``benchmark_model`` path on the board
            (without one the LiteRT Python runner is used there).
        serial: android: the device serial (``adb -s``); ``None`` for the only device.
        taskset: android / jetson: a hexadecimal CPU mask to pin the run to (e.g. ``f0``: the big cores of a 4+4
            SoC); ``None`` leaves scheduling to the OS.
        host: jetson: ``user@address`` for ssh.
        remote_dir: where models (and the binary) go on the device; default ``/data/local/tmp`` (android) or
            ``/tmp/tflite_benchmark`` (jetson).
        remote_python: jetson: the Python that runs the LiteRT runner.
        timeout_s: limit of every subprocess call, in seconds.
        rounds: :func:`compare` on android / jetson: alternate invocations per model.
        macs: the model's multiply-accumulates, overriding the bundle metadata (``None``: read from it).
    """

    num_threads: int = -1
    num_runs: int = 50
    warmup_runs: int = 1
    gpu: bool = False
    gpu_precision_loss_allowed: bool = True
    use_xnnpack: bool = True
    use_nnapi: bool = False
    target: str = "host"
    binary: str | None = None
    serial: str | None = None
    taskset: str | None = None
    host: str | None = None
    remote_dir: str | None = None
    remote_python: str = "python3"
    timeout_s: float = 600.0
    rounds: int = 3
    macs: int | None = None

    def __post_init__(self):
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.num_runs < 1:
            raise ValueError(f"num_runs must be at least 1, got {self.num_runs}")
        if self.warmup_runs < 0:
            raise ValueError(f"warmup_runs must be 0 or more, got {self.warmup_runs}")
        if self.num_threads == 0 or self.num_threads < -1:
            raise ValueError(f"num_threads must be -1 (runtime default) or at least 1, got {self.num_threads}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        if self.taskset is not None:
            try:
                int(self.taskset, 16)
            except ValueError:
                raise ValueError(f"taskset must be a hexadecimal CPU mask like f0, got {self.taskset!r}") from None
        if self.target == "host" and self.use_nnapi:
            raise ValueError("NNAPI exists only on Android: use --target android with --use-nnapi")
        if self.target == "android" and not self.binary:
            raise ValueError("the android target needs the path of a benchmark_model binary built for the phone")
        if self.target == "jetson" and not self.host:
            raise ValueError("the jetson target needs --host user@address")
        if self.target == "jetson" and self.use_nnapi:
            raise ValueError("NNAPI exists only on Android, not on a Jetson")
        if self.gpu and self.use_nnapi:
            raise ValueError("choose one delegate: --gpu or --use-nnapi")


@dataclasses.dataclass
class BenchmarkResult(BenchmarkLog):
    """One model's latency on one target (``benchmark_model``'s figures in ms) and what ran it."""

    target: str | None = None
    runtime: str | None = None
    macs: int | None = None
    latencies_ms: list[float] | None = None

    @property
    def gmacs_per_s(self) -> float | None:
        """Effective throughput: MACs / median latency, in GMAC/s (``None`` without MACs or a median)."""
        if not self.macs or not self.median_ms:
            return None
        return self.macs / (self.median_ms * 1e-3) / 1e9

    def to_dict(self) -> dict:
        return {**super().to_dict(), "gmacs_per_s": self.gmacs_per_s}


@dataclasses.dataclass
class Comparison:
    """Two models run alternately on one target: ``speedup`` = latency of ``other`` / latency of ``model``.

    On the host the ratio is taken run by run (run i of one model next to run i of the other); on android / jetson,
    invocation by invocation (the median of each alternate ``benchmark_model`` invocation).
    """

    model: BenchmarkResult
    other: BenchmarkResult
    ratios: list[float]

    @property
    def speedup(self) -> dict:
        r = np.asarray(self.ratios)
        return {"median": float(np.median(r)), "min": float(r.min()), "max": float(r.max()), "pairs": len(r)}

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "vs": self.other.to_dict(), "speedup": self.speedup}


def model_macs(path) -> int | None:
    """The MACs recorded in a ``tfgancomp`` export bundle's metadata, or ``None`` when the file has none."""
    try:
        value = read(path).get("model", {}).get("macs")
    except (MetadataError, AttributeError):
        return None
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def _check_model(path) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise BenchmarkError(f"model file {path!r} does not exist")
    return path


def _from_times(path: str, settings: BenchmarkSettings, session, warmup_us: list, runs_us: list) -> BenchmarkResult:
    s = _runner.stats(runs_us)
    first = warmup_us[0] if warmup_us else runs_us[0]
    return BenchmarkResult(
        model=path, num_threads=settings.num_threads, use_gpu=settings.gpu,
        xnnpack=None if settings.gpu else settings.use_xnnpack, model_size_mb=os.path.getsize(path) / 1e6,
        init_ms=session.init_us / 1e3, first_ms=first / 1e3,
        warmup_avg_ms=float(np.mean(warmup_us)) / 1e3 if warmup_us else None, warmup_runs=len(warmup_us),
        avg_ms=s["avg"] / 1e3, std_ms=s["std"] / 1e3, min_ms=s["min"] / 1e3, max_ms=s["max"] / 1e3,
        p5_ms=s["p5"] / 1e3, median_ms=s["median"] / 1e3, p95_ms=s["p95"] / 1e3, runs=s["count"],
        accelerated=session.fully_accelerated, target="host", runtime=session.runtime,
        macs=settings.macs or model_macs(path), latencies_ms=[t / 1e3 for t in runs_us],
    )  # fmt: skip


def _host_session(path: str, settings: BenchmarkSettings):
    try:
        return _runner.open_session(path, settings.num_threads, settings.use_xnnpack, settings.gpu,
                                    settings.gpu_precision_loss_allowed)  # fmt: skip
    except _runner.RunnerError as err:
        raise BenchmarkError(str(err)) from None


def _host(path: str, settings: BenchmarkSettings) -> BenchmarkResult:
    session = _host_session(path, settings)
    try:
        warmup, runs = _runner.measure(session, settings.num_runs, settings.warmup_runs)
    except _runner.RunnerError as err:
        raise BenchmarkError(f"{path!r}: {err}") from None
    return _from_times(path, settings, session, warmup, runs)


# ---------------------------------------------------------------- remote targets


def _call(argv: list[str], settings: BenchmarkSettings, what: str, stdin: bytes | None = None) -> str:
    """Run ``argv`` (a list: no local shell) with the settings' timeout; its stdout + stderr, or BenchmarkError."""
    try:
        done = subprocess.run(argv, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                              capture_output=True, timeout=settings.timeout_s, check=False)  # fmt: skip
    except FileNotFoundError:
        raise BenchmarkError(f"{what}: {argv[0]!r} was not found on PATH") from None
    except subprocess.TimeoutExpired:
        raise BenchmarkError(f"{what}: timed out after {settings.timeout_s:g} s: {shlex.join(argv)}") from None
    out = done.stdout.decode("utf-8", errors="replace")
    err = done.stderr.decode("utf-8", errors="replace")
    if done.returncode != 0:
        detail = (err.strip() or out.strip() or "(no output)")[-2000:]
        raise BenchmarkError(f"{what} failed (exit {done.returncode}): {shlex.join(argv)}\n{detail}")
    return out + ("\n" + err if err else "")


def benchmark_model_flags(remote_model: str, settings: BenchmarkSettings) -> list[str]:
    """``benchmark_model``'s flags for ``settings`` (explicit, so a run never depends on the binary's defaults)."""
    flags = [
        f"--graph={remote_model}",
        f"--num_threads={settings.num_threads}",
        f"--num_runs={settings.num_runs}",
        f"--warmup_runs={settings.warmup_runs}",
        "--min_secs=0",
        "--warmup_min_secs=0",
        f"--use_gpu={str(settings.gpu).lower()}",
    ]
    if settings.gpu:
        flags.append(f"--gpu_precision_loss_allowed={str(settings.gpu_precision_loss_allowed).lower()}")
    flags.append(f"--use_xnnpack={str(settings.use_xnnpack).lower()}")
    if settings.target == "android":
        flags.append(f"--use_nnapi={str(settings.use_nnapi).lower()}")
    return flags


def runner_flags(remote_model: str, settings: BenchmarkSettings) -> list[str]:
    """The LiteRT Python runner's flags (a subset of ``benchmark_model``'s)."""
    return [
        f"--graph={remote_model}",
        f"--num_threads={settings.num_threads}",
        f"--num_runs={settings.num_runs}",
        f"--warmup_runs={settings.warmup_runs}",
        f"--use_gpu={str(settings.gpu).lower()}",
        f"--gpu_precision_loss_allowed={str(settings.gpu_precision_loss_allowed).lower()}",
        f"--use_xnnpack={str(settings.use_xnnpack).lower()}",
    ]


def remote_name(path: str) -> str:
    """The model's file name on the device: ``<stem>-<10 hex digits of its content hash>.tflite``.

    The hash keeps two bundles' equally named ``model.tflite`` files from overwriting each other.
    """
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]
    return f"{Path(path).stem}-{digest}.tflite"


def _pinned(command: list[str], settings: BenchmarkSettings) -> list[str]:
    return ["taskset", settings.taskset, *command] if settings.taskset else command


def _record(text: str, path: str, settings: BenchmarkSettings, runtime: str, what: str) -> BenchmarkResult:
    try:
        log = parse(text)
    except BenchmarkLogError:
        raise BenchmarkError(f"{what} printed no benchmark figures:\n{text.strip()[-2000:]}") from None
    if log.median_ms is None and log.avg_ms is None:
        raise BenchmarkError(f"{what} printed no inference timings:\n{text.strip()[-2000:]}")
    values = dataclasses.asdict(log)
    values["model"] = path
    if values["num_threads"] is None:
        values["num_threads"] = settings.num_threads
    return BenchmarkResult(**values, target=settings.target, runtime=runtime, macs=settings.macs or model_macs(path))


class _Android:
    def __init__(self, settings: BenchmarkSettings):
        self.settings = settings
        self.dir = settings.remote_dir or "/data/local/tmp"
        self.adb = ["adb", *(["-s", settings.serial] if settings.serial else [])]
        self.binary = f"{self.dir}/benchmark_model"
        binary = settings.binary
        if not os.path.isfile(binary):
            raise BenchmarkError(f"benchmark_model binary {binary!r} does not exist")
        _call([*self.adb, "push", binary, self.binary], settings, "adb push of the benchmark_model binary")
        _call([*self.adb, "shell", shlex.join(["chmod", "755", self.binary])], settings, "adb shell chmod")
        self.pushed: dict[str, str] = {}

    def push(self, path: str) -> str:
        if path not in self.pushed:
            remote = f"{self.dir}/{remote_name(path)}"
            _call([*self.adb, "push", path, remote], self.settings, f"adb push of {path!r}")
            self.pushed[path] = remote
        return self.pushed[path]

    def run(self, path: str) -> BenchmarkResult:
        remote = self.push(path)
        command = _pinned([self.binary, *benchmark_model_flags(remote, self.settings)], self.settings)
        text = _call([*self.adb, "shell", shlex.join(command)], self.settings, "benchmark_model on the phone")
        return _record(text, path, self.settings, "benchmark_model (android)", "benchmark_model on the phone")


class _Jetson:
    def __init__(self, settings: BenchmarkSettings):
        self.settings = settings
        self.dir = settings.remote_dir or "/tmp/tflite_benchmark"
        self.ssh = ["ssh", "-o", "BatchMode=yes", settings.host]
        self.pushed: dict[str, str] = {}

    def push(self, path: str) -> str:
        if path not in self.pushed:
            remote = f"{self.dir}/{remote_name(path)}"
            command = f"mkdir -p {shlex.quote(self.dir)} && cat > {shlex.quote(remote)}"
            _call([*self.ssh, command], self.settings, f"copying {path!r} to {self.settings.host}",
                  stdin=Path(path).read_bytes())  # fmt: skip
            self.pushed[path] = remote
        return self.pushed[path]

    def run(self, path: str) -> BenchmarkResult:
        remote = self.push(path)
        what = f"the benchmark on {self.settings.host}"
        if self.settings.binary:
            command = _pinned([self.settings.binary, *benchmark_model_flags(remote, self.settings)], self.settings)
            text = _call([*self.ssh, shlex.join(command)], self.settings, what)
            return _record(text, path, self.settings, "benchmark_model (jetson)", what)
        command = _pinned([self.settings.remote_python, "-", *runner_flags(remote, self.settings)], self.settings)
        script = Path(_runner.__file__).read_bytes()
        text = _call([*self.ssh, shlex.join(command)], self.settings, what, stdin=script)
        return _record(text, path, self.settings, "LiteRT Python runner (jetson)", what)


def _remote(settings: BenchmarkSettings):
    return _Android(settings) if settings.target == "android" else _Jetson(settings)


# ---------------------------------------------------------------- API


def benchmark(model, settings: BenchmarkSettings | None = None) -> BenchmarkResult:
    """Measure one ``.tflite`` model on ``settings.target``.

    Raises:
        BenchmarkError: the model file is missing or cannot run there, no GPU where one was asked for, or a remote
            command failed (its exit status and stderr are in the message).
    """
    settings = settings or BenchmarkSettings()
    path = _check_model(model)
    if settings.target == "host":
        return _host(path, settings)
    return _remote(settings).run(path)


def benchmarker(settings: BenchmarkSettings | None = None):
    """``run(model) -> BenchmarkResult`` for many models on one target, set up once.

    :func:`benchmark` sets a remote target up for every model (pushes the ``benchmark_model`` binary again); this
    pushes it once and each model once, which is what measuring hundreds of small models (a latency table) needs.

    Raises:
        BenchmarkError: as :func:`benchmark` (setting up: the binary is missing or could not be pushed).
    """
    settings = settings or BenchmarkSettings()
    if settings.target == "host":
        return lambda model: _host(_check_model(model), settings)
    remote = _remote(settings)
    return lambda model: remote.run(_check_model(model))


def compare(model, other, settings: BenchmarkSettings | None = None) -> Comparison:
    """Run ``model`` and ``other`` alternately on one target; ``speedup`` = other's latency / model's latency.

    On the host each timed run of one model is followed by a run of the other (warm-ups likewise), so both see
    the same machine state and the ratio is taken run by run. On android / jetson, ``settings.rounds``
    ``benchmark_model`` invocations alternate and the ratio is taken invocation by invocation (their medians);
    the records are those of each model's last invocation.
    """
    settings = settings or BenchmarkSettings()
    path, other_path = _check_model(model), _check_model(other)
    if settings.target == "host":
        a, b = _host_session(path, settings), _host_session(other_path, settings)
        try:
            warm = [(a.invoke_us(), b.invoke_us()) for _ in range(settings.warmup_runs)]
            runs = [(a.invoke_us(), b.invoke_us()) for _ in range(settings.num_runs)]
        except _runner.RunnerError as err:
            raise BenchmarkError(str(err)) from None
        first = _from_times(path, settings, a, [w[0] for w in warm], [r[0] for r in runs])
        second = _from_times(other_path, settings, b, [w[1] for w in warm], [r[1] for r in runs])
        return Comparison(first, second, [rb / ra for ra, rb in runs])
    remote = _remote(settings)
    pairs = [(remote.run(path), remote.run(other_path)) for _ in range(settings.rounds)]
    ratios = [b.median_ms / a.median_ms for a, b in pairs if a.median_ms and b.median_ms]
    if not ratios:
        raise BenchmarkError("the device printed no median latencies, so no ratio can be formed")
    return Comparison(pairs[-1][0], pairs[-1][1], ratios)


def from_log(path, target: str = "log", macs: int | None = None) -> BenchmarkResult:
    """A ``benchmark_model`` log saved elsewhere (a phone, a board) as a :class:`BenchmarkResult`.

    Raises:
        BenchmarkError: the file cannot be read, or holds no ``benchmark_model`` figures.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise BenchmarkError(f"cannot read log file {os.fspath(path)!r}: {err.strerror}") from None
    try:
        log = parse(data)
    except BenchmarkLogError as err:
        raise BenchmarkError(f"log file {os.fspath(path)!r}: {err}") from None
    model_macs_ = macs
    if model_macs_ is None and log.model and os.path.isfile(log.model):
        model_macs_ = model_macs(log.model)
    return BenchmarkResult(**dataclasses.asdict(log), target=target, runtime="benchmark_model", macs=model_macs_)


# ---------------------------------------------------------------- output


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _label(path: str | None) -> str | None:
    """A model's name for a table: ``folder/file`` (bundles are all called ``model.tflite``)."""
    if not path:
        return None
    p = Path(path)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


def markdown(results: list[BenchmarkResult], comparison: Comparison | None = None) -> str:
    """A markdown table of records (and, for a comparison, the speedup line under it)."""
    header = ("model", "target", "runtime", "threads", "fully accel.", "init ms", "first ms", "warm-up ms",
              "avg ms", "std ms", "p5 ms", "median ms", "p95 ms", "runs", "GMAC/s")  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in results:
        cells = (_label(r.model), r.target, r.runtime, r.num_threads, r.fully_accelerated,
                 r.init_ms, r.first_ms, r.warmup_avg_ms, r.avg_ms, r.std_ms, r.p5_ms, r.median_ms, r.p95_ms, r.runs,
                 r.gmacs_per_s)  # fmt: skip
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    if comparison is not None:
        s = comparison.speedup
        lines.append("")
        lines.append(
            f"Speedup of {_label(comparison.model.model)} over {_label(comparison.other.model)} "
            f"(latency ratio over {s['pairs']} alternating pairs): median {s['median']:.2f}×, "
            f"min {s['min']:.2f}×, max {s['max']:.2f}×"
        )
    return "\n".join(lines)
