"""Host latency of a compressed student vs its teacher with ``tflite_benchmark --vs`` (alternating runs).

Exports the teacher architecture (the reference pix2pix ResNet, ngf 64, 9 blocks, at the student's size) as a
float32 bundle — latency does not depend on the weights, so ``--teacher`` may be a trained run dir or omitted (fresh
weights) — and compares every given student bundle with it on the host CPU (LiteRT, XNNPACK), then on LiteRT's GPU
accelerator where one exists. Writes JSON and prints the markdown table the README quotes.

    python benchmarks/latency_host.py --students /tmp/qat_bench/float32 /tmp/qat_bench/int8_ptq \
        /tmp/qat_bench/int8_qat_float --teacher /tmp/teacher_bench/run --work /tmp/latency_bench \
        --out benchmarks/results/latency_host.json
"""

from __future__ import annotations

import argparse
import json
import os

from _results import write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", nargs="+", required=True, help="student bundle folders")
    parser.add_argument("--teacher", help="teacher run dir or generator file (default: fresh reference weights)")
    parser.add_argument("--work", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--num-threads", type=int, default=2)
    parser.add_argument("--num-runs", type=int, default=30)
    parser.add_argument("--warmup-runs", type=int, default=3)
    args = parser.parse_args()

    from mobile_export.benchmark import BenchmarkError, BenchmarkSettings, compare, markdown
    from tfgancomp.cli import main as cli
    from tfgancomp.models import ResNetGenerator

    os.makedirs(args.work, exist_ok=True)
    h, w = json.load(open(os.path.join(args.students[0], "model.json")))["input"]["shape"][1:3]
    teacher = args.teacher
    if teacher is None:
        teacher = os.path.join(args.work, "teacher.keras")
        ResNetGenerator(ngf=64, n_blocks=9, height=h, width=w, name="teacher").save(teacher)
    teacher_bundle = os.path.join(args.work, "teacher_float32")
    assert cli(["export", "--generator", teacher, "--out", teacher_bundle, "--images", "1"]) == 0
    teacher_model = os.path.join(teacher_bundle, "model.tflite")
    results = {"teacher": teacher if args.teacher else "ResNetGenerator(ngf=64, n_blocks=9), fresh weights",
               "settings": vars(args), "rows": []}  # fmt: skip
    tables = []
    for gpu in (False, True):
        settings = BenchmarkSettings(num_threads=args.num_threads, num_runs=args.num_runs,
                                     warmup_runs=args.warmup_runs, gpu=gpu)  # fmt: skip
        for student in args.students:
            try:
                comparison = compare(os.path.join(student, "model.tflite"), teacher_model, settings)
            except BenchmarkError as err:
                results["rows"].append({"student": student, "gpu": gpu, "error": str(err)})
                break
            results["rows"].append({"student": student, "gpu": gpu, **comparison.to_dict()})
            tables.append(markdown([comparison.model, comparison.other], comparison))
    write_results(args.out, results)
    print("\n\n".join(tables))


if __name__ == "__main__":
    main()
