"""A model-free KerasTuner tuner that scores channel configurations from a supernet's shared weights."""

from __future__ import annotations

import csv
import json
import os
import time

import numpy as np
from keras_tuner.engine.base_tuner import BaseTuner
from PIL import Image, ImageDraw

from tfgancomp.backend import keras, tf
from tfgancomp.metrics.quality import fid_from_features, kid_from_features, psnr, ssim
from tfgancomp.search.oracle import config_of
from tfgancomp.search.space import SearchSpace

SCORES = ("psnr", "psnr_to_teacher", "fid", "kid")
#: Objectives where lower is better: the trial's ``score`` is their negative (the oracles maximize ``score``).
LOWER_IS_BETTER = ("fid", "kid")


class SupernetTuner(BaseTuner):
    """Scores each proposed configuration with the supernet's shared weights — no retraining — on fixed batches.

    The batches are a held-out slice of the *training* data (the test split stays untouched for the final
    report). Every trial reports mean PSNR / SSIM to truth, PSNR to the teacher's output (when a teacher is
    given), FID and KID between the generated and the truth images (when a ``features`` extractor such as
    :class:`~tfgancomp.metrics.InceptionFeatures` is given) and the configuration's MACs; ``objective`` picks the
    score (``fid`` / ``kid`` negated, so that higher is better for every objective). A configuration is a tensor
    argument of one ``tf.function``, so scoring does not retrace. A batch-norm supernet is recalibrated on the
    slice's inputs for each configuration before it is scored (GAN Compression's BN recalibration).

    Args:
        oracle: One of :mod:`tfgancomp.search.oracle`'s oracles.
        supernet: The trained supernet.
        batches: ``[(inputs, targets), ...]`` numpy batches in [-1, 1].
        space: The search space (to describe results).
        cost: ``cost(config)`` (MACs at the data's resolution, as the oracle's budget).
        reference_cost: Optional ``cost(config)`` at 256×256, for comparison with the published tables.
        latency: Optional ``latency(config) -> ms`` (a :class:`~tfgancomp.search.latency.LatencyTable`'s
            predictor): every trial also reports ``predicted_ms``.
        teacher: Optional teacher generator (adds ``psnr_to_teacher``).
        objective: ``"psnr"`` (to truth, paired data) or ``"psnr_to_teacher"``.
        directory: KerasTuner directory (the search's resumable state).
        project_name: KerasTuner project name.
        overwrite: Start afresh instead of resuming.
        features: Optional ``features(images) -> (n, d)`` array (Inception pool features) for FID / KID.
        verbose: 1: a progress bar over the trials (finished trials of a resumed search count as done) with the
            best score so far; 2: one line when the search ends; 0: silent.
    """

    def __init__(self, oracle, supernet, batches, space: SearchSpace, cost, reference_cost=None, teacher=None,
                 objective: str = "psnr", directory=None, project_name="search", overwrite=False,
                 features=None, verbose: int = 0, latency=None):  # fmt: skip
        if objective not in SCORES:
            raise ValueError(f"objective must be one of {SCORES}, got {objective!r}")
        if objective == "psnr_to_teacher" and teacher is None:
            raise ValueError("objective 'psnr_to_teacher' needs the teacher")
        if objective in LOWER_IS_BETTER and features is None:
            raise ValueError(f"objective {objective!r} needs Inception features (inception_weights / "
                             "--inception-weights)")  # fmt: skip
        if not batches:
            raise ValueError("the tuner needs at least one (inputs, targets) batch to score configurations")
        super().__init__(oracle, None, directory=directory, project_name=project_name, overwrite=overwrite)
        self.supernet, self.space, self.cost, self.reference_cost = supernet, space, cost, reference_cost
        self.latency = latency
        self.objective = objective
        self.batches = [(np.asarray(x, np.float32), np.asarray(y, np.float32)) for x, y in batches]
        self.teacher_outputs = (
            [teacher(x, training=False).numpy() for x, _ in self.batches] if teacher is not None else None
        )
        self.features = features
        self.real_features = features(np.concatenate([y for _, y in self.batches])) if features else None
        self._generate = tf.function(lambda x, c: supernet(x, c, training=False), reduce_retracing=True)
        self.verbose, self._bar, self._started = verbose, None, time.time()

    def _progress(self) -> tuple[int, list]:
        """``(finished trials, [("best", score)])`` for the progress bar."""
        trials = getattr(self.oracle, "trials", None)  # a worker's OracleClient holds none: the chief counts
        done = [t for t in (trials or {}).values() if t.status == "COMPLETED" and t.score is not None]
        return len(done), [("best", max(t.score for t in done))] if done else []

    def on_search_begin(self):
        super().on_search_begin()
        self._started = time.time()
        if self.verbose == 1:
            self._bar = keras.utils.Progbar(self.oracle.max_trials, verbose=self.verbose, stateful_metrics=["best"],
                                            unit_name="trial")  # fmt: skip
            done, values = self._progress()
            if done:
                self._bar.update(done, values)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if self._bar is not None:
            done, values = self._progress()
            self._bar.update(min(done, self.oracle.max_trials), values)

    def on_search_end(self):
        super().on_search_end()
        if not self.verbose:
            return
        done, values = self._progress()
        if self._bar is not None:
            self._bar.update(done, values, finalize=True)
            self._bar = None
        elif self.verbose == 2:  # one line (Progbar's verbose-2 line times an "epoch" that is not one)
            best = f", best {values[0][1]:.4f}" if values else ""
            print(f"{done}/{self.oracle.max_trials} trials in {time.time() - self._started:.0f} s{best}")

    def score(self, config) -> dict:
        """Scores of one configuration (also usable outside a search)."""
        config_tensor = tf.constant(config, tf.int32)
        self.supernet.calibrate([x for x, _ in self.batches], config_tensor)
        sums = {"psnr": 0.0, "ssim": 0.0, "psnr_to_teacher": 0.0}
        count, outputs = 0, []
        for i, (x, y) in enumerate(self.batches):
            out = self._generate(tf.constant(x), config_tensor)
            outputs.append(out.numpy())
            sums["psnr"] += float(tf.reduce_sum(psnr(out, y)))
            sums["ssim"] += float(tf.reduce_sum(ssim(out, y)))
            if self.teacher_outputs is not None:
                sums["psnr_to_teacher"] += float(tf.reduce_sum(psnr(out, self.teacher_outputs[i])))
            count += len(x)
        scores = {k: v / count for k, v in sums.items() if k != "psnr_to_teacher" or self.teacher_outputs}
        if self.features is not None:
            fake = self.features(np.concatenate(outputs))
            scores["fid"] = fid_from_features(self.real_features, fake)
            scores["kid"] = kid_from_features(self.real_features, fake, num_subsets=10)[0]
        scores["macs"] = float(self.cost(config))
        if self.latency is not None:
            scores["predicted_ms"] = float(self.latency(config))
        if self.reference_cost is not None:
            scores["macs_256"] = float(self.reference_cost(config))
        value = scores[self.objective]
        scores["score"] = -value if self.objective in LOWER_IS_BETTER else value
        return scores

    def run_trial(self, trial, *args, **kwargs):
        return self.score(config_of(trial.hyperparameters.values))

    def save_model(self, trial_id, model, step=0):
        """Nothing to save: configurations are scored from the supernet's shared weights."""

    def load_model(self, trial):
        raise NotImplementedError("a configuration's model is extract_subnet(supernet, config)")

    def results(self) -> list[dict]:
        """Completed trials, best first: config string and every reported figure."""
        rows = []
        for trial in self.oracle.trials.values():
            if trial.status != "COMPLETED" or trial.score is None:
                continue
            row = {"trial": trial.trial_id, "config": self.space.encode(config_of(trial.hyperparameters.values))}
            for name in trial.metrics.metrics:
                row[name] = trial.metrics.get_last_value(name)
            rows.append(row)
        return sorted(rows, key=lambda r: r["score"], reverse=True)


def write_results(rows: list[dict], out_dir: str, budget: float | None = None, unit: str = "macs") -> dict:
    """Write ``results.json``, ``results.csv`` (config, MACs, predicted ms, score, ...) and a ``scatter.png``.

    Args:
        rows: The trials, best first.
        out_dir: Where to write.
        budget: The search's budget.
        unit: ``"macs"`` (the scatter's x axis is MACs) or ``"ms"`` (predicted latency; rows need
            ``predicted_ms``).

    Returns:
        The paths written.
    """
    if not rows:
        raise ValueError("no completed trials to write")
    os.makedirs(out_dir, exist_ok=True)
    paths = {name: os.path.join(out_dir, name) for name in ("results.json", "results.csv", "scatter.png")}
    with open(paths["results.json"], "w") as f:
        json.dump({f"budget_{unit}": budget, "trials": rows}, f, indent=2)
        f.write("\n")
    fields = ["config"] + sorted({k for r in rows for k in r} - {"config"})
    with open(paths["results.csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    scatter(rows, paths["scatter.png"], budget, unit=unit)
    return paths


def scatter(rows: list[dict], path: str, budget: float | None = None, size=(640, 480), unit: str = "macs") -> None:
    """A MACs (x, G) — or predicted ms — vs score (y) scatter plot as PNG.

    The best trial is in red, the budget a vertical line.
    """
    w, h = size
    margin = 60
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    scale = 1e9 if unit == "macs" else 1.0
    xs = np.array([r["macs" if unit == "macs" else "predicted_ms"] for r in rows]) / scale
    ys = np.array([r["score"] for r in rows])
    x_hi = max(xs.max(), (budget or 0) / scale) * 1.05
    x_lo = min(xs.min(), x_hi) * 0.95
    y_lo, y_hi = ys.min(), ys.max()
    y_pad = (y_hi - y_lo) * 0.05 or 1.0
    y_lo, y_hi = y_lo - y_pad, y_hi + y_pad

    def to_px(x, y):
        return (margin + (x - x_lo) / (x_hi - x_lo or 1) * (w - 2 * margin),
                h - margin - (y - y_lo) / (y_hi - y_lo) * (h - 2 * margin))  # fmt: skip

    draw.rectangle([margin, margin, w - margin, h - margin], outline="black")
    for frac in (0.0, 0.5, 1.0):
        gx, gy = x_lo + frac * (x_hi - x_lo), y_lo + frac * (y_hi - y_lo)
        px, _ = to_px(gx, y_lo)
        _, py = to_px(x_lo, gy)
        draw.text((px - 15, h - margin + 8), f"{gx:.3g}", fill="black")
        draw.text((5, py - 6), f"{gy:.3g}", fill="black")
    draw.text((w // 2 - 30, h - 20), "MACs (G)" if unit == "macs" else "predicted latency (ms)", fill="black")
    draw.text((5, 10), "score", fill="black")
    if budget:
        bx, _ = to_px(budget / scale, y_lo)
        draw.line([bx, margin, bx, h - margin], fill=(120, 120, 255))
    for x, y in zip(xs, ys, strict=True):
        px, py = to_px(x, y)
        draw.ellipse([px - 2, py - 2, px + 2, py + 2], fill=(60, 60, 60))
    px, py = to_px(xs[int(np.argmax(ys))], ys.max())
    draw.ellipse([px - 5, py - 5, px + 5, py + 5], outline="red", width=2)
    image.save(path)
