"""Teacher training tasks: ``keras.Model`` subclasses with a custom ``train_step``, trained with ``fit()``.

A task receives its generator(s) and discriminator(s) explicitly and owns only the losses and the update rule.
Losses are computed per example and scaled by the global batch (``tf.nn.compute_average_loss``), so a step under
``tf.distribute.MirroredStrategy`` equals a step on one device with the same global batch. Reported losses are
means over examples (``keras.metrics.Mean``, aggregated across replicas).
"""

from __future__ import annotations

from tfgancomp.backend import keras, tf
from tfgancomp.train.losses import (
    GAN_MODES,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    l1,
)
from tfgancomp.validation import check_choice


def _average(per_example):
    return tf.nn.compute_average_loss(per_example)


class _GANTask(keras.Model):
    """Shared plumbing: two optimizers, loss trackers, and optimizer building before a checkpoint restore."""

    loss_names: tuple[str, ...] = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trackers = {n: keras.metrics.Mean(name=n) for n in self.loss_names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        """Set the generator and discriminator optimizers (Keras' own loss/metrics arguments are unused).

        ``g_optimizer`` is also Keras' ``model.optimizer`` (so no unused default optimizer is created).
        """
        super().compile(optimizer=g_optimizer, **kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    def generator_variables(self):
        """Trainable variables updated by ``g_optimizer``."""
        raise NotImplementedError

    def discriminator_variables(self):
        """Trainable variables updated by ``d_optimizer``."""
        raise NotImplementedError

    def build_optimizers(self) -> None:
        """Create the optimizers' slot variables now, so a checkpoint restores them in place."""
        self.g_optimizer.build(self.generator_variables())
        self.d_optimizer.build(self.discriminator_variables())

    def _apply(self, optimizer, tape, loss, variables):
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    def _report(self, **values):
        for name, per_example in values.items():
            self.trackers[name].update_state(tf.reduce_mean(per_example))
        return {name: t.result() for name, t in self.trackers.items()}


class _ConditionalTask(_GANTask):
    """A task with one generator and one discriminator, both updated by their own optimizer."""

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def generator_variables(self):
        return self.generator.trainable_variables

    def discriminator_variables(self):
        return self.discriminator.trainable_variables


class Pix2PixTask(_ConditionalTask):
    """pix2pix: a generator and a conditional PatchGAN on ``(A, B)``; GAN loss + λ·L1 (λ = 100).

    Each step updates the discriminator on ``(A, B)`` vs ``(A, G(A))``, then the generator against the updated
    discriminator, reusing one generator forward pass.

    Args:
        generator: Maps A (``input_nc`` channels) to B.
        discriminator: PatchGAN on the concatenation ``[A, B]``.
        gan_mode: ``"lsgan"``, ``"vanilla"`` or ``"hinge"``.
        lambda_l1: Weight of the L1 reconstruction loss.
    """

    loss_names = ("g_loss", "g_gan", "g_l1", "d_loss")

    def __init__(self, generator, discriminator, gan_mode: str = "vanilla", lambda_l1: float = 100.0, **kwargs):
        check_choice("gan_mode", gan_mode, GAN_MODES)
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.gan_mode, self.lambda_l1 = gan_mode, float(lambda_l1)

    def train_step(self, data):
        a, b = data
        with tf.GradientTape() as g_tape:
            fake = self.generator(a, training=True)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    d_real = self.discriminator(tf.concat([a, b], -1), training=True)
                    d_fake = self.discriminator(tf.concat([a, tf.stop_gradient(fake)], -1), training=True)
                    d_loss = discriminator_loss(d_real, d_fake, self.gan_mode)
                    d_total = _average(d_loss)
                self._apply(self.d_optimizer, d_tape, d_total, self.discriminator_variables())
            g_gan = generator_loss(self.discriminator(tf.concat([a, fake], -1), training=True), self.gan_mode)
            g_l1 = l1(fake, b)
            g_loss = g_gan + self.lambda_l1 * g_l1
            g_total = _average(g_loss)
        self._apply(self.g_optimizer, g_tape, g_total, self.generator_variables())
        return self._report(g_loss=g_loss, g_gan=g_gan, g_l1=g_l1, d_loss=d_loss)


class ImagePool(tf.Module):
    """CycleGAN's history of generated images (Shrivastava et al.): the discriminator sees old fakes too.

    Until ``pool_size`` images are stored every image is stored and returned; afterwards each image is, with
    probability ½, swapped with a random stored one (the stored one is returned), else returned as is. The buffer
    is a variable, so it is saved in checkpoints.

    Args:
        pool_size: Stored images (0 disables the pool).
        image_shape: ``(height, width, channels)`` of the images.
    """

    def __init__(self, pool_size: int, image_shape, name: str | None = None):
        super().__init__(name=name)
        self.pool_size = int(pool_size)
        agg = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.buffer = tf.Variable(tf.zeros([max(1, self.pool_size), *image_shape]), trainable=False,
                                  aggregation=agg, name="buffer")  # fmt: skip
        self.count = tf.Variable(0, trainable=False, aggregation=agg, name="count")

    def __call__(self, images):
        """The images the discriminator should see for this batch of fakes."""
        if self.pool_size == 0:
            return images
        images = tf.stop_gradient(images)
        n = tf.shape(images)[0]

        def body(i, out):
            image = images[i]

            def fill():
                self.buffer[self.count].assign(image)
                self.count.assign_add(1)
                return image

            def swap():
                j = tf.random.uniform([], 0, self.pool_size, dtype=tf.int32)
                old = tf.identity(self.buffer[j])
                self.buffer[j].assign(image)
                return old

            def maybe_swap():
                return tf.cond(tf.random.uniform([]) > 0.5, swap, lambda: image)

            return i + 1, out.write(i, tf.cond(self.count < self.pool_size, fill, maybe_swap))

        out = tf.TensorArray(images.dtype, size=n, element_shape=images.shape[1:])
        _, out = tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), out))
        return out.stack()


class CycleGANTask(_GANTask):
    """CycleGAN: generators A→B and B→A, discriminators of A and of B, LSGAN, cycle λ 10, identity 0.5.

    Each step updates both generators (adversarial + cycle + identity losses), then both discriminators on
    real images vs fakes drawn from 50-image history pools.

    Args:
        generator_ab: Maps domain A to domain B.
        generator_ba: Maps domain B to domain A.
        discriminator_a: Judges domain A images (unconditional PatchGAN, 3 input channels).
        discriminator_b: Judges domain B images.
        image_shape: ``(height, width, channels)`` of training images (for the pools).
        gan_mode: ``"lsgan"`` (default), ``"vanilla"`` or ``"hinge"``.
        lambda_a: Weight of the A→B→A cycle loss.
        lambda_b: Weight of the B→A→B cycle loss.
        lambda_identity: Identity loss weight, relative to the cycle weights (0 disables it).
        pool_size: History pool size.
    """

    loss_names = ("g_loss", "g_gan", "g_cycle", "g_identity", "d_loss")

    def __init__(
        self,
        generator_ab,
        generator_ba,
        discriminator_a,
        discriminator_b,
        image_shape,
        gan_mode: str = "lsgan",
        lambda_a: float = 10.0,
        lambda_b: float = 10.0,
        lambda_identity: float = 0.5,
        pool_size: int = 50,
        **kwargs,
    ):
        check_choice("gan_mode", gan_mode, GAN_MODES)
        super().__init__(**kwargs)
        self.generator = self.generator_ab = generator_ab
        self.generator_ba = generator_ba
        self.discriminator_a, self.discriminator_b = discriminator_a, discriminator_b
        self.gan_mode = gan_mode
        self.lambda_a, self.lambda_b, self.lambda_identity = float(lambda_a), float(lambda_b), float(lambda_identity)
        self.pool_a = ImagePool(pool_size, image_shape, name="pool_a")
        self.pool_b = ImagePool(pool_size, image_shape, name="pool_b")

    def call(self, inputs, training=False):
        return self.generator_ab(inputs, training=training)

    def generator_variables(self):
        return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables

    def discriminator_variables(self):
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    def train_step(self, data):
        real_a, real_b = data
        with tf.GradientTape() as g_tape:
            fake_b = self.generator_ab(real_a, training=True)
            fake_a = self.generator_ba(real_b, training=True)
            rec_a = self.generator_ba(fake_b, training=True)
            rec_b = self.generator_ab(fake_a, training=True)
            g_gan = generator_loss(self.discriminator_b(fake_b, training=True), self.gan_mode) + generator_loss(
                self.discriminator_a(fake_a, training=True), self.gan_mode
            )
            g_cycle = self.lambda_a * l1(rec_a, real_a) + self.lambda_b * l1(rec_b, real_b)
            if self.lambda_identity > 0:
                g_identity = self.lambda_identity * (
                    self.lambda_b * l1(self.generator_ab(real_b, training=True), real_b)
                    + self.lambda_a * l1(self.generator_ba(real_a, training=True), real_a)
                )
            else:
                g_identity = tf.zeros_like(g_gan)
            g_loss = g_gan + g_cycle + g_identity
            g_total = _average(g_loss)
        self._apply(self.g_optimizer, g_tape, g_total, self.generator_variables())
        pooled_a, pooled_b = self.pool_a(fake_a), self.pool_b(fake_b)
        with tf.GradientTape() as d_tape:
            d_a = discriminator_loss(
                self.discriminator_a(real_a, training=True), self.discriminator_a(pooled_a, training=True),
                self.gan_mode,
            )  # fmt: skip
            d_b = discriminator_loss(
                self.discriminator_b(real_b, training=True), self.discriminator_b(pooled_b, training=True),
                self.gan_mode,
            )  # fmt: skip
            d_loss = d_a + d_b
            d_total = _average(d_loss)
        self._apply(self.d_optimizer, d_tape, d_total, self.discriminator_variables())
        return self._report(g_loss=g_loss, g_gan=g_gan, g_cycle=g_cycle, g_identity=g_identity, d_loss=d_loss)


class GauGANTask(_ConditionalTask):
    """GauGAN: SPADE generator, multiscale discriminator, hinge loss, GAN feature matching and VGG losses.

    Args:
        generator: Maps the segmentation map (one-hot labels + instance edges) to an image.
        discriminator: A multiscale discriminator on ``[segmentation, image]`` returning per-scale feature lists.
        gan_mode: ``"hinge"`` (default), ``"lsgan"`` or ``"vanilla"``.
        lambda_feat: Weight of GAN feature matching (0 disables it).
        perceptual: A callable ``(images, targets) -> per-example loss`` such as
            :class:`~tfgancomp.train.perceptual.VGGPerceptual`, or ``None`` to leave the VGG loss off.
        lambda_vgg: Weight of the perceptual loss.
    """

    loss_names = ("g_loss", "g_gan", "g_feat", "g_vgg", "d_loss")

    def __init__(
        self,
        generator,
        discriminator,
        gan_mode: str = "hinge",
        lambda_feat: float = 10.0,
        perceptual=None,
        lambda_vgg: float = 10.0,
        **kwargs,
    ):
        check_choice("gan_mode", gan_mode, GAN_MODES)
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.gan_mode, self.lambda_feat, self.lambda_vgg = gan_mode, float(lambda_feat), float(lambda_vgg)
        self.perceptual = perceptual

    def train_step(self, data):
        seg, real = data
        with tf.GradientTape() as g_tape:
            fake = self.generator(seg, training=True)
            pred_fake = self.discriminator(tf.concat([seg, fake], -1), training=True)
            pred_real = self.discriminator(tf.concat([seg, real], -1), training=True)
            g_gan = generator_loss(pred_fake, self.gan_mode)
            zero = tf.zeros_like(g_gan)
            g_feat = self.lambda_feat * feature_matching_loss(pred_real, pred_fake) if self.lambda_feat else zero
            g_vgg = self.lambda_vgg * self.perceptual(fake, real) if self.perceptual is not None else zero
            g_loss = g_gan + g_feat + g_vgg
            g_total = _average(g_loss)
        self._apply(self.g_optimizer, g_tape, g_total, self.generator_variables())
        with tf.GradientTape() as d_tape:
            d_fake = self.discriminator(tf.concat([seg, tf.stop_gradient(fake)], -1), training=True)
            d_real = self.discriminator(tf.concat([seg, real], -1), training=True)
            d_loss = discriminator_loss(d_real, d_fake, self.gan_mode)
            d_total = _average(d_loss)
        self._apply(self.d_optimizer, d_tape, d_total, self.discriminator_variables())
        return self._report(g_loss=g_loss, g_gan=g_gan, g_feat=g_feat, g_vgg=g_vgg, d_loss=d_loss)
