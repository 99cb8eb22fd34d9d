"""What every training stage builds the same way: its optimizers, its perceptual loss, its held-out scores."""

from __future__ import annotations

from dataclasses import dataclass

from tfgancomp.backend import keras
from tfgancomp.metrics.quality import distribution_scores, paired_scores
from tfgancomp.train.perceptual import VGGPerceptual


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """The training schedule every training stage's settings share (keyword-only fields).

    Args:
        epochs: Total epochs.
        decay_epochs: Final epochs of linear learning-rate decay (``None``: half of ``epochs``).
        batch_size: Global batch size (split over the replicas of a ``tf.distribute`` strategy).
        lr: Adam learning rate of every optimizer of the stage.
        beta1: Adam β1.
        beta2: Adam β2.
    """

    epochs: int = 10
    decay_epochs: int | None = None
    batch_size: int = 1
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """What every training stage's settings share besides the schedule: weights files, seed, samples, bad files.

    Args:
        vgg_weights: Local VGG-19 (no top) Keras weights file for the VGG loss; ``None`` leaves it off.
        inception_weights: Local Inception-v3 (no top) weights file for held-out FID / KID; ``None``: none.
        seed: Seed of weights and data order.
        num_samples: Examples in the per-epoch sample grid.
        on_error: ``"raise"`` or ``"skip"`` for bad data files.
        eval_every: Score the generator on the held-out split every this many epochs (and after the last) and
            record ``held_out_psnr`` / ``held_out_ssim`` in ``history.json``: the held-out learning curve. 0: only
            at the end (``metrics.json``).
    """

    vgg_weights: str | None = None
    inception_weights: str | None = None
    seed: int = 0
    num_samples: int = 4
    on_error: str = "raise"
    eval_every: int = 0


def compile_with_adam(task, settings) -> None:
    """Compile a GAN task with one Adam per side (``lr``, ``beta1``, ``beta2`` of ``settings``), slots built."""

    def adam():
        return keras.optimizers.Adam(learning_rate=settings.lr, beta_1=settings.beta1, beta_2=settings.beta2)

    task.compile(g_optimizer=adam(), d_optimizer=adam())
    task.build_optimizers()


def perceptual_loss(settings, log=print):
    """The VGG-19 perceptual loss of ``settings`` (``vgg_weights``, ``lambda_vgg``), or ``None`` when it is off.

    GauGAN's recipe uses it: a GauGAN stage without a weights file says so (weights are never downloaded).
    """
    if settings.vgg_weights and settings.lambda_vgg:
        return VGGPerceptual(settings.vgg_weights)
    if settings.task == "gaugan" and settings.lambda_vgg:
        log("VGG perceptual loss is off: no VGG-19 weights file given (vgg_weights / --vgg-weights)")
    return None


def learning_curve(generator, reader, every: int):
    """The ``evaluate`` of :meth:`~tfgancomp.pipeline.rundir.ResumableRun.fit` for ``eval_every``, or ``None``.

    ``generator`` is the model or a callable returning it (a generator derived from the task's current weights).
    """
    if not every or reader is None:
        return None

    def scores() -> dict:
        model = generator() if callable(generator) and not hasattr(generator, "trainable_variables") else generator
        done = paired_scores(lambda x: model(x, training=False), reader.dataset)
        return {"held_out_psnr": done["psnr"], "held_out_ssim": done["ssim"]}

    return scores


def held_out_scores(generator, reader, features=None, reference=None) -> dict:
    """Held-out PSNR / SSIM of ``generator`` to truth (and to ``reference``'s output, as ``*_reference``).

    With ``features`` (an Inception extractor), FID / KID of the outputs to the truth images too.
    """

    def generate(x):
        return generator(x, training=False)

    compare = None if reference is None else (lambda x: reference(x, training=False))
    scores = paired_scores(generate, reader.dataset, reference=compare)
    if features is not None:
        real = (t for _, t in reader.dataset)
        fake = (generate(x) for x, _ in reader.dataset)
        scores.update(distribution_scores(features, real, fake))
    return scores
