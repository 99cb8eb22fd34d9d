"""Time a ``.tflite`` model with the LiteRT Python runtime and print the figures as ``benchmark_model`` does.

This file is self-contained (standard library and numpy only) so that it can be sent to a remote board and run
there as ``python3 - --graph=model.tflite ...`` with the script on standard input; :mod:`mobile_export.benchmark`
also imports it to time models in-process on the host. The printed lines are those of TFLite's
``benchmark_model`` (``Graph: [...]``, the warm-up and run statistics lines, ``Inference timings in us: ...``, the
delegate coverage) so that one parser reads both.
"""

from __future__ import annotations

import argparse
import ctypes.util
import os
import sys
import time

import numpy as np

PERCENTILES = (5, 50, 95)


class RunnerError(RuntimeError):
    """The model cannot be timed with the requested runtime (message says why)."""


def stats(values_us) -> dict:
    """``benchmark_model``'s statistics of microsecond times.

    First, curr (last), min, max, avg, population std, and the 5th / 50th / 95th percentiles (nearest rank below).
    """
    values = np.asarray(values_us, dtype=np.float64)
    ordered = np.sort(values)
    n = len(values)

    def rank(p):
        return float(ordered[min(n - 1, max(0, int(p * n / 100)))])

    return {
        "count": n,
        "first": float(values[0]),
        "curr": float(values[-1]),
        "min": float(ordered[0]),
        "max": float(ordered[-1]),
        "avg": float(values.mean()),
        "std": float(values.std()),
        "p5": rank(5),
        "median": rank(50),
        "p95": rank(95),
    }


def stats_line(s: dict) -> str:
    """One statistics line in ``benchmark_model``'s format (integers of microseconds, like the tool prints)."""
    return (
        f"count={s['count']} first={s['first']:.0f} curr={s['curr']:.0f} min={s['min']:.0f} max={s['max']:.0f} "
        f"avg={s['avg']:.1f} std={s['std']:.0f} p5={s['p5']:.0f} median={s['median']:.0f} p95={s['p95']:.0f}"
    )


def random_inputs(details, seed: int = 0) -> list[np.ndarray]:
    """One random array per input: floats uniform in [-1, 1]; integers uniform over their dtype's range."""
    rng = np.random.default_rng(seed)
    arrays = []
    for detail in details:
        shape, dtype = [int(d) for d in detail["shape"]], np.dtype(detail["dtype"])
        if np.issubdtype(dtype, np.floating):
            arrays.append(rng.uniform(-1, 1, shape).astype(dtype))
        elif dtype == np.bool_:
            arrays.append(rng.integers(0, 2, shape).astype(dtype))
        else:
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, int(info.max) + 1, shape, dtype=np.int64).astype(dtype))
    return arrays


def _interpreter_module():
    try:
        from ai_edge_litert import interpreter

        return interpreter, "ai_edge_litert"
    except ImportError:
        pass
    try:
        from tflite_runtime import interpreter

        return interpreter, "tflite_runtime"
    except ImportError:
        pass
    try:
        import tensorflow as tf
    except ImportError:
        raise RunnerError("no TFLite runtime: install ai-edge-litert (pip install ai-edge-litert)") from None
    return tf.lite, "tf.lite"


class CpuSession:
    """A model on the CPU through the LiteRT ``Interpreter`` (XNNPACK unless disabled), timed call by call.

    Args:
        path: the ``.tflite`` file.
        num_threads: CPU threads (-1: the runtime's default).
        use_xnnpack: apply the default XNNPACK delegate (False: the builtin kernels only).
    """

    def __init__(self, path: str, num_threads: int = -1, use_xnnpack: bool = True):
        module, self.runtime = _interpreter_module()
        kwargs = {"num_threads": None if num_threads < 0 else num_threads}
        if not use_xnnpack:
            kwargs["experimental_op_resolver_type"] = module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        start = time.perf_counter()
        try:
            self.interpreter = module.Interpreter(model_path=path, **kwargs)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise RunnerError(f"{path!r} is not a loadable TFLite model: {err}") from None
        self.init_us = (time.perf_counter() - start) * 1e6
        self.fully_accelerated = None
        for detail, value in zip(
            self.interpreter.get_input_details(), random_inputs(self.interpreter.get_input_details()), strict=True
        ):
            self.interpreter.set_tensor(detail["index"], value)

    def invoke_us(self) -> float:
        start = time.perf_counter()
        try:
            self.interpreter.invoke()
        except RuntimeError as err:
            raise RunnerError(f"the model failed to run: {err}") from None
        return (time.perf_counter() - start) * 1e6


def vulkan_available() -> bool:
    """Whether a Vulkan loader library can be found (LiteRT's desktop GPU accelerator needs one)."""
    return ctypes.util.find_library("vulkan") is not None or any(
        os.path.exists(os.path.join(d, "libvulkan.so.1"))
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")
    )


class GpuSession:
    """A model on LiteRT's GPU accelerator (``CompiledModel``), with whether every op went to the GPU.

    Args:
        path: the ``.tflite`` file.
        precision_loss_allowed: let the GPU compute in float16 (False: enforce float32).
    """

    def __init__(self, path: str, precision_loss_allowed: bool = True):
        try:
            from ai_edge_litert.compiled_model import CompiledModel, GpuOptions, Options
            from ai_edge_litert.hardware_accelerator import HardwareAccelerator
        except ImportError:
            raise RunnerError(
                "the GPU target needs ai-edge-litert's CompiledModel (pip install ai-edge-litert)"
            ) from None  # noqa: E501
        module, _ = _interpreter_module()
        try:
            probe = module.Interpreter(model_path=path)
        except (ValueError, RuntimeError) as err:
            raise RunnerError(f"{path!r} is not a loadable TFLite model: {err}") from None
        details = probe.get_input_details()
        del probe
        options = Options(
            hardware_accelerators=HardwareAccelerator.GPU,
            gpu_options=GpuOptions(enforce_f32=not precision_loss_allowed),
        )
        self.runtime = "ai_edge_litert.CompiledModel(GPU)"
        start = time.perf_counter()
        try:
            self.model = CompiledModel.from_file(path, options=options)
        except RuntimeError as err:
            reason = (
                "no Vulkan loader (libvulkan.so.1) was found"
                if not vulkan_available()
                else "LiteRT found no usable GPU adapter (Vulkan driver / ICD missing?)"
            )
            raise RunnerError(
                f"LiteRT's GPU accelerator could not be created for {path!r}: {reason}. "
                f"Run without --gpu for the CPU. ({' '.join(str(err).split())})"
            ) from None
        self.init_us = (time.perf_counter() - start) * 1e6
        self.fully_accelerated = bool(self.model.is_fully_accelerated())
        self.inputs, self.outputs = self.model.create_input_buffers(0), self.model.create_output_buffers(0)
        for buffer, value in zip(self.inputs, random_inputs(details), strict=True):
            buffer.write(value)

    def invoke_us(self) -> float:
        start = time.perf_counter()
        try:
            self.model.run_by_index(0, self.inputs, self.outputs)
        except RuntimeError as err:
            raise RunnerError(f"the model failed to run on the GPU: {err}") from None
        return (time.perf_counter() - start) * 1e6


def open_session(path: str, num_threads: int = -1, use_xnnpack: bool = True, gpu: bool = False,
                 precision_loss_allowed: bool = True):  # fmt: skip
    """A :class:`GpuSession` when ``gpu`` else a :class:`CpuSession`."""
    if gpu:
        return GpuSession(path, precision_loss_allowed)
    return CpuSession(path, num_threads, use_xnnpack)


def measure(session, num_runs: int, warmup_runs: int) -> tuple[list[float], list[float]]:
    """Warm-up then timed invocations of one session: ``(warmup_us, runs_us)``."""
    warmup = [session.invoke_us() for _ in range(warmup_runs)]
    return warmup, [session.invoke_us() for _ in range(num_runs)]


def report(path: str, num_threads: int, gpu: bool, session, warmup: list, runs: list) -> str:
    """The run in ``benchmark_model``'s words (what :func:`mobile_export.benchmark_log.parse` reads)."""
    first = warmup[0] if warmup else runs[0]
    lines = [
        f"Graph: [{path}]",
        f"Num threads: [{num_threads}]",
        f"Use gpu: [{int(gpu)}]",
        f"The input model file size (MB): {os.path.getsize(path) / 1e6:.6f}",
        f"Initialized session in {session.init_us / 1000:.3f}ms.",
    ]
    if gpu:
        lines.append(f"Fully accelerated: [{int(session.fully_accelerated)}]")
    if warmup:
        lines.append(f"Running benchmark for at least {len(warmup)} iterations and at least 0 seconds")
        lines.append(stats_line(stats(warmup)))
    lines.append(f"Running benchmark for at least {len(runs)} iterations and at least 0 seconds")
    lines.append(stats_line(stats(runs)))
    warm_avg = float(np.mean(warmup)) if warmup else float(runs[0])
    lines.append(
        f"Inference timings in us: Init: {session.init_us:.0f}, First inference: {first:.0f}, "
        f"Warmup (avg): {warm_avg:.1f}, Inference (avg): {float(np.mean(runs)):.1f}"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="time a .tflite model with LiteRT (benchmark_model's output)")
    parser.add_argument("--graph", required=True)
    parser.add_argument("--num_threads", type=int, default=-1)
    parser.add_argument("--num_runs", type=int, default=50)
    parser.add_argument("--warmup_runs", type=int, default=1)
    parser.add_argument("--use_gpu", default="false")
    parser.add_argument("--gpu_precision_loss_allowed", default="true")
    parser.add_argument("--use_xnnpack", default="true")
    args = parser.parse_args(argv)
    gpu = args.use_gpu == "true"
    try:
        session = open_session(args.graph, args.num_threads, args.use_xnnpack == "true", gpu,
                               args.gpu_precision_loss_allowed == "true")  # fmt: skip
        warmup, runs = measure(session, args.num_runs, args.warmup_runs)
    except RunnerError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        return 1
    print(report(args.graph, args.num_threads, gpu, session, warmup, runs), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
