r"""Seconds per epoch of distillation with and without ``cache_teacher``, side by side on one machine.

    python benchmarks/teacher_cache.py --teacher /tmp/paper/pix2pix/teacher --data /tmp/paper/pix2pix/edges2shapes \
        --student-config 16_16_24_16_16_16_24_16 --work /tmp/teacher_cache --out benchmarks/results/teacher_cache.json

Trains the same student (same seed, same settings) for ``--epochs`` epochs twice per round — once running the
frozen teacher in every step, once from a :class:`~tfgancomp.distill.TeacherCache` — for ``--rounds`` rounds,
alternating, and reports each run's training seconds per epoch and the median ratio. The cache's one-off teacher
pass is in ``call_seconds`` (with data loading, evaluation and saving), not in the training seconds. The two runs
train on the same examples in different random orders and flips, so their losses are not compared here
(tests/distill/test_cache.py checks the step's equality).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import machine, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="teacher run dir")
    parser.add_argument("--data", required=True)
    parser.add_argument("--student-config", required=True)
    parser.add_argument("--work", required=True, help="scratch folder (replaced)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    from tfgancomp.backend import tf
    from tfgancomp.pipeline import DistillSettings, distill

    shutil.rmtree(args.work, ignore_errors=True)
    runs = {"teacher_every_step": [], "cache_teacher": []}
    for r in range(args.rounds):
        for name, cache in (("teacher_every_step", False), ("cache_teacher", True)):
            run = os.path.join(args.work, f"{name}_{r}")
            settings = DistillSettings(args.teacher, args.data, student_config=args.student_config, epochs=args.epochs,
                                       batch_size=args.batch_size, cache_teacher=cache, seed=0)  # fmt: skip
            start = time.time()
            metrics = distill(settings, run, verbose=0, log=lambda *_: None)
            runs[name].append({"train_seconds": metrics["train_seconds"], "call_seconds": round(time.time() - start, 1),
                               "seconds_per_epoch": round(metrics["train_seconds"] / args.epochs, 2),
                               "teacher_cache": metrics.get("teacher_cache")})  # fmt: skip
    ratios = [a["train_seconds"] / b["train_seconds"]
              for a, b in zip(runs["teacher_every_step"], runs["cache_teacher"], strict=True)]  # fmt: skip
    write_results(args.out, {
        "command": "python benchmarks/teacher_cache.py --teacher TEACHER --data DATA "
                   f"--student-config {args.student_config} --epochs {args.epochs} --rounds {args.rounds} "
                   f"--batch-size {args.batch_size}",
        "runs": runs,
        "speedup_per_round": [round(x, 3) for x in ratios],
        "median_speedup": round(statistics.median(ratios), 3),
        "note": "train_seconds: the epochs only; call_seconds also holds data loading, the cache's teacher pass, "
                "the held-out evaluation and saving",
        "machine": machine(tf.__version__),
    })  # fmt: skip


if __name__ == "__main__":
    main()
