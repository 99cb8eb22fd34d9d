"""GAN and reconstruction losses, per example (shape ``(batch,)``), ready for ``tf.nn.compute_average_loss``.

Per-example losses let a task scale by the *global* batch size, so one step under ``tf.distribute`` gives the
same update as the same global batch on one device.
"""

from __future__ import annotations

from tfgancomp.backend import tf
from tfgancomp.validation import check_choice

GAN_MODES = ("lsgan", "vanilla", "hinge")


def per_example_mean(x):
    """Mean over every axis but the batch axis."""
    x = tf.convert_to_tensor(x)
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def l1(a, b):
    """Per-example mean absolute error."""
    return per_example_mean(tf.abs(a - b))


def _predictions(outputs):
    """The patch logits of a discriminator output: a tensor, or per scale the last of a feature list."""
    if isinstance(outputs, (list, tuple)):
        return [o[-1] if isinstance(o, (list, tuple)) else o for o in outputs]
    return [outputs]


def discriminator_loss(real_outputs, fake_outputs, mode: str):
    """Per-example discriminator loss, averaged over scales.

    ``lsgan``: ½((D(x) - 1)² + D(G(z))²); ``vanilla``: ½(BCE(D(x), 1) + BCE(D(G(z)), 0));
    ``hinge``: relu(1 - D(x)) + relu(1 + D(G(z))).
    """
    check_choice("gan_mode", mode, GAN_MODES)
    reals, fakes = _predictions(real_outputs), _predictions(fake_outputs)
    total = 0.0
    for real, fake in zip(reals, fakes, strict=True):
        if mode == "lsgan":
            loss = 0.5 * (per_example_mean(tf.square(real - 1.0)) + per_example_mean(tf.square(fake)))
        elif mode == "vanilla":
            bce_real = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(real), logits=real)
            bce_fake = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake), logits=fake)
            loss = 0.5 * (per_example_mean(bce_real) + per_example_mean(bce_fake))
        else:
            loss = per_example_mean(tf.nn.relu(1.0 - real)) + per_example_mean(tf.nn.relu(1.0 + fake))
        total += loss
    return total / len(reals)


def generator_loss(fake_outputs, mode: str):
    """Per-example adversarial loss of the generator, averaged over scales."""
    check_choice("gan_mode", mode, GAN_MODES)
    total = 0.0
    fakes = _predictions(fake_outputs)
    for fake in fakes:
        if mode == "lsgan":
            total += per_example_mean(tf.square(fake - 1.0))
        elif mode == "vanilla":
            total += per_example_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(fake), logits=fake))
        else:
            total += -per_example_mean(fake)
    return total / len(fakes)


def feature_matching_loss(real_outputs, fake_outputs):
    """GauGAN's GAN feature matching: L1 between the intermediate discriminator features, averaged over scales.

    Both arguments are ``[[f_1, ..., f_n, logits] per scale]``; the real features are not differentiated.
    """
    total = 0.0
    for real, fake in zip(real_outputs, fake_outputs, strict=True):
        for r, f in zip(real[:-1], fake[:-1], strict=True):
            total += l1(f, tf.stop_gradient(r))
    return total / len(real_outputs)
