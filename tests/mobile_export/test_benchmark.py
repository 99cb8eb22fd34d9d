"""tflite_benchmark: host runs on exported bundles, --vs, --parse, and the adb / ssh paths against stand-ins."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys

import pytest

from mobile_export import _runner
from mobile_export.benchmark import (
    BenchmarkError,
    BenchmarkSettings,
    benchmark,
    benchmark_model_flags,
    compare,
    remote_name,
)
from mobile_export.cli import main
from tests.stand_ins import calls, phone_adb, ssh_that_runs_locally, stand_in

ACCEPTANCE_KEYS = {"target", "model", "num_threads", "init_ms", "first_ms", "warmup_avg_ms", "avg_ms", "std_ms",
                   "p5_ms", "median_ms", "p95_ms", "runs", "fully_accelerated"}  # fmt: skip

# NOT a recorded GPU run: no genuine GPU output of benchmark_model is available to this project. These are the lines
# of a CPU run (4 threads) of benchmark_model on an Android phone, from a public run log, with GPU-delegate lines
# ("Use gpu: [1]", "Created TensorFlow Lite delegate for GPU.", "Replacing 41 out of 41 node(s) ...") spliced in by
# hand. Their formats are benchmark_model's (benchmark_model.cc, the delegate's log lines), so the parser and the
# adb / ssh stand-ins see realistic text, but the timings are CPU timings: nothing here says how fast a GPU is.
CPU_RUN_WITH_GPU_DELEGATE_LINES = """INFO: STARTING!
INFO: Num threads: [4]
INFO: Graph: [/data/local/tmp/model.tflite]
INFO: Use gpu: [1]
INFO: Loaded model /data/local/tmp/model.tflite
INFO: Created TensorFlow Lite delegate for GPU.
INFO: Replacing 41 out of 41 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions for the whole \
graph.
INFO: The input model file size (MB): 24.6229
INFO: Initialized session in 119.515ms.
INFO: count=9 first=87112 curr=51629 min=51629 max=87112 avg=58147.4 std=11478 p5=51629 median=51962 p95=87112
INFO: count=1000 first=52162 curr=49785 min=49088 max=686105 avg=63743.2 std=60716 p5=49620 median=51891 p95=68628
INFO: Inference timings in us: Init: 119515, First inference: 87112, Warmup (avg): 58147.4, Inference (avg): 63743.2
INFO: Memory footprint delta from the start of the tool (MB): init=55.4961 overall=55.4961
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Two bundles made by `tfgancomp export`: a student and a wider 'teacher' (MACs in their metadata)."""
    from tfgancomp.cli import main as tfgancomp_main
    from tfgancomp.models import SubMobileResNetGenerator

    root = tmp_path_factory.mktemp("bench")
    paths = {}
    for name, config in (("student", "4_4_4_4_4_4_4_4"), ("teacher", "16_16_16_16_16_16_16_16")):
        generator = str(root / f"{name}.keras")
        SubMobileResNetGenerator(config, n_blocks=3, height=32, width=32, name=name).save(generator)
        out = str(root / name)
        assert tfgancomp_main(["export", "--generator", generator, "--out", out, "--images", "1"]) == 0
        paths[name] = os.path.join(out, "model.tflite")
    return paths


def test_host_json_has_the_acceptance_fields_for_an_exported_model(bundles, capsys):
    model = bundles["student"]
    assert main(["--model", model, "--target", "host", "--json", "--num-runs", "7", "--num-threads", "1"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert ACCEPTANCE_KEYS <= set(record)
    assert record["target"] == "host" and record["model"] == model and record["num_threads"] == 1
    assert record["runs"] == 7 and record["warmup_runs"] == 1 and record["fully_accelerated"] is None
    assert 0 < record["p5_ms"] <= record["median_ms"] <= record["p95_ms"] <= record["max_ms"]
    assert record["min_ms"] <= record["avg_ms"] <= record["max_ms"] and record["init_ms"] > 0
    meta = json.load(open(os.path.join(os.path.dirname(model), "model.json")))
    assert record["macs"] == meta["model"]["macs"]
    assert record["gmacs_per_s"] == pytest.approx(meta["model"]["macs"] / (record["median_ms"] * 1e-3) / 1e9)


def test_runner_statistics_are_benchmark_models():
    s = _runner.stats([5.0, 1.0, 3.0, 2.0, 4.0])
    assert s == {"count": 5, "first": 5.0, "curr": 4.0, "min": 1.0, "max": 5.0, "avg": 3.0,
                 "std": pytest.approx(2**0.5), "p5": 1.0, "median": 3.0, "p95": 5.0}  # fmt: skip


def test_vs_runs_alternately_and_reports_the_per_run_ratio(bundles, capsys, monkeypatch):
    from mobile_export import benchmark

    order = []
    opened = benchmark._host_session

    def recording_session(path, settings):  # records which model each invocation ran
        session = opened(path, settings)
        invoke = session.invoke_us
        name = os.path.basename(os.path.dirname(path))
        monkeypatch.setattr(session, "invoke_us", lambda: order.append(name) or invoke())
        return session

    monkeypatch.setattr(benchmark, "_host_session", recording_session)
    settings = BenchmarkSettings(num_threads=1, num_runs=6, warmup_runs=2)
    result = compare(bundles["student"], bundles["teacher"], settings)
    assert order == ["student", "teacher"] * (2 + 6)  # warm-ups and timed runs strictly alternate
    assert len(result.ratios) == 6 and result.model.runs == 6 and result.other.runs == 6
    expected = [b / a for a, b in zip(result.model.latencies_ms, result.other.latencies_ms, strict=True)]
    assert result.ratios == pytest.approx(expected)
    s = result.speedup
    assert s["min"] <= s["median"] <= s["max"] and s["pairs"] == 6
    argv = ["--model", bundles["student"], "--vs", bundles["teacher"], "--num-runs", "4", "--num-threads", "1"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "| student/model.tflite | host |" in table and "| teacher/model.tflite | host |" in table
    assert "Speedup of student/model.tflite over teacher/model.tflite" in table and "4 alternating pairs" in table


def test_gpu_without_a_driver_is_a_clear_message_not_a_crash(bundles, capsys):
    if _runner.vulkan_available():
        pytest.skip("this machine has a Vulkan loader; the no-driver message is not reachable here")
    assert main(["--model", bundles["student"], "--gpu", "--json"]) == 1
    err = capsys.readouterr().err
    assert "GPU accelerator could not be created" in err and "libvulkan.so.1" in err and "without --gpu" in err


def test_bad_input_names_the_file_or_value(tmp_path, capsys):
    not_a_model = tmp_path / "notes.tflite"
    not_a_model.write_text("hello")
    assert main(["--model", str(not_a_model)]) == 1
    assert "notes.tflite" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "absent.tflite")]) == 1
    assert "absent.tflite' does not exist" in capsys.readouterr().err
    assert main(["--model", str(not_a_model), "--use-nnapi"]) == 1
    assert "NNAPI exists only on Android" in capsys.readouterr().err
    with pytest.raises(ValueError, match="hexadecimal CPU mask"):
        BenchmarkSettings(taskset="big")
    with pytest.raises(ValueError, match="benchmark_model binary"):
        BenchmarkSettings(target="android")


def test_parse_a_saved_log_gives_the_same_record(tmp_path, capsys):
    log = tmp_path / "phone.log"
    log.write_text(CPU_RUN_WITH_GPU_DELEGATE_LINES)
    assert main(["--parse", str(log), "--json", "--macs", "2000000000"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["median_ms"] == 51.891 and record["p95_ms"] == 68.628 and record["avg_ms"] == 63.7432
    assert record["first_ms"] == 87.112 and record["warmup_avg_ms"] == 58.1474 and record["init_ms"] == 119.515
    assert record["runs"] == 1000 and record["fully_accelerated"] is True and record["num_threads"] == 4
    assert record["gmacs_per_s"] == pytest.approx(2e9 / 51.891e-3 / 1e9)
    log.write_text("nothing to see\n")
    assert main(["--parse", str(log)]) == 1
    assert "phone.log" in capsys.readouterr().err


def test_the_tool_does_not_load_tensorflow():
    code = "import sys, mobile_export.cli, mobile_export.benchmark; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ---------------------------------------------------------------- stand-in adb and ssh


def test_android_end_to_end_against_a_stand_in_adb(stand_ins, bundles, tmp_path):
    # The stand-in adb keeps the phone's /data/local/tmp in a folder here: push copies into it; shell runs the
    # command with sh, the phone's paths mapped to that folder.
    device = tmp_path / "device"
    device.mkdir()

    def local(text):
        return text.replace("/data/local/tmp", f"{device}/data/local/tmp")

    phone_adb(stand_ins, device, "R58M123")
    # The benchmark_model pushed to the phone: checks its flags, replays a CPU run with GPU-delegate lines.
    binary = tmp_path / "benchmark_model"
    stand_in(stand_ins, "benchmark_model_impl", f"""
        print({CPU_RUN_WITH_GPU_DELEGATE_LINES!r})
        """)  # fmt: skip
    binary.write_text(f'#!/bin/sh\nexec {stand_ins / "benchmark_model_impl"} "$@"\n')
    # taskset on the "phone": record and run the rest
    stand_in(stand_ins, "taskset", "sys.exit(subprocess.run(argv[1:]).returncode)\n")
    remote_dir = "/data/local/tmp"
    (device / remote_dir.lstrip("/")).mkdir(parents=True)
    model = bundles["student"]
    settings = BenchmarkSettings(target="android", binary=str(binary), serial="R58M123", gpu=True, num_threads=4,
                                 num_runs=1000, warmup_runs=9, taskset="f0", timeout_s=60)  # fmt: skip
    result = benchmark(model, settings)
    remote_model = f"{remote_dir}/{remote_name(model)}"
    flags = ["--graph=" + remote_model, "--num_threads=4", "--num_runs=1000", "--warmup_runs=9", "--min_secs=0",
             "--warmup_min_secs=0", "--use_gpu=true", "--gpu_precision_loss_allowed=true", "--use_xnnpack=true",
             "--use_nnapi=false"]  # fmt: skip
    assert benchmark_model_flags(remote_model, settings) == flags
    adb = [c["argv"] for c in calls(stand_ins) if c["tool"] == "adb"]
    assert adb == [
        ["-s", "R58M123", "push", str(binary), f"{remote_dir}/benchmark_model"],
        ["-s", "R58M123", "shell", f"chmod 755 {remote_dir}/benchmark_model"],
        ["-s", "R58M123", "push", model, remote_model],
        ["-s", "R58M123", "shell", shlex.join(["taskset", "f0", f"{remote_dir}/benchmark_model", *flags])],
    ]
    assert [c["argv"] for c in calls(stand_ins) if c["tool"] == "taskset"] == [
        ["f0", local(f"{remote_dir}/benchmark_model"), *map(local, flags)]
    ]
    assert [c["argv"] for c in calls(stand_ins) if c["tool"] == "benchmark_model_impl"] == [[*map(local, flags)]]
    assert (device / remote_model.lstrip("/")).read_bytes() == open(model, "rb").read()
    assert result.target == "android" and result.model == model and result.median_ms == 51.891
    assert result.fully_accelerated is True and result.delegate == "TfLiteGpuDelegateV2" and result.runs == 1000
    meta = json.load(open(os.path.join(os.path.dirname(model), "model.json")))
    assert result.gmacs_per_s == pytest.approx(meta["model"]["macs"] / 51.891e-3 / 1e9)


def test_android_failure_carries_the_remote_stderr_and_timeouts_are_reported(stand_ins, bundles, tmp_path):
    stand_in(stand_ins, "adb", """
        if argv[0] == "push":
            print("adb: error: failed to get feature set: device 'emulator-5554' not found", file=sys.stderr)
            sys.exit(1)
        """)  # fmt: skip
    binary = tmp_path / "benchmark_model"
    binary.write_text("#!/bin/sh\n")
    with pytest.raises(BenchmarkError, match=r"(?s)exit 1.*device 'emulator-5554' not found"):
        benchmark(bundles["student"], BenchmarkSettings(target="android", binary=str(binary), timeout_s=30))
    stand_in(stand_ins, "adb", "import time; time.sleep(30)\n")
    with pytest.raises(BenchmarkError, match="timed out after 1 s"):
        benchmark(bundles["student"], BenchmarkSettings(target="android", binary=str(binary), timeout_s=1))


def test_jetson_with_the_litert_python_runner_end_to_end(stand_ins, bundles, tmp_path):
    ssh_that_runs_locally(stand_ins, "nvidia@10.0.0.5")
    remote_dir = str(tmp_path / "jetson dir")  # a space: the remote shell must get it quoted
    settings = BenchmarkSettings(target="jetson", host="nvidia@10.0.0.5", num_threads=1, num_runs=5, warmup_runs=1,
                                 remote_dir=remote_dir, remote_python=sys.executable, timeout_s=120)  # fmt: skip
    comparison = compare(bundles["student"], bundles["teacher"], dataclasses.replace(settings, rounds=2))
    student, teacher = remote_name(bundles["student"]), remote_name(bundles["teacher"])
    ssh = [c for c in calls(stand_ins) if c["tool"] == "ssh"]
    upload = "mkdir -p {d} && cat > {m}"
    run = [sys.executable, "-", None, "--num_threads=1", "--num_runs=5", "--warmup_runs=1", "--use_gpu=false",
           "--gpu_precision_loss_allowed=true", "--use_xnnpack=true"]  # fmt: skip
    q = shlex.quote

    def runner(name):
        return shlex.join([a if a is not None else f"--graph={remote_dir}/{name}" for a in run])

    assert [c["argv"][3] for c in ssh] == [
        upload.format(d=q(remote_dir), m=q(f"{remote_dir}/{student}")), runner(student),
        upload.format(d=q(remote_dir), m=q(f"{remote_dir}/{teacher}")), runner(teacher),
        runner(student), runner(teacher),
    ]  # fmt: skip
    assert ssh[0]["stdin_bytes"] == os.path.getsize(bundles["student"])
    assert ssh[1]["stdin_bytes"] == os.path.getsize(_runner.__file__)
    assert comparison.model.runs == 5 and comparison.model.target == "jetson"
    assert comparison.model.runtime == "LiteRT Python runner (jetson)" and comparison.model.median_ms > 0
    assert len(comparison.ratios) == 2
    assert comparison.ratios[-1] == pytest.approx(comparison.other.median_ms / comparison.model.median_ms)


def test_jetson_with_a_benchmark_model_binary_and_a_failing_remote(stand_ins, bundles, tmp_path):
    ssh_that_runs_locally(stand_ins, "ubuntu@jetson")
    binary = tmp_path / "bm"
    stand_in(stand_ins, "bm_impl", f"print({CPU_RUN_WITH_GPU_DELEGATE_LINES!r})\n")
    binary.write_text(f'#!/bin/sh\nexec {stand_ins / "bm_impl"} "$@"\n')
    binary.chmod(0o755)
    settings = BenchmarkSettings(target="jetson", host="ubuntu@jetson", binary=str(binary), gpu=True,
                                 gpu_precision_loss_allowed=False, remote_dir=str(tmp_path / "r"))  # fmt: skip
    result = benchmark(bundles["teacher"], settings)
    remote = f"{tmp_path / 'r'}/{remote_name(bundles['teacher'])}"
    flags = [f"--graph={remote}", "--num_threads=-1", "--num_runs=50", "--warmup_runs=1", "--min_secs=0",
             "--warmup_min_secs=0", "--use_gpu=true", "--gpu_precision_loss_allowed=false",
             "--use_xnnpack=true"]  # fmt: skip
    assert [c["argv"] for c in calls(stand_ins) if c["tool"] == "bm_impl"] == [flags]
    assert [c["argv"][3] for c in calls(stand_ins) if c["tool"] == "ssh"][-1] == shlex.join([str(binary), *flags])
    assert result.runtime == "benchmark_model (jetson)" and result.p95_ms == 68.628
    binary.write_text("#!/bin/sh\necho 'ERROR: Could not open model file' >&2\nexit 3\n")
    with pytest.raises(BenchmarkError, match=r"(?s)failed \(exit 3\).*Could not open model file"):
        benchmark(bundles["teacher"], settings)
