"""The Distiller: GAN Compression's distillation objective as a ``keras.Model`` with a custom ``train_step``."""

from __future__ import annotations

from tfgancomp.backend import tf
from tfgancomp.distill.defaults import DISTILL_MODES, DISTILL_NORMS
from tfgancomp.distill.taps import build_mappings, default_taps, tap_channels, tap_model
from tfgancomp.train.losses import (
    GAN_MODES,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    l1,
    per_example_mean,
)
from tfgancomp.train.tasks import _GANTask
from tfgancomp.validation import check_choice

#: Added to a teacher tap's mean square before dividing by it (``distill_norm="teacher"``): keeps an all-zero tap
#: (a dead ReLU map) finite; far below the mean square of any live activation map.
NORM_EPSILON = 1e-6


def distill_loss(student_features, teacher_features, mappings, norm: str = "none"):
    """Per-example ``Σ_i MSE(map_i(s_i), t_i)`` (mean over each tap's elements, summed over taps).

    With ``norm="teacher"`` each tap's MSE is divided by the teacher tap's mean square for that example
    (``+ NORM_EPSILON``): a relative error, so that every tap weighs the same whatever the scale of its activations.
    """
    total = 0.0
    for s, t, mapping in zip(student_features, teacher_features, mappings, strict=True):
        t = tf.stop_gradient(t)
        error = per_example_mean(tf.square(mapping(s) - t))
        if norm == "teacher":
            error = error / (per_example_mean(tf.square(t)) + NORM_EPSILON)
        total += error
    return total


class Distiller(_GANTask):
    """Trains a narrow student generator on ``λ_gan·GAN + λ_recon·Recon + λ_distill·Σ_i MSE(map_i(s_i), t_i)``.

    The teacher is frozen: it runs in inference mode, its outputs are not differentiated and none of its variables
    is given to an optimizer (nor saved in the run's checkpoints). The student and the 1×1 mappings ``map_i``
    (student width → teacher width, one per tap) are updated by ``g_optimizer``, the discriminator by
    ``d_optimizer``; each step updates the discriminator first, then the student against it.

    Modes:
        ``"paired"``: Recon = L1 to the ground truth; the discriminator sees ``concat(input, image)``.
        ``"unpaired"``: Recon = L1 to the teacher's output (pseudo pairs, CycleGAN); the discriminator sees the
        image alone (real images of domain B vs the student's outputs).

    ``distill_norm="teacher"`` divides each tap's MSE by the teacher tap's mean square (per example): GAN
    Compression's plain MSE lets the taps of the largest activations dominate (a SPADE teacher's made the GauGAN
    supernet's distillation term 3,545 against 13 for feature matching, means over its first epoch).

    A batch may also carry the teacher's output and taps, ``(inputs, targets, (output, *taps))`` as served by
    :class:`~tfgancomp.distill.cache.TeacherCache`: the step then runs no teacher forward pass.

    With a multiscale discriminator (GauGAN), ``lambda_feat`` adds GAN feature matching and ``perceptual`` a VGG
    loss against the ground truth, as in the teacher task.

    Args:
        student: The student generator (any model; its taps are read by layer name).
        teacher: The trained teacher generator (same input and output as the student).
        discriminator: The discriminator (e.g. initialised from the teacher's), or ``None`` when
            ``lambda_gan == lambda_feat == 0``.
        student_taps: Student layer names whose outputs are matched (default: the family's taps).
        teacher_taps: Teacher layer names, one per student tap (default: the family's taps).
        mode: ``"paired"`` or ``"unpaired"``.
        gan_mode: ``"lsgan"``, ``"vanilla"`` or ``"hinge"``.
        lambda_gan: Weight of the adversarial loss.
        lambda_recon: Weight of the L1 reconstruction loss.
        lambda_distill: Weight of the feature distillation loss.
        lambda_feat: Weight of GAN feature matching (multiscale discriminators).
        perceptual: Callable ``(images, targets) -> per-example loss`` (e.g. ``VGGPerceptual``) or ``None``.
        lambda_vgg: Weight of the perceptual loss.
        distill_norm: ``"none"`` (plain MSE per tap, GAN Compression's) or ``"teacher"`` (each tap's MSE relative
            to the teacher tap's mean square).
    """

    loss_names = ("g_loss", "g_gan", "g_recon", "g_distill", "g_feat", "g_vgg", "d_loss")

    def __init__(
        self,
        student,
        teacher,
        discriminator=None,
        student_taps=None,
        teacher_taps=None,
        mode: str = "paired",
        gan_mode: str = "vanilla",
        lambda_gan: float = 1.0,
        lambda_recon: float = 100.0,
        lambda_distill: float = 1.0,
        lambda_feat: float = 0.0,
        perceptual=None,
        lambda_vgg: float = 10.0,
        distill_norm: str = "none",
        **kwargs,
    ):
        check_choice("mode", mode, DISTILL_MODES)
        check_choice("distill_norm", distill_norm, DISTILL_NORMS)
        check_choice("gan_mode", gan_mode, GAN_MODES)
        weights = dict(lambda_gan=lambda_gan, lambda_recon=lambda_recon, lambda_distill=lambda_distill,
                       lambda_feat=lambda_feat, lambda_vgg=lambda_vgg)  # fmt: skip
        for what, value in weights.items():
            if not float(value) >= 0:
                raise ValueError(f"{what} must be >= 0, got {value!r}")
        if discriminator is None and (lambda_gan or lambda_feat):
            raise ValueError("lambda_gan and lambda_feat need a discriminator; pass one or set both weights to 0")
        super().__init__(**kwargs)
        self.student, self.discriminator = student, discriminator
        self.generator = student  # the generator of this task, as in the teacher tasks
        self.teacher_taps = list(teacher_taps) if teacher_taps is not None else default_taps(teacher)
        self._set_teacher(teacher, tap_model(teacher, self.teacher_taps, name="teacher_taps"))
        student_shapes = self._init_student(student, student_taps, teacher)
        if len(self.student_taps) != len(self.teacher_taps):
            raise ValueError(
                f"{len(self.student_taps)} student taps {self.student_taps} but {len(self.teacher_taps)} teacher "
                f"taps {self.teacher_taps}; name one teacher layer per student layer"
            )
        for s_tap, t_tap, s, t in zip(self.student_taps, self.teacher_taps, student_shapes,
                                      self.teacher_tapped.outputs[1:], strict=True):  # fmt: skip
            if tuple(s[1:3]) != tuple(t.shape[1:3]) and None not in (*s[1:3], *t.shape[1:3]):
                raise ValueError(f"tap {s_tap} {tuple(s)} and {t_tap} {t.shape} differ in spatial size")
        self.mappings = self._make_mappings([int(s[-1]) for s in student_shapes], tap_channels(self.teacher_tapped))
        self.mode, self.gan_mode = mode, gan_mode
        self.lambda_gan, self.lambda_recon = float(lambda_gan), float(lambda_recon)
        self.lambda_distill, self.lambda_feat = float(lambda_distill), float(lambda_feat)
        self.perceptual, self.lambda_vgg = perceptual, float(lambda_vgg)
        self.distill_norm = distill_norm

    #: Loss weights read when the train step is traced: changing one drops the traced step (see ``__setattr__``).
    LOSS_WEIGHTS = ("lambda_gan", "lambda_recon", "lambda_distill", "lambda_feat", "lambda_vgg")

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in self.LOSS_WEIGHTS and getattr(self, "train_function", None) is not None:
            self.train_function = None  # the next fit() traces the step again with the new weight

    def _init_student(self, student, student_taps, teacher) -> list:
        """Set up the student's taps; returns the shape of each tap. Overridden by supernet distillation."""
        if tuple(student.inputs[0].shape[-1:]) != tuple(teacher.inputs[0].shape[-1:]):
            raise ValueError(
                f"student input {student.inputs[0].shape} and teacher input {teacher.inputs[0].shape} differ in "
                "channels: they must read the same inputs"
            )
        self.student_taps = list(student_taps) if student_taps is not None else default_taps(student)
        self.student_tapped = tap_model(student, self.student_taps, name="student_taps")
        return [tuple(t.shape) for t in self.student_tapped.outputs[1:]]

    def _make_mappings(self, student_channels, teacher_channels):
        """The 1×1 convs from each student tap's width to the teacher's."""
        return build_mappings(student_channels, teacher_channels)

    def _student_forward(self, inputs, training):
        """The student's output and tap activations for a batch."""
        out, *features = self.student_tapped(inputs, training=training)
        return out, features

    @tf.__internal__.tracking.no_automatic_dependency_tracking
    def _set_teacher(self, teacher, tapped):
        # Not tracked: the frozen teacher is not part of this task's checkpoints or trainable variables.
        self.teacher, self.teacher_tapped = teacher, tapped

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def generator_variables(self):
        return self.student.trainable_variables + [v for m in self.mappings for v in m.trainable_variables]

    def discriminator_variables(self):
        return self.discriminator.trainable_variables if self.discriminator is not None else []

    def checkpoint_state(self) -> dict:
        """What a run checkpoints: student, mappings, discriminator, both optimizers (never the teacher)."""
        state = {"student": self.student, "mappings": self.mappings, "g_optimizer": self.g_optimizer,
                 "d_optimizer": self.d_optimizer}  # fmt: skip
        if self.discriminator is not None:
            state["discriminator"] = self.discriminator
        return state

    def _judge(self, inputs, images):
        x = tf.concat([inputs, images], -1) if self.mode == "paired" else images
        return self.discriminator(x, training=True)

    def train_step(self, data):
        inputs, targets, *cached = data
        if cached:  # a TeacherCache batch: the frozen teacher's output and taps for these inputs, computed once
            if len(cached) != 1 or not isinstance(cached[0], (tuple, list)):
                raise ValueError("a Distiller batch is (inputs, targets) or (inputs, targets, (teacher_output, "
                                 "*teacher_taps)) as a TeacherCache serves it; not sample weights")  # fmt: skip
            teacher_out, *teacher_features = cached[0]
        else:
            teacher_out, *teacher_features = self.teacher_tapped(inputs, training=False)
        teacher_out = tf.stop_gradient(teacher_out)
        recon_target = targets if self.mode == "paired" else teacher_out
        adversarial = self.discriminator is not None and (self.lambda_gan > 0 or self.lambda_feat > 0)
        with tf.GradientTape() as g_tape:
            student_out, student_features = self._student_forward(inputs, training=True)
            zero = tf.zeros(tf.shape(inputs)[:1])
            d_loss = zero
            if adversarial:
                with g_tape.stop_recording():
                    with tf.GradientTape() as d_tape:
                        d_real = self._judge(inputs, targets)
                        d_fake = self._judge(inputs, tf.stop_gradient(student_out))
                        d_loss = discriminator_loss(d_real, d_fake, self.gan_mode)
                        d_total = tf.nn.compute_average_loss(d_loss)
                    self._apply(self.d_optimizer, d_tape, d_total, self.discriminator_variables())
                pred_fake = self._judge(inputs, student_out)
                g_gan = self.lambda_gan * generator_loss(pred_fake, self.gan_mode) if self.lambda_gan else zero
                if self.lambda_feat:
                    pred_real = self._judge(inputs, targets)
                    g_feat = self.lambda_feat * feature_matching_loss(pred_real, pred_fake)
                else:
                    g_feat = zero
            else:
                g_gan = g_feat = zero
            g_recon = self.lambda_recon * l1(student_out, recon_target) if self.lambda_recon else zero
            g_distill = zero
            if self.lambda_distill:
                g_distill = self.lambda_distill * distill_loss(
                    student_features, teacher_features, self.mappings, self.distill_norm
                )
            g_vgg = zero
            if self.perceptual is not None and self.lambda_vgg:
                g_vgg = self.lambda_vgg * self.perceptual(student_out, targets)
            g_loss = g_gan + g_recon + g_distill + g_feat + g_vgg
            g_total = tf.nn.compute_average_loss(g_loss)
        self._apply(self.g_optimizer, g_tape, g_total, self.generator_variables())
        return self._report(g_loss=g_loss, g_gan=g_gan, g_recon=g_recon, g_distill=g_distill, g_feat=g_feat,
                            g_vgg=g_vgg, d_loss=d_loss)  # fmt: skip

    def feature_error(self, inputs):
        """Per-example unweighted ``Σ_i MSE(map_i(s_i), t_i)`` on ``inputs`` (inference mode, no update).

        Scaled as the training step scales it (``distill_norm``).
        """
        _, *teacher_features = self.teacher_tapped(inputs, training=False)
        _, student_features = self._student_forward(inputs, training=False)
        return distill_loss(student_features, teacher_features, self.mappings, self.distill_norm)
