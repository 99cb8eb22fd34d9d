"""`make demo` as a new user runs it: a fresh clone of this repository's HEAD, `make demo` timed from the first step.

    python benchmarks/make_demo.py [--out benchmarks/results/make_demo.json]

The clone has no `.venv`, so the time includes creating it and installing the package (from the package index or
the local wheel cache pip is configured with), writing the dataset and the whole `tfgancomp compress` run. The
results file holds the wall-clock seconds, the seconds of each stage, the printed table's figures (from the run's
`report.json`) and the targets of the demo: at most 15 minutes, at most 1/8 of the teacher's MACs, PSNR to truth
within 2 dB of the teacher's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import machine, write_results  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results", "make_demo.json"))
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
    with tempfile.TemporaryDirectory() as root:
        clone = os.path.join(root, "tfgancomp")
        subprocess.run(["git", "clone", "-q", REPO, clone], check=True)
        start = time.time()
        done = subprocess.run(["make", "demo"], cwd=clone, capture_output=True, text=True)
        seconds = time.time() - start
        if done.returncode != 0:
            sys.exit(f"make demo failed ({done.returncode}):\n{done.stderr[-3000:]}")
        out = os.path.join(clone, "runs", "demo", "compress")
        report = json.load(open(os.path.join(out, "report.json")))
        table = done.stdout[done.stdout.index("| model |") :].strip()
        version = subprocess.run([os.path.join(clone, ".venv", "bin", "python"), "-c",
                                  "import tensorflow as tf; print(tf.__version__)"], capture_output=True,
                                 text=True).stdout.strip()  # fmt: skip
    models = report["models"]
    teacher = models["teacher_float16"]
    compressed = {k: v for k, v in models.items() if k != "teacher_float16"}
    write_results(args.out, {
        "command": "python benchmarks/make_demo.py (a fresh clone, then `make demo`)",
        "commit": commit.stdout.strip(),
        "machine": machine(version),
        "wall_seconds": round(seconds, 1),
        "stage_seconds": report["stage_seconds"],
        "chosen": report["chosen"],
        "teacher": {k: teacher[k] for k in ("macs", "params", "file_bytes", "median_ms", "psnr", "ssim")},
        "compressed": {p: {k: m[k] for k in ("macs", "params", "file_bytes", "median_ms", "speedup", "macs_ratio",
                                             "psnr", "psnr_change_db", "psnr_to_teacher", "ssim", "gpu_delegate")}
                       for p, m in compressed.items()},
        "held_out_images": report["held_out_images"],
        "targets": {"wall_seconds_at_most": 900, "macs_ratio_at_least": 8, "psnr_drop_db_at_most": 2.0},
        "met": {
            "time": seconds <= 900,
            **{p: m["macs_ratio"] >= 8 and -m["psnr_change_db"] <= 2.0 for p, m in compressed.items()},
        },
        "table": table,
    })  # fmt: skip


if __name__ == "__main__":
    main()
