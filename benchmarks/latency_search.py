r"""Search under a measured-latency budget vs under a MACs budget, side by side on edges2shapes.

One teacher (pix2pix ResNet, ngf 64, 9 blocks), one latency table of this host (the shipped one at 128×128, else
built with ``tfgancomp latency-table``), one once-for-all supernet over a layout space (widths, separable or dense
blocks, 1–3 blocks per group). Then:

1. the MACs search: the budget is ``--macs-fraction`` of the teacher's MACs (GAN Compression's criterion); its
   best configuration is exported and its latency measured on this host;
2. the latency search: the budget is that configuration's latency in ms — as the table predicts it (default,
   ``--ms-budget predicted``) or as measured alone (``--ms-budget measured``) — the same speed;
3. both best configurations are extracted and fine-tuned for the same steps; held-out PSNR to truth and to the
   teacher from the shared weights and after fine-tuning; the two are benchmarked alternately with each other, and
   each alternately with the teacher (float32 ``.tflite``, LiteRT XNNPACK, 2 threads): measured speedup next to its
   MACs ratio.

Writes a JSON file the README quotes. Run on an otherwise idle machine (latencies are measured).

    python benchmarks/latency_search.py --work /tmp/latency_search --size 128 --teacher-epochs 3 \
        --teacher-decay-epochs 1 --supernet-epochs 4 --supernet-decay-epochs 2 --finetune-epochs 3 \
        --finetune-decay-epochs 1 --out benchmarks/results/latency_search.json

``--data``, ``--teacher-run`` and ``--supernet-run`` reuse a dataset, teacher and supernet from an earlier run (the
folders of its ``--work``, moved elsewhere) instead of making them.
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
    parser.add_argument("--work", required=True, help="scratch folder (replaced)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--num-train", type=int, default=300)
    parser.add_argument("--num-test", type=int, default=100)
    parser.add_argument("--teacher-epochs", type=int, default=5)
    parser.add_argument("--teacher-decay-epochs", type=int, default=2)
    parser.add_argument("--space", default="blocks-32")
    parser.add_argument("--supernet-epochs", type=int, default=6)
    parser.add_argument("--supernet-decay-epochs", type=int, default=3)
    parser.add_argument("--macs-fraction", type=float, default=1 / 16)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--population", type=int, default=25)
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-decay-epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--num-runs", type=int, default=50)
    parser.add_argument("--table-runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ms-budget", choices=("predicted", "measured"), default="predicted")
    parser.add_argument("--data", help="an edges2shapes dataset to reuse")
    parser.add_argument("--teacher-run", help="a teacher run dir to reuse")
    parser.add_argument("--supernet-run", help="a supernet run dir (of that teacher) to reuse")
    args = parser.parse_args()

    from mobile_export.benchmark import BenchmarkSettings, benchmarker, compare
    from mobile_export.convert import to_tflite
    from tfgancomp.backend import tf
    from tfgancomp.data import SynthSettings, synthesize
    from tfgancomp.pipeline import (
        DistillSettings,
        LatencyTableSettings,
        SupernetSettings,
        TeacherSettings,
        build_latency_table,
        distill,
        extract,
        load_generator,
        search,
        train_supernet,
        train_teacher,
    )
    from tfgancomp.search import LatencyTable, LatencyTableError, find_table, get_space

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    path = {k: os.path.join(args.work, k) for k in ("data", "teacher", "supernet", "search_macs", "search_ms")}
    path.update({k: v for k, v in (("data", args.data), ("teacher", args.teacher_run),
                                   ("supernet", args.supernet_run)) if v})  # fmt: skip
    timings, started = {}, time.time()

    def timed(name, fn):
        begin = time.time()
        out = fn()
        timings[name] = round(time.time() - begin, 1)
        print(f"{name}: {timings[name]:.0f} s", flush=True)
        return out

    if not args.data:
        synthesize(SynthSettings("edges2shapes", args.num_train, args.num_test, args.size, args.seed), path["data"])
    teacher_metrics = json.load(open(os.path.join(path["teacher"], "metrics.json"))) if args.teacher_run else timed(
        "teacher", lambda: train_teacher(
        TeacherSettings("pix2pix", path["data"], ngf=64, n_blocks=9, size=args.size, epochs=args.teacher_epochs,
                        decay_epochs=args.teacher_decay_epochs, batch_size=args.batch_size, seed=args.seed),
            path["teacher"], verbose=2))  # fmt: skip
    try:  # the shipped host table of this size, when it covers the space
        table = find_table(args.size, args.size)
        table.check(get_space(args.space), args.size, args.size, 9)
        table_file = table.source
    except LatencyTableError:
        table_file = os.path.join(args.work, "table.json")
        timed("latency_table", lambda: build_latency_table(
            LatencyTableSettings(size=args.size, space=args.space, num_runs=args.table_runs, seed=args.seed),
            table_file))  # fmt: skip
        table = LatencyTable.load(table_file)
    supernet_metrics = json.load(open(os.path.join(path["supernet"], "metrics.json"))) if args.supernet_run else timed(
        "supernet", lambda: train_supernet(
        SupernetSettings(path["teacher"], path["data"], space=args.space, epochs=args.supernet_epochs,
                         decay_epochs=args.supernet_decay_epochs, batch_size=args.batch_size, seed=args.seed),
            path["supernet"], verbose=2))  # fmt: skip
    teacher_macs = supernet_metrics["costs"]["at_training_size"]["teacher_macs"]

    settings = BenchmarkSettings(num_threads=table.target["threads"], num_runs=args.num_runs, warmup_runs=5)
    run = benchmarker(settings)

    def export(generator, name):
        file = os.path.join(args.work, f"{name}.tflite")
        with open(file, "wb") as f:
            f.write(to_tflite(generator))
        return file

    def search_with(name, **budget):
        rows = timed(f"search_{name}", lambda: search(path["supernet"], path[f"search_{name}"], oracle="evolution",
                                                      trials=args.trials, images=args.images,
                                                      population=args.population, seed=args.seed,
                                                      latency_table=table_file, **budget))  # fmt: skip
        return rows[0], rows

    # 1. the MACs search, and the measured latency of its best configuration
    budget_macs = args.macs_fraction * teacher_macs
    best_macs, rows_macs = search_with("macs", budget_macs=budget_macs)
    extract(path["supernet"], best_macs["config"], os.path.join(args.work, "extract_macs"))
    measured_macs_best = run(export(load_generator(os.path.join(args.work, "extract_macs")), "macs_best")).median_ms
    # 2. the latency search at that same latency (predicted, or measured alone)
    budget_ms = best_macs["predicted_ms"] if args.ms_budget == "predicted" else measured_macs_best
    best_ms, rows_ms = search_with("ms", budget_ms=budget_ms)
    extract(path["supernet"], best_ms["config"], os.path.join(args.work, "extract_ms"))

    # 3. fine-tune both for the same steps; benchmark each alternately with the teacher
    teacher_file = export(load_generator(path["teacher"]), "teacher")
    models = {}
    for name, best, rows in (("macs", best_macs, rows_macs), ("ms", best_ms, rows_ms)):
        finetuned = timed(f"finetune_{name}", lambda b=best, n=name: distill(
            DistillSettings(path["teacher"], path["data"], student_config=b["config"],
                            student_init=os.path.join(args.work, f"extract_{n}"), epochs=args.finetune_epochs,
                            decay_epochs=args.finetune_decay_epochs, batch_size=args.batch_size, seed=args.seed),
            os.path.join(args.work, f"finetune_{n}"), verbose=2))  # fmt: skip
        student_file = export(load_generator(os.path.join(args.work, f"finetune_{name}")), name)
        comparison = compare(student_file, teacher_file, settings)
        speedup = comparison.speedup["median"]
        macs_ratio = teacher_macs / best["macs"]
        models[name] = {
            "config": best["config"], "macs": best["macs"], "macs_ratio": macs_ratio,
            "predicted_ms": best["predicted_ms"], "measured_ms": comparison.model.median_ms,
            "teacher_measured_ms": comparison.other.median_ms, "measured_speedup": speedup,
            "speedup_over_macs_ratio": speedup / macs_ratio,
            "shared_weights_training_slice": {k: best[k] for k in ("psnr", "ssim", "psnr_to_teacher")},
            "held_out_extracted": finetuned["untrained"], "held_out_finetuned": finetuned["final"],
            "trials": len(rows), "max_trial_macs": max(r["macs"] for r in rows),
            "max_trial_predicted_ms": max(r["predicted_ms"] for r in rows),
        }  # fmt: skip
        print(f"{name}: {best['config']} {macs_ratio:.1f}x fewer MACs, {speedup:.2f}x faster measured, held-out PSNR "
              f"to teacher {finetuned['final'].get('psnr_to_teacher', float('nan')):.2f} dB", flush=True)  # fmt: skip
    # the two students side by side, run alternately: the same-speed claim measured directly
    head_to_head = compare(os.path.join(args.work, "ms.tflite"), os.path.join(args.work, "macs.tflite"), settings)
    results = {
        "command": "python benchmarks/latency_search.py --work WORK --out OUT " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("work", "out")),
        "size": [args.size, args.size],
        "teacher": {"macs": teacher_macs, "held_out": teacher_metrics["final"]},
        "latency_table": {"path": table_file, "target": table.target, "constant_ms": table.constant_ms,
                          "scale": table.scale, "calibration": table.calibration},
        "supernet": {"space": args.space, "largest_config_held_out": supernet_metrics["final"]},
        "budgets": {"macs": budget_macs, "macs_fraction": args.macs_fraction,
                    "ms": budget_ms, "ms_is_the": f"{args.ms_budget} latency of {best_macs['config']}",
                    "macs_searched_best_measured_alone_ms": measured_macs_best},
        "models": models,
        "ms_vs_macs_alternating": {"ms_searched_median_ms": head_to_head.model.median_ms,
                                   "macs_searched_median_ms": head_to_head.other.median_ms,
                                   "macs_searched_over_ms_searched": head_to_head.speedup},
        "timings": timings,
        "wall_seconds": round(time.time() - started, 1),
        "machine": machine(tf.__version__),
    }  # fmt: skip
    write_results(args.out, results)


if __name__ == "__main__":
    main()
