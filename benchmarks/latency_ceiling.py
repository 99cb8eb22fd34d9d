r"""How fast can a compressed generator be for its MACs on a target? The ceiling of speedup ÷ MACs ratio per space.

For each space, draws random configurations, keeps those within ``--macs-fraction`` of the teacher's MACs (the
budget GAN Compression searches under), and predicts each one's latency with a latency table (default: the shipped
host-CPU table). Reports, per space, the best and the median of ``(teacher ms / predicted ms) / (teacher MACs /
MACs)`` — the share of its MACs reduction a model keeps as speed — and the configurations that reach the best. No
training: it says what a search over that space *could* reach on that target, whatever the quality. The teacher is
the all-dense 64-wide layout (``ResNetGenerator(ngf=64, n_blocks=9)``).

    python benchmarks/latency_ceiling.py --out benchmarks/results/latency_ceiling.json
"""

from __future__ import annotations

import argparse

import numpy as np
from _results import write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", help="latency table JSON (default: the shipped host table of --size)")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--spaces", default="channels-32,channels-64-pix2pix,blocks-32,blocks-64-pix2pix")
    parser.add_argument("--samples", type=int, default=60000, help="random configurations drawn per space")
    parser.add_argument("--macs-fraction", type=float, default=1 / 16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from tfgancomp.models.config import parse_config
    from tfgancomp.search import find_table, get_space, resnet_macs

    table = find_table(args.size, args.size, args.table)
    teacher = parse_config("64_64_64_64dx3_64dx3_64dx3_64_64")
    teacher_macs = resnet_macs(teacher, table.height, table.width)
    teacher_ms = table.predict(teacher)
    spaces = {}
    for name in args.spaces.split(","):
        space = get_space(name)
        table.check(space, table.height, table.width, 9)
        rng = np.random.default_rng(args.seed)
        seen, rows = set(), []
        for _ in range(args.samples):
            config = space.sample(rng)
            macs = resnet_macs(config, table.height, table.width)
            if macs > args.macs_fraction * teacher_macs or config in seen:
                continue
            seen.add(config)
            ms = table.predict(config)
            rows.append(
                {
                    "config": space.encode(config),
                    "macs_ratio": teacher_macs / macs,
                    "predicted_speedup": teacher_ms / ms,
                    "share": (teacher_ms / ms) / (teacher_macs / macs),
                }
            )
        rows.sort(key=lambda r: r["share"], reverse=True)
        shares = np.array([r["share"] for r in rows])
        spaces[name] = {"under_budget": len(rows), "best_share": float(shares.max()),
                        "median_share": float(np.median(shares)), "top3": rows[:3]}  # fmt: skip
        print(f"{name}: {len(rows)} configurations under the budget; speedup / MACs ratio best {shares.max():.3f}, "
              f"median {np.median(shares):.3f}", flush=True)  # fmt: skip
    write_results(args.out, {
        "command": "python benchmarks/latency_ceiling.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "table": {"path": table.source, "target": table.target, "size": [table.height, table.width]},
        "teacher": {"config": "64_64_64_64dx3_64dx3_64dx3_64_64", "macs": teacher_macs, "predicted_ms": teacher_ms},
        "spaces": spaces,
    })  # fmt: skip


if __name__ == "__main__":
    main()
