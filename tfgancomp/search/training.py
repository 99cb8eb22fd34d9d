"""Supernet training: the Distiller objective with one channel configuration sampled per step."""

from __future__ import annotations

from tfgancomp.backend import tf
from tfgancomp.distill.distiller import Distiller
from tfgancomp.layers.elastic import ElasticConv2D
from tfgancomp.search.space import SearchSpace

SAMPLING = ("uniform", "sandwich")


class SupernetDistiller(Distiller):
    """Distils a teacher into a ResNet or SPADE supernet (:mod:`tfgancomp.search.supernet`).

    Each training step draws one configuration of ``space`` (from a stateless random stream keyed by the step, so
    every replica of a distributed step trains the same subnet and a resumed run draws the same sequence) and
    applies the :class:`~tfgancomp.distill.Distiller` objective to that subnet. The 1×1 mappings are elastic: they
    read the first channels of their kernel for whatever width the sampled configuration gives each tap. The
    configuration is a tensor, so one trace of the train step serves all of them.

    Args:
        supernet: The supernet student.
        teacher: The frozen teacher generator.
        discriminator: The discriminator (or ``None`` when ``lambda_gan == lambda_feat == 0``).
        space: The configurations to sample (entries at most the supernet's ``ngf``).
        teacher_taps: Teacher layer names, one per supernet tap (default: the family's taps).
        sampling: ``"uniform"`` (a random configuration per step) or ``"sandwich"`` (steps cycle through the
            largest, the smallest and a random configuration).
        seed: Seed of the configuration stream.
        **kwargs: The Distiller's mode, GAN loss and weights.
    """

    def __init__(self, supernet, teacher, discriminator=None, space: SearchSpace | None = None, teacher_taps=None,
                 sampling: str = "uniform", seed: int = 0, **kwargs):  # fmt: skip
        if space is None:
            raise ValueError("SupernetDistiller needs the search space to sample (space=...)")
        if space.family != supernet.family:
            raise ValueError(f"space {space.name!r} is of the {space.family} family, the supernet of the "
                             f"{supernet.family} family")  # fmt: skip
        if space.ngf > supernet.ngf:
            raise ValueError(f"space {space.name!r} has widths up to {space.ngf}, over the supernet's "
                             f"{supernet.ngf}")  # fmt: skip
        if space.family == "resnet" and space.has_layout:
            supernet.check_config(space.largest())  # dense blocks and block counts the supernet can run
        if sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
        super().__init__(supernet, teacher, discriminator, None, teacher_taps, **kwargs)
        self.space, self.sampling, self.seed = space, sampling, int(seed)
        longest = max(len(c) for c in space.choices)
        self._table = tf.constant([list(c) + [c[0]] * (longest - len(c)) for c in space.choices], tf.int32)
        self._lengths = tf.constant([len(c) for c in space.choices], tf.int32)
        self._largest = tf.constant(space.largest(), tf.int32)
        self._smallest = tf.constant(space.smallest(), tf.int32)

    def _init_student(self, student, student_taps, teacher) -> list:
        if student.input_nc != teacher.inputs[0].shape[-1]:
            raise ValueError(f"supernet input_nc {student.input_nc} differs from the teacher's input "
                             f"{teacher.inputs[0].shape}")  # fmt: skip
        self.student_taps = student.tap_names()
        return [(None, None, None, c) for c in student.tap_channels()]

    def _make_mappings(self, student_channels, teacher_channels):
        mappings = []
        for i, (s, t) in enumerate(zip(student_channels, teacher_channels, strict=True)):
            layer = ElasticConv2D(s, t, 1, name=f"map_{i}")
            layer.build((None, None, None, s))
            mappings.append(layer)
        return mappings

    def sample_config(self, step):
        """The configuration of training step ``step`` (an int32 tensor of 8 widths, or 14 with a block layout)."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        u = tf.random.stateless_uniform([len(self.space.choices)], seed=seed)
        index = tf.minimum(tf.cast(u * tf.cast(self._lengths, tf.float32), tf.int32), self._lengths - 1)
        config = tf.gather(self._table, index, batch_dims=1)
        if self.sampling == "sandwich":
            phase = tf.math.floormod(tf.cast(step, tf.int32), 3)
            config = tf.where(phase == 0, self._largest, tf.where(phase == 1, self._smallest, config))
        return config

    def _student_forward(self, inputs, training):
        config = self.sample_config(self.g_optimizer.iterations) if training else self._largest
        return self.student(inputs, config, return_taps=True, training=training)
