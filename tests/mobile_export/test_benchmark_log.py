from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobile_export.benchmark_log import BenchmarkLogError, parse

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "..", "shared",
                       "benchmark_model_output.txt")  # fmt: skip
SAMPLE_1 = """INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Num threads: [4]
INFO: Graph: [/data/local/tmp/model.tflite]
INFO: #threads used for CPU inference: [4]
INFO: Loaded model /data/local/tmp/model.tflite
INFO: The input model file size (MB): 24.6229
INFO: Initialized session in 119.515ms.
INFO: Running benchmark for at least 5 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=9 first=87112 curr=51629 min=51629 max=87112 avg=58147.4 std=11478 p5=51629 median=51962 p95=87112
INFO: Running benchmark for at least 1000 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=1000 first=52162 curr=49785 min=49088 max=686105 avg=63743.2 std=60716 p5=49620 median=51891 p95=68628
INFO: Inference timings in us: Init: 119515, First inference: 87112, Warmup (avg): 58147.4, Inference (avg): 63743.2
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual \
memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=55.4961 overall=55.4961
"""


def test_sample_file_is_the_one_these_tests_transcribe():
    if not os.path.exists(SAMPLES):
        pytest.skip("../shared/benchmark_model_output.txt is not beside this checkout")
    text = open(SAMPLES).read()
    for line in SAMPLE_1.replace("\\\n", "").splitlines():
        assert line in text


def test_sample_1_cpu_run_gives_every_number_exactly():
    record = parse(SAMPLE_1)
    assert record.to_dict() == {
        "model": "/data/local/tmp/model.tflite", "num_threads": 4, "use_gpu": None, "xnnpack": None,
        "model_size_mb": 24.6229, "init_ms": 119.515, "first_ms": 87.112, "warmup_avg_ms": 58.1474, "warmup_runs": 9,
        "avg_ms": 63.7432, "std_ms": 60.716, "min_ms": 49.088, "max_ms": 686.105, "p5_ms": 49.62,
        "median_ms": 51.891, "p95_ms": 68.628, "runs": 1000, "memory_init_mb": 55.4961, "memory_overall_mb": 55.4961,
        "peak_memory_mb": None, "delegate": None, "delegated_nodes": None, "total_nodes": None, "partitions": None,
        "fully_accelerated": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    "line,expected",
    [
        ("INFO: Use gpu: [1]", {"use_gpu": True}),
        ("INFO: Replacing 41 out of 41 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions for the "
         "whole graph.", {"delegated_nodes": 41, "total_nodes": 41, "delegate": "TfLiteGpuDelegateV2", "partitions": 1,
                          "fully_accelerated": True}),
        ("INFO: Replacing 37 out of 41 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 3 partitions for "
         "subgraph 0.", {"delegated_nodes": 37, "total_nodes": 41, "partitions": 3, "fully_accelerated": False}),
        ("INFO: count=50 curr=2040 (all same)", {"runs": 50, "avg_ms": 2.04, "min_ms": 2.04, "max_ms": 2.04,
                                                 "median_ms": 2.04, "p5_ms": 2.04, "p95_ms": 2.04, "std_ms": 0.0,
                                                 "first_ms": 2.04}),
        ("INFO: Overall peak memory footprint (MB) via periodic monitoring: 61.7891", {"peak_memory_mb": 61.7891}),
        ("Average inference timings in us: Warmup: 83235, Init: 38467, Inference: 79760.9",
         {"warmup_avg_ms": 83.235, "init_ms": 38.467, "avg_ms": 79.7609}),
        ("08-12 10:11:12.345  4321  4321 I tflite  : Inference timings in us: Init: 1007529, First inference: 4098, "
         "Warmup (avg): 1686.59, Inference (avg): 1687.92",
         {"init_ms": 1007.529, "first_ms": 4.098, "warmup_avg_ms": 1.68659, "avg_ms": 1.68792}),
    ],
)  # fmt: skip
def test_each_line_form_gives_its_numbers(line, expected):
    record = parse(line).to_dict()
    assert {k: record[k] for k in expected} == expected


def test_gpu_run_with_xnnpack_fallback_line_and_unknown_lines():
    text = "\n".join([
        "INFO: Use gpu: [1]", "INFO: Created TensorFlow Lite delegate for GPU.", "some vendor line: 12 34",
        "INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
        "INFO: Replacing 37 out of 41 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 3 partitions.",
        "INFO: count=20 first=3000 curr=2000 min=1900 max=3000 avg=2100 std=50 p5=1950 median=2050 p95=2900",
    ])  # fmt: skip
    record = parse(text)
    assert record.use_gpu and record.xnnpack and record.fully_accelerated is False
    assert (record.runs, record.first_ms, record.avg_ms, record.warmup_avg_ms) == (20, 3.0, 2.1, None)


@pytest.mark.parametrize("text", ["", "hello\nworld", "INFO: STARTING!\nINFO: Created 1 GPU delegate kernels.", 42])
def test_text_without_figures_raises_the_parsers_error(text):
    with pytest.raises(BenchmarkLogError):
        parse(text)


_LINES = SAMPLE_1.splitlines()


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_fuzz_random_and_mutated_lines_raise_nothing_but_the_parsers_error(data):
    lines = []
    for _ in range(data.draw(st.integers(0, 12))):
        kind = data.draw(st.sampled_from(["sample", "mutated", "random", "numbers"]))
        if kind == "sample":
            lines.append(data.draw(st.sampled_from(_LINES)))
        elif kind == "mutated":
            line = list(data.draw(st.sampled_from(_LINES)))
            for _ in range(data.draw(st.integers(1, 6))):
                line[data.draw(st.integers(0, len(line) - 1))] = data.draw(st.characters())
            lines.append("".join(line))
        elif kind == "random":
            lines.append(data.draw(st.text(max_size=200)))
        else:
            key = data.draw(st.sampled_from(["count", "avg", "first", "Init:", "Replacing", "init"]))
            lines.append(f"{key}={data.draw(st.text(alphabet='0123456789.e-+', max_size=30))} " * 2)
    text = "\n".join(lines)
    try:
        record = parse(text.encode("utf-8", "surrogatepass") if data.draw(st.booleans()) else text)
    except BenchmarkLogError:
        return
    record.to_dict()


def test_litert_runners_own_verdict_is_fully_accelerated():
    record = parse("Use gpu: [1]\nFully accelerated: [0]\ncount=3 first=10 curr=9 min=9 max=10 avg=9.5 std=0 "
                   "p5=9 median=9 p95=10")  # fmt: skip
    assert record.fully_accelerated is False and record.median_ms == 0.009 and "accelerated" not in record.to_dict()
