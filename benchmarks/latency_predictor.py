r"""Accuracy of a latency table's predictions: random configurations exported whole and measured, vs predicted.

Draws ``--configs`` random configurations of a ResNet space (default ``blocks-64-pix2pix``: every width, separable
or dense blocks, 1–3 blocks per group), builds each as a plain ``SubMobileResNetGenerator`` at the table's size,
exports it to float32 ``.tflite`` and measures it with ``tflite_benchmark``'s host runner (the table's threads, median
of ``--num-runs``); compares with the table's prediction. Reports the median and worst relative error and the rank
correlation (Spearman) of predicted vs measured — and, for contrast, the rank correlation of MACs with the measured
latency. The teacher (ResNet ngf 64, 9 blocks: the all-dense 64-wide layout) is measured and predicted too. Run on
an otherwise idle machine.

    python benchmarks/latency_predictor.py --out benchmarks/results/latency_predictor.json
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from _results import machine, write_results


def ranks(values) -> np.ndarray:
    """Ranks 0..n-1 (ties get the mean of their ranks)."""
    values = np.asarray(values, np.float64)
    order = np.argsort(values, kind="stable")
    out = np.empty(len(values))
    out[order] = np.arange(len(values))
    for v in np.unique(values):
        tied = values == v
        out[tied] = out[tied].mean()
    return out


def spearman(a, b) -> float:
    """Spearman's rank correlation."""
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", help="latency table JSON (default: the shipped host table of --size)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--space", default="blocks-64-pix2pix")
    parser.add_argument("--configs", type=int, default=30)
    parser.add_argument("--num-runs", type=int, default=50)
    parser.add_argument("--warmup-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from mobile_export.benchmark import BenchmarkSettings, benchmarker
    from mobile_export.convert import to_tflite
    from tfgancomp.backend import keras, tf
    from tfgancomp.models import SubMobileResNetGenerator
    from tfgancomp.models.config import parse_config
    from tfgancomp.search import find_table, get_space, resnet_macs

    table = find_table(args.size, args.size, args.table)
    space = get_space(args.space)
    table.check(space, table.height, table.width, 9)
    run = benchmarker(BenchmarkSettings(num_threads=table.target["threads"], num_runs=args.num_runs,
                                        warmup_runs=args.warmup_runs))  # fmt: skip
    rng = np.random.default_rng(args.seed)
    configs = []
    while len(configs) < args.configs:  # distinct configurations, none of the table's calibration models
        config = space.sample(rng)
        seen = {space.encode(c) for c in configs} | {c["config"] for c in table.calibration}
        if space.encode(config) not in seen:
            configs.append(config)
    teacher = parse_config("64_64_64_64dx3_64dx3_64dx3_64_64")  # ResNetGenerator(ngf=64, n_blocks=9)'s architecture
    rows, started = [], time.time()
    with tempfile.TemporaryDirectory() as folder:
        for k, config in enumerate([*configs, teacher]):
            model = SubMobileResNetGenerator(config, height=table.height, width=table.width)
            path = os.path.join(folder, "model.tflite")
            with open(path, "wb") as f:
                f.write(to_tflite(model))
            measured = run(path).median_ms
            predicted = table.predict(config)
            rows.append({"config": space.encode(config), "macs": resnet_macs(config, table.height, table.width),
                         "predicted_ms": predicted, "measured_ms": measured,
                         "relative_error": (predicted - measured) / measured})  # fmt: skip
            print(
                f"[{k + 1}/{len(configs) + 1}] {rows[-1]['config']}: predicted {predicted:.2f} ms, measured "
                f"{measured:.2f} ms ({100 * rows[-1]['relative_error']:+.1f} %)",
                flush=True,
            )
            keras.backend.clear_session()
    sample, teacher_row = rows[:-1], rows[-1]
    errors = np.abs([r["relative_error"] for r in sample])
    measured = [r["measured_ms"] for r in sample]
    summary = {
        "configs": len(sample),
        "median_abs_relative_error": float(np.median(errors)),
        "worst_abs_relative_error": float(errors.max()),
        "spearman_predicted_vs_measured": spearman([r["predicted_ms"] for r in sample], measured),
        "spearman_macs_vs_measured": spearman([r["macs"] for r in sample], measured),
        "targets": {"median_abs_relative_error": 0.10, "worst_abs_relative_error": 0.25, "spearman": 0.9},
    }
    summary["met"] = (summary["median_abs_relative_error"] <= 0.10 and summary["worst_abs_relative_error"] <= 0.25
                      and summary["spearman_predicted_vs_measured"] >= 0.9)  # fmt: skip
    results = {"command": "python benchmarks/latency_predictor.py " + " ".join(
                   f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
               "machine": machine(tf.__version__), "table": {"path": table.source, "target": table.target,
                                                             "size": [table.height, table.width],
                                                             "constant_ms": table.constant_ms},
               "summary": summary, "teacher": teacher_row, "rows": sample,
               "seconds": round(time.time() - started, 1)}  # fmt: skip
    write_results(args.out, results)


if __name__ == "__main__":
    main()
