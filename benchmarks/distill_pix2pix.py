r"""Distil the reference-size pix2pix teacher into a mobile student, with and without feature distillation.

Same step budget and seed for both runs. Takes the teacher run dir made by ``benchmarks/teacher_pix2pix.py``
(ResNet ngf 64, 9 blocks, 128×128) and its dataset, trains a ``MobileResNetGenerator`` student twice, with
λ_distill = 1 (GAN Compression's objective) and with λ_distill = 0 (the same objective without the feature taps),
and writes both held-out PSNR / SSIM to truth and to the teacher, MACs and training time to a JSON file that the
README quotes. Issue #4's target: a student with ≤ 1/10 of the teacher's MACs reaches ≥ 25 dB PSNR to the
teacher's output.

    python benchmarks/teacher_pix2pix.py --work /tmp/teacher_bench --out benchmarks/results/teacher_pix2pix.json
    python benchmarks/distill_pix2pix.py --teacher /tmp/teacher_bench/run --data /tmp/teacher_bench/edges2shapes \
        --work /tmp/distill_bench --out benchmarks/results/distill_pix2pix.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

from _results import machine, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="teacher run dir")
    parser.add_argument("--data", required=True, help="the teacher's edges2shapes dataset")
    parser.add_argument("--work", required=True, help="scratch folder for the two run dirs (replaced)")
    parser.add_argument("--out", required=True, help="results JSON file")
    parser.add_argument("--student-ngf", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--decay-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lambda-distill", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-baseline", action="store_true", help="skip the λ_distill = 0 run (target run only)")
    args = parser.parse_args()

    from tfgancomp.backend import tf
    from tfgancomp.pipeline import DistillSettings, distill

    shutil.rmtree(args.work, ignore_errors=True)
    runs = {}
    variants = [("with_distillation", args.lambda_distill)]
    if not args.no_baseline:
        variants.append(("without_distillation", 0.0))
    for label, weight in variants:
        settings = DistillSettings(
            args.teacher, args.data, student_ngf=args.student_ngf, epochs=args.epochs, decay_epochs=args.decay_epochs,
            batch_size=args.batch_size, lambda_distill=weight, seed=args.seed,
        )  # fmt: skip
        start = time.time()
        metrics = distill(settings, os.path.join(args.work, label), verbose=2)
        runs[label] = {
            "lambda_distill": weight,
            "final": metrics["final"],
            "untrained": metrics["untrained"],
            "train_seconds": metrics["train_seconds"],
            "wall_seconds_including_evaluation": round(time.time() - start, 1),
        }
        teacher, costs = metrics["teacher"], metrics["costs"]
    with_d = runs["with_distillation"]["final"]
    without_d = runs["without_distillation"]["final"] if "without_distillation" in runs else None
    steps = metrics["train_files"] // args.batch_size * args.epochs
    results = {
        "command": "python benchmarks/distill_pix2pix.py --teacher TEACHER_RUN --data DATA "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                   if k not in ("work", "out", "teacher", "data", "no_baseline"))
        + (" --no-baseline" if args.no_baseline else ""),  # fmt: skip
        "teacher_run": {k: v for k, v in json.load(open(os.path.join(args.teacher, "settings.json"))).items()
                        if k in ("ngf", "n_blocks", "size", "epochs", "batch_size")},  # fmt: skip
        "teacher_held_out": teacher,
        "costs": costs,
        "steps_per_run": steps,
        "runs": runs,
        "psnr_to_truth_gain_from_distillation_db": round(with_d["psnr"] - without_d["psnr"], 3) if without_d else None,
        "psnr_to_teacher_gain_from_distillation_db": (
            round(with_d["psnr_to_teacher"] - without_d["psnr_to_teacher"], 3) if without_d else None
        ),
        "target": {"max_macs_fraction": 0.1, "min_psnr_to_teacher_db": 25.0,
                   "met": costs["at_training_size"]["macs_ratio"] >= 10 and with_d["psnr_to_teacher"] >= 25.0},
        "machine": machine(tf.__version__),
    }  # fmt: skip
    write_results(args.out, results)


if __name__ == "__main__":
    main()
