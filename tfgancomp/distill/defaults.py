"""Reference distillation settings per teacher task (GAN Compression's defaults), kept as data.

``mode`` decides what Recon compares to and what the discriminator sees: ``"paired"`` → L1 to the ground truth
and a conditional discriminator on ``(input, image)``; ``"unpaired"`` → L1 to the teacher's output (pseudo pairs)
and an unconditional discriminator on images alone.
"""

from __future__ import annotations

#: Teacher task -> default Distiller settings.
DISTILL_DEFAULTS = {
    "pix2pix": {
        "mode": "paired",
        "gan_mode": "vanilla",
        "lambda_gan": 1.0,
        "lambda_recon": 100.0,
        "lambda_distill": 1.0,
        "lambda_feat": 0.0,
        "lambda_vgg": 0.0,
        "distill_norm": "none",
    },
    "cyclegan": {
        "mode": "unpaired",
        "gan_mode": "lsgan",
        "lambda_gan": 1.0,
        "lambda_recon": 10.0,
        "lambda_distill": 0.01,
        "lambda_feat": 0.0,
        "lambda_vgg": 0.0,
        "distill_norm": "none",
    },
    "gaugan": {
        "mode": "paired",
        "gan_mode": "hinge",
        "lambda_gan": 1.0,
        "lambda_recon": 0.0,
        "lambda_distill": 10.0,
        "lambda_feat": 10.0,
        "lambda_vgg": 10.0,
        "distill_norm": "none",
    },
}

DISTILL_MODES = ("paired", "unpaired")
#: How each tap's distillation MSE is scaled: not at all, or by the teacher tap's mean square (see ``Distiller``).
DISTILL_NORMS = ("none", "teacher")
