"""What every training stage builds the same way: its optimizers, its perceptual loss, its held-out scores."""

from __future__ import annotations

from tfgancomp.backend import keras
from tfgancomp.metrics.quality import distribution_scores, paired_scores
from tfgancomp.train.perceptual import VGGPerceptual


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
