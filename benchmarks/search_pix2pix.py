r"""End to end on edges2shapes: supernet → search under a MACs budget → extract → fine-tune, against the teacher.

Takes the reference-size pix2pix teacher run made by ``benchmarks/teacher_pix2pix.py`` (ResNet ngf 64, 9 blocks,
128×128) and its dataset; trains a once-for-all supernet over a channel space with the distillation objective;
searches its configurations with the ``EvolutionOracle`` under a budget (a fraction of the teacher's MACs),
scoring from the shared weights on a slice of the *training* data; extracts the best configuration as a plain
``SubMobileResNetGenerator`` and fine-tunes it by distillation. For comparison the same configuration is also
distilled from scratch for the same number of steps. Writes the chosen configuration, its MACs / params and
held-out (test split) PSNR to truth and to the teacher at each stage to a JSON file that the README quotes.

    python benchmarks/teacher_pix2pix.py --work /tmp/teacher_bench --out benchmarks/results/teacher_pix2pix.json
    python benchmarks/search_pix2pix.py --teacher /tmp/teacher_bench/run --data /tmp/teacher_bench/edges2shapes \
        --work /tmp/search_bench --out benchmarks/results/search_pix2pix.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

from _results import machine, write_results


def _held_out(metrics: dict, key: str) -> dict:
    scores = metrics[key]
    return {k: scores[k] for k in ("psnr", "ssim", "psnr_to_teacher", "images") if k in scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", required=True, help="teacher run dir")
    parser.add_argument("--data", required=True, help="the teacher's edges2shapes dataset")
    parser.add_argument("--work", required=True, help="scratch folder for the run dirs (replaced)")
    parser.add_argument("--out", required=True, help="results JSON file")
    parser.add_argument("--space", default="channels-32")
    parser.add_argument("--budget-fraction", type=float, default=1 / 16, help="budget, fraction of the teacher's MACs")
    parser.add_argument("--supernet-epochs", type=int, default=10)
    parser.add_argument("--supernet-decay-epochs", type=int, default=5)
    parser.add_argument("--sampling", default="uniform")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--population", type=int, default=50)
    parser.add_argument("--images", type=int, default=16, help="training images scored per configuration")
    parser.add_argument("--finetune-epochs", type=int, default=4)
    parser.add_argument("--finetune-decay-epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-scratch", action="store_true", help="skip distilling the chosen config from scratch")
    args = parser.parse_args()

    from tfgancomp.backend import tf
    from tfgancomp.metrics import profile
    from tfgancomp.pipeline import (
        DistillSettings,
        SupernetSettings,
        distill,
        extract,
        load_generator,
        search,
        train_supernet,
    )

    shutil.rmtree(args.work, ignore_errors=True)
    paths = {k: os.path.join(args.work, k) for k in ("supernet", "search", "extract", "finetune", "scratch")}
    teacher_metrics = json.load(open(os.path.join(args.teacher, "metrics.json")))
    timings = {}

    start = time.time()
    supernet_metrics = train_supernet(
        SupernetSettings(args.teacher, args.data, space=args.space, sampling=args.sampling,
                         epochs=args.supernet_epochs, decay_epochs=args.supernet_decay_epochs,
                         batch_size=args.batch_size, seed=args.seed),
        paths["supernet"], verbose=2,
    )  # fmt: skip
    timings["supernet_train_seconds"] = supernet_metrics["train_seconds"]
    timings["supernet_wall_seconds"] = round(time.time() - start, 1)
    teacher_macs = supernet_metrics["costs"]["at_training_size"]["teacher_macs"]
    budget = teacher_macs * args.budget_fraction

    start = time.time()
    rows = search(paths["supernet"], paths["search"], budget, "evolution", args.trials, images=args.images,
                  population=args.population, seed=args.seed)  # fmt: skip
    timings["search_wall_seconds"] = round(time.time() - start, 1)
    best = rows[0]

    extract(paths["supernet"], best["config"], paths["extract"])
    subnet = load_generator(paths["extract"])
    cost = profile(subnet)

    def distil(label, init, epochs, decay):
        begin = time.time()
        metrics = distill(
            DistillSettings(args.teacher, args.data, student_config=best["config"], student_init=init, epochs=epochs,
                            decay_epochs=decay, batch_size=args.batch_size, seed=args.seed),
            paths[label], verbose=2,
        )  # fmt: skip
        timings[f"{label}_train_seconds"] = metrics["train_seconds"]
        timings[f"{label}_wall_seconds"] = round(time.time() - begin, 1)
        return metrics

    finetuned = distil("finetune", paths["extract"], args.finetune_epochs, args.finetune_decay_epochs)
    scratch = None if args.no_scratch else distil("scratch", None, args.finetune_epochs, args.finetune_decay_epochs)
    steps = finetuned["train_files"] // args.batch_size
    results = {
        "command": "python benchmarks/search_pix2pix.py --teacher TEACHER_RUN --data DATA "
        + " ".join(
            f"--{k.replace('_', '-')} {v}"
            for k, v in vars(args).items()
            if k not in ("work", "out", "teacher", "data", "no_scratch")
        )
        + (" --no-scratch" if args.no_scratch else ""),  # fmt: skip
        "teacher": {
            "held_out": teacher_metrics["final"],
            "macs": teacher_macs,
            "params": supernet_metrics["costs"]["at_training_size"]["teacher_params"],
        },  # fmt: skip
        "size": [cost.height, cost.width],
        "supernet": {
            "space": args.space,
            "sampling": args.sampling,
            "steps": steps * args.supernet_epochs,
            "largest_config_held_out": _held_out(supernet_metrics, "final"),
        },  # fmt: skip
        "search": {
            "oracle": "evolution",
            "trials": len(rows),
            "population": args.population,
            "scoring_images": args.images,
            "budget_macs": budget,
            "budget_fraction": args.budget_fraction,
            "max_trial_macs": max(r["macs"] for r in rows),
            "top5": [{k: r[k] for k in ("config", "macs", "macs_256", "score", "psnr_to_teacher")} for r in rows[:5]],
        },  # fmt: skip
        "chosen": {
            "config": best["config"],
            "macs": cost.macs,
            "macs_256": best["macs_256"],
            "params": cost.params,
            "macs_reduction_vs_teacher": round(teacher_macs / cost.macs, 2),
            "search_score_training_slice": best["score"],
            "held_out_extracted": _held_out(finetuned, "untrained"),
            "held_out_finetuned": _held_out(finetuned, "final"),
            "held_out_from_scratch_same_steps": _held_out(scratch, "final") if scratch else None,
            "finetune_steps": steps * args.finetune_epochs,
        },
        "timings": timings,
        "machine": machine(tf.__version__),
    }
    write_results(args.out, results)


if __name__ == "__main__":
    main()
