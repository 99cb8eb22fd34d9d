"""Supernet training speed vs the largest plain subnet, measured side by side in one process.

Both tasks train on the same batches against the same teacher with the Distiller objective: the
``SuperMobileResNetGenerator`` samples a configuration of the space every step (one trace for all of them), the plain
``SubMobileResNetGenerator`` is the space's largest configuration. Timed blocks alternate between the two so that
machine load affects both alike; the ratio of median steps/s is reported.

    python benchmarks/supernet_speed.py --out benchmarks/results/supernet_speed.json
"""

from __future__ import annotations

import argparse
import time

from _results import machine, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--space", default="channels-32")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--teacher-ngf", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=5, help="timed blocks per task")
    args = parser.parse_args()

    import numpy as np

    from tfgancomp.backend import keras, tf
    from tfgancomp.distill import Distiller
    from tfgancomp.models import PatchGANDiscriminator, ResNetGenerator, SubMobileResNetGenerator
    from tfgancomp.search import SuperMobileResNetGenerator, get_space
    from tfgancomp.search.training import SupernetDistiller

    keras.utils.set_random_seed(0)
    space, s = get_space(args.space), args.size
    teacher = ResNetGenerator(ngf=args.teacher_ngf, height=s, width=s, name="generator")
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (args.batch_size * args.steps, s, s, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x)).batch(args.batch_size).cache()

    def compiled(task):
        task.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        task.build_optimizers()
        task.fit(data, epochs=1, verbose=0)  # trace and warm up
        return task

    supernet = SuperMobileResNetGenerator(ngf=max(space.largest()))
    tasks = {
        "supernet": compiled(SupernetDistiller(supernet, teacher, PatchGANDiscriminator(6, 64, height=s, width=s),
                                               space)),
        "largest_subnet": compiled(Distiller(
            SubMobileResNetGenerator(space.largest(), height=s, width=s, name="student"), teacher,
            PatchGANDiscriminator(6, 64, height=s, width=s))),
    }  # fmt: skip
    rates = {name: [] for name in tasks}
    for _ in range(args.blocks):
        for name, task in tasks.items():
            start = time.perf_counter()
            task.fit(data, epochs=1, verbose=0)
            rates[name].append(args.steps / (time.perf_counter() - start))
    median = {name: float(np.median(r)) for name, r in rates.items()}
    results = {
        "command": "python benchmarks/supernet_speed.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out"),
        "steps_per_second_median": {k: round(v, 3) for k, v in median.items()},
        "steps_per_second_blocks": {k: [round(v, 3) for v in r] for k, r in rates.items()},
        "supernet_vs_largest_subnet": round(median["supernet"] / median["largest_subnet"], 3),
        "machine": machine(tf.__version__),
    }  # fmt: skip
    write_results(args.out, results)


if __name__ == "__main__":
    main()
