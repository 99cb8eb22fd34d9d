from __future__ import annotations

import numpy as np
import pytest

from tfgancomp.backend import keras, tf
from tfgancomp.models import MultiscaleDiscriminator, PatchGANDiscriminator, ResNetGenerator, SPADEGenerator
from tfgancomp.train import (
    CycleGANTask,
    GauGANTask,
    ImagePool,
    Pix2PixTask,
    VGGPerceptual,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    linear_decay_factor,
)


def test_gan_losses_on_known_logits():
    real, fake = tf.fill([2, 3, 3, 1], 2.0), tf.fill([2, 3, 3, 1], -1.0)
    np.testing.assert_allclose(discriminator_loss(real, fake, "lsgan"), [0.5 * (1 + 1)] * 2)
    np.testing.assert_allclose(generator_loss(fake, "lsgan"), [4.0] * 2)
    np.testing.assert_allclose(discriminator_loss(real, fake, "hinge"), [0.0 + 0.0] * 2)
    np.testing.assert_allclose(generator_loss(fake, "hinge"), [1.0] * 2)
    softplus = lambda x: np.log1p(np.exp(x))  # noqa: E731
    np.testing.assert_allclose(discriminator_loss(real, fake, "vanilla"), [0.5 * (softplus(-2) + softplus(-1))] * 2,
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(generator_loss(fake, "vanilla"), [softplus(1)] * 2, rtol=1e-6)
    with pytest.raises(ValueError, match="gan_mode"):
        generator_loss(fake, "wgan")


def test_multiscale_losses_average_scales_and_feature_matching_skips_logits():
    feats_real = [[tf.ones([1, 4, 4, 2]), tf.fill([1, 2, 2, 1], 3.0)], [tf.ones([1, 2, 2, 2]), tf.ones([1, 1, 1, 1])]]
    feats_fake = [
        [tf.zeros([1, 4, 4, 2]), tf.zeros([1, 2, 2, 1])],
        [tf.fill([1, 2, 2, 2], 3.0), tf.zeros([1, 1, 1, 1])],
    ]
    np.testing.assert_allclose(generator_loss(feats_fake, "hinge"), [0.0])
    np.testing.assert_allclose(discriminator_loss(feats_real, feats_fake, "hinge"), [(1.0 + 1.0) / 2])
    np.testing.assert_allclose(feature_matching_loss(feats_real, feats_fake), [(1.0 + 2.0) / 2])


def test_linear_decay_schedule_matches_pix2pix():
    factors = [linear_decay_factor(e, 6, 3) for e in range(6)]
    np.testing.assert_allclose(factors, [1, 1, 1, 0.75, 0.5, 0.25])
    assert [linear_decay_factor(e, 3, 0) for e in range(3)] == [1, 1, 1]


def test_image_pool_fills_then_swaps_about_half():
    tf.random.set_seed(0)
    pool = ImagePool(4, (2, 2, 1))
    first = tf.reshape(tf.range(4, dtype=tf.float32), [4, 1, 1, 1]) * tf.ones([4, 2, 2, 1])
    np.testing.assert_array_equal(pool(first).numpy(), first.numpy())  # filling: returned as is, stored
    assert int(pool.count.numpy()) == 4
    returned_old = 0
    for step in range(50):
        new = tf.fill([1, 2, 2, 1], 100.0 + step)
        out = float(pool(new).numpy()[0, 0, 0, 0])
        returned_old += out != 100.0 + step
    assert 12 <= returned_old <= 38
    assert ImagePool(0, (2, 2, 1))(first) is first


def _one_step(task, data):
    before = [w.numpy().copy() for w in task.generator_variables() + task.discriminator_variables()]
    logs = task.train_step(data)
    after = [w.numpy() for w in task.generator_variables() + task.discriminator_variables()]
    assert all(np.isfinite(float(v)) for v in logs.values())
    changed = sum(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert changed >= len(before) // 2
    return logs


def _adam():
    return keras.optimizers.Adam(2e-4, beta_1=0.5)


def test_pix2pix_step_updates_generator_and_discriminator():
    g = ResNetGenerator(ngf=4, n_blocks=2, height=32, width=32)
    d = PatchGANDiscriminator(6, 4, height=32, width=32)
    task = Pix2PixTask(g, d, "lsgan")
    task.compile(_adam(), _adam())
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    logs = _one_step(task, (x, x))
    assert set(logs) == {"g_loss", "g_gan", "g_l1", "d_loss"}
    assert float(logs["g_loss"]) == pytest.approx(float(logs["g_gan"]) + 100 * float(logs["g_l1"]), rel=1e-5)


def test_cyclegan_step_uses_the_pools():
    gens = [ResNetGenerator(ngf=4, n_blocks=1, height=32, width=32, name=n) for n in ("g_ab", "g_ba")]
    discs = [PatchGANDiscriminator(3, 4, height=32, width=32, name=n) for n in ("d_a", "d_b")]
    task = CycleGANTask(*gens, *discs, image_shape=(32, 32, 3), pool_size=3)
    task.compile(_adam(), _adam())
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32) for _ in range(2))
    logs = _one_step(task, (a, b))
    assert int(task.pool_a.count.numpy()) == 2 and float(logs["g_identity"]) > 0


def test_gaugan_step_with_feature_matching_and_a_perceptual_loss():
    g = SPADEGenerator(label_nc=3, instance=True, ngf=2, nhidden=8, height=32, width=32)
    d = MultiscaleDiscriminator(7, 4, n_layers=2, height=32, width=32)
    calls = []

    def perceptual(images, targets):
        calls.append(1)
        return tf.reduce_mean(tf.abs(images - targets), axis=[1, 2, 3])

    task = GauGANTask(g, d, perceptual=perceptual)
    task.compile(_adam(), _adam())
    rng = np.random.default_rng(2)
    seg = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (2, 32, 32))]
    logs = _one_step(task, (seg, rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)))
    assert calls and float(logs["g_feat"]) > 0 and float(logs["g_vgg"]) > 0


def test_vgg_perceptual_reads_a_local_file(tmp_path):
    with pytest.raises(ValueError, match="never downloaded"):
        VGGPerceptual(str(tmp_path / "vgg.h5"))
    path = str(tmp_path / "vgg.h5")
    keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3)).save_weights(path)
    loss = VGGPerceptual(path)
    x = np.random.default_rng(3).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(loss(x, x), [0, 0], atol=1e-6)
    assert (loss(x, -x).numpy() > 0).all()
