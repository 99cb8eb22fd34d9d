"""Train the reference-size pix2pix teacher (ResNet, ngf 64, 9 blocks) on ``edges2shapes`` at 128×128 on CPU.

Writes held-out PSNR / SSIM to truth (untrained and trained), training time and throughput to a JSON file that
the README quotes. The target of issue #3 is ≥ 22 dB PSNR to truth within about 30 CPU minutes.

    python benchmarks/teacher_pix2pix.py --work /tmp/teacher_bench --out benchmarks/results/teacher_pix2pix.json

Options shrink the run for a smoke test (``--num-train 8 --epochs 1 --ngf 4 --n-blocks 2``).
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
    parser.add_argument("--work", required=True, help="scratch folder for the dataset and the run dir (replaced)")
    parser.add_argument("--out", required=True, help="results JSON file")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--ngf", type=int, default=64)
    parser.add_argument("--n-blocks", type=int, default=9)
    parser.add_argument("--num-train", type=int, default=300)
    parser.add_argument("--num-test", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--decay-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from tfgancomp.backend import tf
    from tfgancomp.data import SynthSettings, synthesize
    from tfgancomp.pipeline import TeacherSettings, train_teacher

    shutil.rmtree(args.work, ignore_errors=True)
    data, run = os.path.join(args.work, "edges2shapes"), os.path.join(args.work, "run")
    synthesize(SynthSettings("edges2shapes", args.num_train, args.num_test, args.size, args.seed), data)
    settings = TeacherSettings(
        "pix2pix", data, ngf=args.ngf, n_blocks=args.n_blocks, size=args.size, epochs=args.epochs,
        decay_epochs=args.decay_epochs, batch_size=args.batch_size, seed=args.seed,
    )  # fmt: skip
    start = time.time()
    metrics = train_teacher(settings, run, verbose=2)
    wall = time.time() - start
    images = args.num_train // args.batch_size * args.batch_size * args.epochs
    results = {
        "command": "python benchmarks/teacher_pix2pix.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("work", "out")),
        "settings": {k: v for k, v in json.load(open(os.path.join(run, "settings.json"))).items() if k != "data"},
        "untrained": metrics.get("untrained"),
        "trained": metrics.get("final"),
        "train_seconds": metrics["train_seconds"],
        "wall_seconds_including_data_and_evaluation": round(wall, 1),
        "training_images_seen": images,
        "images_per_second": round(images / metrics["train_seconds"], 3),
        "target_psnr_db": 22.0,
        "machine": machine(tf.__version__),
    }
    write_results(args.out, results)


if __name__ == "__main__":
    main()
