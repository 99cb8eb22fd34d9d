"""Once-for-all supernet generators (weight sharing across channel configurations) and subnet extraction."""

from __future__ import annotations

import numpy as np

from tfgancomp.backend import keras, register, tf
from tfgancomp.layers.elastic import ElasticConv2D, ElasticConv2DTranspose, ElasticDepthwiseConv2D, instance_norm
from tfgancomp.models import SubMobileResNetGenerator
from tfgancomp.models.config import format_config, parse_config
from tfgancomp.validation import check_positive_int


def _reflect(x, p: int):
    return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")


def _zero(x, p: int):
    return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])


@register
class SuperMobileResNetGenerator(keras.Model):
    """The mobile ResNet generator as a once-for-all supernet over channel configurations.

    Every configuration ``c0_c1_c2_r1_r2_r3_u1_u2`` with entries up to ``ngf`` shares one set of weights (each layer
    uses the first channels of its widest kernel).
    ``call(inputs, config)`` takes the configuration as 8 ints or an int32 tensor of shape ``(8,)``, so one
    ``tf.function`` trace serves every configuration; ``config=None`` runs the largest. With ``return_taps=True``
    it also returns the distillation taps (after the 2nd downsampling and after the last block of each residual
    group). The layer names are the suffixes of :class:`~tfgancomp.models.SubMobileResNetGenerator`'s, which
    :func:`extract_subnet` relies on.

    Args:
        ngf: Largest width of every configuration entry (64 for ``channels-64-*`` spaces).
        input_nc: Input channels.
        output_nc: Output channels.
        n_blocks: Residual blocks (three groups of ``n//3, n//3, rest``).
        name: Model name.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(self, ngf: int = 64, input_nc: int = 3, output_nc: int = 3, n_blocks: int = 9,
                 name: str = "super_mobile_resnet_generator", **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.ngf = check_positive_int("SuperMobileResNetGenerator ngf", ngf)
        self.input_nc = check_positive_int("SuperMobileResNetGenerator input_nc", input_nc)
        self.output_nc = check_positive_int("SuperMobileResNetGenerator output_nc", output_nc)
        self.n_blocks = check_positive_int("SuperMobileResNetGenerator n_blocks", n_blocks)
        g = self.ngf
        self.stem_conv = ElasticConv2D(input_nc, g, 7, name="stem_conv")
        self.down1_conv = ElasticConv2D(g, 2 * g, 3, 2, name="down1_conv")
        self.down2_conv = ElasticConv2D(2 * g, 4 * g, 3, 2, name="down2_conv")
        self.blocks = []
        for i in range(1, n_blocks + 1):
            convs = {}
            for j in (1, 2):
                convs[f"conv{j}_depthwise"] = ElasticDepthwiseConv2D(4 * g, 4 * g, 3, name=f"block{i}_conv{j}_dw")
                convs[f"conv{j}_pointwise"] = ElasticConv2D(4 * g, 4 * g, 1, name=f"block{i}_conv{j}_pw")
            self.blocks.append(convs)
        self.up1_conv = ElasticConv2DTranspose(4 * g, 2 * g, 3, 2, name="up1_conv")
        self.up2_conv = ElasticConv2DTranspose(2 * g, g, 3, 2, name="up2_conv")
        self.head_conv = ElasticConv2D(g, output_nc, 7, name="head_conv")
        for layer in self._elastic_layers():  # weights exist from construction (optimizers, checkpoints need them)
            layer.build(None)
        n1 = n_blocks // 3
        self._group = [0] * n1 + [1] * n1 + [2] * (n_blocks - 2 * n1)
        self._taps = [b for b in (n1, 2 * n1, n_blocks) if b > 0]

    def tap_names(self) -> list[str]:
        """What ``call(..., return_taps=True)`` returns after the output, by the plain generator's layer suffixes."""
        return ["down2_act"] + [f"block{b}_out" for b in self._taps]

    def _elastic_layers(self):
        fixed = [self.stem_conv, self.down1_conv, self.down2_conv, self.up1_conv, self.up2_conv, self.head_conv]
        return fixed + [layer for convs in self.blocks for layer in convs.values()]

    def largest(self) -> tuple[int, ...]:
        """The widest configuration."""
        return (self.ngf,) * 8

    def check_config(self, config) -> tuple[int, ...]:
        """Widths of a configuration string or sequence, each at most ``ngf``."""
        widths = parse_config(config, "resnet")
        if len(widths) != 8:
            raise ValueError(f"the supernet takes 8-entry configurations, got {config!r}")
        if max(widths) > self.ngf:
            raise ValueError(f"configuration {format_config(widths)!r} exceeds the supernet's width {self.ngf}")
        return widths

    def call(self, inputs, config=None, return_taps: bool = False, training=None):
        if config is None:
            config = self.largest()
        if not tf.is_tensor(config):
            config = tf.constant(self.check_config(config), tf.int32)
        c0, c1, c2, r1, r2, r3, u1, u2 = (config[i] for i in range(8))
        trunk = 4 * c2
        inner = (4 * r1, 4 * r2, 4 * r3)
        x = tf.nn.relu(instance_norm(self.stem_conv(_reflect(inputs, 3), c0)))
        x = tf.nn.relu(instance_norm(self.down1_conv(_zero(x, 1), 2 * c1)))
        x = tf.nn.relu(instance_norm(self.down2_conv(_zero(x, 1), trunk)))
        taps = [x]
        for i, convs in enumerate(self.blocks, start=1):
            y = x
            for j, width in ((1, inner[self._group[i - 1]]), (2, trunk)):
                y = convs[f"conv{j}_depthwise"](_reflect(y, 1))
                y = convs[f"conv{j}_pointwise"](instance_norm(y), width)
                y = instance_norm(y)
                if j == 1:
                    y = tf.nn.relu(y)
            x = x + y
            if i in self._taps:
                taps.append(x)
        x = tf.nn.relu(instance_norm(self.up1_conv(x, 2 * u1)))
        x = tf.nn.relu(instance_norm(self.up2_conv(x, u2)))
        out = tf.tanh(self.head_conv(_reflect(x, 3), self.output_nc))
        return (out, taps) if return_taps else out

    def get_config(self):
        return {"name": self.name, "ngf": self.ngf, "input_nc": self.input_nc, "output_nc": self.output_nc,
                "n_blocks": self.n_blocks}  # fmt: skip

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _slice(weight, shape) -> np.ndarray:
    return np.array(weight[tuple(slice(0, n) for n in shape)])


def extract_subnet(supernet: SuperMobileResNetGenerator, config, height: int | None = None,
                   width: int | None = None, name: str = "generator"):  # fmt: skip
    """A plain :class:`~tfgancomp.models.SubMobileResNetGenerator` of ``config`` with the supernet's sliced weights.

    The result has no supernet code in it: it saves, loads, profiles and exports like any zoo model, and its
    output equals ``supernet(x, config)``.

    Args:
        supernet: A built :class:`SuperMobileResNetGenerator`.
        config: The configuration (string or 8 ints), each entry at most the supernet's ``ngf``.
        height: Fixed input height of the subnet (``None``: dynamic).
        width: Fixed input width (``None``: dynamic).
        name: Name of the subnet (its layer-name prefix).
    """
    widths = supernet.check_config(config)
    if not supernet.built:
        supernet(tf.zeros([1, 4 * 4, 4 * 4, supernet.input_nc]))
    sub = SubMobileResNetGenerator(format_config(widths), supernet.input_nc, supernet.output_nc,
                                   supernet.n_blocks, height=height, width=width, name=name)  # fmt: skip

    def copy(source, target):
        target.set_weights([_slice(w, t.shape) for w, t in zip(source.get_weights(), target.weights, strict=True)])

    for key in ("stem_conv", "down1_conv", "down2_conv", "up1_conv", "up2_conv", "head_conv"):
        copy(getattr(supernet, key), sub.get_layer(f"{name}_{key}"))
    for i, convs in enumerate(supernet.blocks, start=1):
        for j in (1, 2):
            separable = sub.get_layer(f"{name}_block{i}_conv{j}")
            copy(convs[f"conv{j}_depthwise"], separable.depthwise)
            copy(convs[f"conv{j}_pointwise"], separable.pointwise)
    return sub
