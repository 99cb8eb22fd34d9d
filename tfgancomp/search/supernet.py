"""Once-for-all supernet generators (weight sharing across channel configurations) and subnet extraction."""

from __future__ import annotations

import functools

import numpy as np

from tfgancomp.backend import keras, register, tf
from tfgancomp.layers.elastic import (
    ElasticBatchNorm,
    ElasticConv2D,
    ElasticConv2DTranspose,
    ElasticDepthwiseConv2D,
    instance_norm,
)
from tfgancomp.layers.resize import NearestDownsample, resize_nearest
from tfgancomp.layers.separable import SEPARABLE_NORMS
from tfgancomp.layers.spade import PARAM_FREE_NORMS
from tfgancomp.models import SubMobileResNetGenerator, SubMobileSPADEGenerator
from tfgancomp.models.config import LAYOUT_LENGTH, format_config, parse_config, split_layout
from tfgancomp.models.resnet import group_depths
from tfgancomp.models.spade import SPADE_BLOCKS, UPSAMPLING_LAYERS, upsamples_before
from tfgancomp.validation import check_choice, check_positive_int


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

    With ``dense=True`` every residual block also holds the weights of a dense block (two full 3×3 convolutions)
    and the supernet takes 14-int configurations with a block layout (:mod:`tfgancomp.models.config`): per
    residual group, separable or dense blocks and how many of the group's first blocks run (the others are skipped
    — identity, as in once-for-all elastic depth). 8-int configurations mean separable blocks, every group whole.

    Args:
        ngf: Largest width of every configuration entry (64 for ``channels-64-*`` spaces).
        input_nc: Input channels.
        output_nc: Output channels.
        n_blocks: Residual blocks (three groups of ``n//3, n//3, rest``).
        dense: Whether blocks may also be dense (layout spaces such as ``blocks-64-pix2pix``).
        name: Model name.
        **kwargs: Passed to ``keras.Model``.
    """

    family = "resnet"

    def __init__(self, ngf: int = 64, input_nc: int = 3, output_nc: int = 3, n_blocks: int = 9, dense: bool = False,
                 name: str = "super_mobile_resnet_generator", **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        self.dense = bool(dense)
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
                if self.dense:
                    convs[f"conv{j}_dense"] = ElasticConv2D(4 * g, 4 * g, 3, name=f"block{i}_conv{j}_dense")
            self.blocks.append(convs)
        self.up1_conv = ElasticConv2DTranspose(4 * g, 2 * g, 3, 2, name="up1_conv")
        self.up2_conv = ElasticConv2DTranspose(2 * g, g, 3, 2, name="up2_conv")
        self.head_conv = ElasticConv2D(g, output_nc, 7, name="head_conv")
        for layer in self._elastic_layers():  # weights exist from construction (optimizers, checkpoints need them)
            layer.build(None)
        n1 = n_blocks // 3
        self._group = [0] * n1 + [1] * n1 + [2] * (n_blocks - 2 * n1)
        self._index_in_group = [i - (0, n1, 2 * n1)[g] for i, g in enumerate(self._group, start=1)]
        self._taps = [b for b in (n1, 2 * n1, n_blocks) if b > 0]

    def tap_names(self) -> list[str]:
        """What ``call(..., return_taps=True)`` returns after the output, by the plain generator's layer suffixes."""
        return ["down2_act"] + [f"block{b}_out" for b in self._taps]

    def tap_channels(self) -> list[int]:
        """The largest width of each tap."""
        return [4 * self.ngf] * len(self.tap_names())

    def batch_norms(self) -> list:
        """No batch norms: the mobile ResNet normalizes per instance."""
        return []

    def calibrate(self, batches, config) -> None:
        """Nothing to recalibrate (instance norms only); here for a common supernet interface."""

    def _elastic_layers(self):
        fixed = [self.stem_conv, self.down1_conv, self.down2_conv, self.up1_conv, self.up2_conv, self.head_conv]
        return fixed + [layer for convs in self.blocks for layer in convs.values()]

    def largest(self) -> tuple[int, ...]:
        """The widest configuration."""
        return (self.ngf,) * 8

    def check_config(self, config) -> tuple[int, ...]:
        """Widths (and block layout) of a configuration string or sequence, each width at most ``ngf``."""
        widths = parse_config(config, "resnet")
        if len(widths) not in (8, LAYOUT_LENGTH):
            raise ValueError(f"the supernet takes 8-entry configurations (or 14 with a block layout), got {config!r}")
        if max(widths[:8]) > self.ngf:
            raise ValueError(f"configuration {format_config(widths)!r} exceeds the supernet's width {self.ngf}")
        if len(widths) == LAYOUT_LENGTH:
            if any(widths[8:11]) and not self.dense:
                raise ValueError(f"configuration {format_config(widths)!r} has dense blocks; this supernet holds "
                                 "separable ones only (train it over a layout space, dense=True)")  # fmt: skip
            group_depths(self.n_blocks, widths[11:], format_config(widths))
        return widths

    def _block(self, convs, x, inner, trunk, dense):
        """A residual block's branch: separable (or, with ``dense`` true, dense) convolutions."""

        def branch(kind):
            y = x
            for j, width in ((1, inner), (2, trunk)):
                if kind == "dense":
                    y = convs[f"conv{j}_dense"](_reflect(y, 1), width)
                else:
                    y = convs[f"conv{j}_depthwise"](_reflect(y, 1))
                    y = convs[f"conv{j}_pointwise"](instance_norm(y), width)
                y = instance_norm(y)
                if j == 1:
                    y = tf.nn.relu(y)
            return y

        if dense is None:
            return branch("separable")
        return tf.cond(dense, lambda: branch("dense"), lambda: branch("separable"))

    def call(self, inputs, config=None, return_taps: bool = False, training=None):
        if config is None:
            config = self.largest()
        if not tf.is_tensor(config):
            config = tf.constant(self.check_config(config), tf.int32)
        c0, c1, c2, r1, r2, r3, u1, u2 = (config[i] for i in range(8))
        layout = config.shape[0] == LAYOUT_LENGTH
        trunk = 4 * c2
        inner = (4 * r1, 4 * r2, 4 * r3)
        x = tf.nn.relu(instance_norm(self.stem_conv(_reflect(inputs, 3), c0)))
        x = tf.nn.relu(instance_norm(self.down1_conv(_zero(x, 1), 2 * c1)))
        x = tf.nn.relu(instance_norm(self.down2_conv(_zero(x, 1), trunk)))
        taps = [x]
        for i, convs in enumerate(self.blocks, start=1):
            group = self._group[i - 1]
            if not layout:
                x = x + self._block(convs, x, inner[group], trunk, None)
            else:  # the group's first `count` blocks run (0: all), the others are the identity
                count = config[11 + group]
                active = tf.logical_or(count == 0, self._index_in_group[i - 1] <= count)
                dense = tf.equal(config[8 + group], 1) if self.dense else None
                x = tf.cond(active, lambda x=x, c=convs, g=group, d=dense: x + self._block(c, x, inner[g], trunk, d),
                            lambda x=x: x)  # fmt: skip
            if i in self._taps:
                taps.append(x)
        x = tf.nn.relu(instance_norm(self.up1_conv(x, 2 * u1)))
        x = tf.nn.relu(instance_norm(self.up2_conv(x, u2)))
        out = tf.tanh(self.head_conv(_reflect(x, 3), self.output_nc))
        return (out, taps) if return_taps else out

    def get_config(self):
        return {"name": self.name, "ngf": self.ngf, "input_nc": self.input_nc, "output_nc": self.output_nc,
                "n_blocks": self.n_blocks, "dense": self.dense}  # fmt: skip

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


@register
class SuperMobileSPADEGenerator(keras.Model):
    """The mobile GauGAN generator as a once-for-all supernet over SPADE channel configurations.

    Configurations ``c0_..._c7`` (entries up to ``ngf``) follow :class:`~tfgancomp.models.SubMobileSPADEGenerator`:
    ``c0`` sets the trunk ``16·c0``; ``c1..c7`` the inner width of head_0, G_middle_0, G_middle_1 (``16·c``),
    up_0 (``8·c``), up_1 (``4·c``), up_2 (``2·c``), up_3 (``c``) and each block's SPADE hidden width ``2·c``. Every
    layer uses the first channels of its widest kernel; the parameter-free batch norms (``param_free_norm="batch"``)
    use and update the first entries of their moving statistics, which :meth:`calibrate` recomputes for one
    configuration before it is scored or extracted. ``call(inputs, config)`` takes the configuration as 8 ints or
    an int32 ``(8,)`` tensor (one ``tf.function`` trace for all); ``return_taps=True`` adds the outputs of head_0,
    G_middle_1 and up_1.

    Args:
        ngf: Largest width of every configuration entry (64 for ``channels-64``).
        label_nc: Number of label classes.
        instance: Whether an instance-edge channel follows the one-hot labels.
        output_nc: Output channels.
        param_free_norm: ``"batch"`` or ``"instance"``.
        separable_norm: Normalization inside the separable γ/β blocks (``"instance"`` or ``"none"``).
        num_upsampling_layers: ``"normal"`` or ``"more"``.
        name: Model name.
        **kwargs: Passed to ``keras.Model``.
    """

    family = "spade"

    def __init__(self, ngf: int = 64, label_nc: int = 35, instance: bool = True, output_nc: int = 3,
                 param_free_norm: str = "batch", separable_norm: str = "instance",
                 num_upsampling_layers: str = "normal", name: str = "super_mobile_spade_generator",
                 **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        cls = type(self).__name__
        self.ngf = check_positive_int(f"{cls} ngf", ngf)
        self.label_nc = check_positive_int(f"{cls} label_nc", label_nc)
        self.output_nc = check_positive_int(f"{cls} output_nc", output_nc)
        self.instance = bool(instance)
        check_choice(f"{cls} param_free_norm", param_free_norm, PARAM_FREE_NORMS)
        check_choice(f"{cls} separable_norm", separable_norm, SEPARABLE_NORMS)
        check_choice(f"{cls} num_upsampling_layers", num_upsampling_layers, tuple(UPSAMPLING_LAYERS))
        self.param_free_norm, self.separable_norm = param_free_norm, separable_norm
        self.num_upsampling_layers = num_upsampling_layers
        self.input_nc = label_nc + (1 if self.instance else 0)
        self.stride = 2 ** UPSAMPLING_LAYERS[num_upsampling_layers]
        g, sem = self.ngf, self.input_nc
        self.seg_down = NearestDownsample(self.stride, name="seg_down")
        self.fc = ElasticConv2D(sem, 16 * g, 3, padding="same", name="fc")
        self.blocks = {}
        for block, fin, fout in SPADE_BLOCKS:
            layers = {}
            norms = [("norm_0", fin * g), ("norm_1", fout * g)] + ([("norm_s", fin * g)] if fin != fout else [])
            for norm, width in norms:
                layers[norm] = self._spade_layers(f"{block}_{norm}", width)
            layers["conv_0"] = ElasticConv2D(fin * g, fout * g, 3, padding="same", name=f"{block}_conv_0")
            layers["conv_1"] = ElasticConv2D(fout * g, fout * g, 3, padding="same", name=f"{block}_conv_1")
            if fin != fout:
                layers["conv_s"] = ElasticConv2D(fin * g, fout * g, 1, use_bias=False, name=f"{block}_conv_s")
            self.blocks[block] = layers
        self.conv_img = ElasticConv2D(g, output_nc, 3, padding="same", name="conv_img")
        for layer in self._weighted_layers():
            layer.build(None)

    def _spade_layers(self, prefix: str, norm_nc: int) -> dict:
        hidden = 2 * self.ngf
        layers = {"mlp_shared": ElasticConv2D(self.input_nc, hidden, 3, padding="same", name=f"{prefix}_mlp_shared")}
        if self.param_free_norm == "batch":
            layers["param_free_norm"] = ElasticBatchNorm(norm_nc, name=f"{prefix}_param_free_norm")
        for which in ("mlp_gamma", "mlp_beta"):
            layers[f"{which}_depthwise"] = ElasticDepthwiseConv2D(hidden, hidden, 3, padding="same",
                                                                  name=f"{prefix}_{which}_dw")  # fmt: skip
            layers[f"{which}_pointwise"] = ElasticConv2D(hidden, norm_nc, 1, name=f"{prefix}_{which}_pw")
        return layers

    def _weighted_layers(self):
        out = [self.fc, self.conv_img]
        for layers in self.blocks.values():
            for value in layers.values():
                out.extend(value.values() if isinstance(value, dict) else [value])
        return out

    def batch_norms(self) -> list:
        """The parameter-free batch norms (empty with ``param_free_norm="instance"``)."""
        return [layer for layer in self._weighted_layers() if isinstance(layer, ElasticBatchNorm)]

    def tap_names(self) -> list[str]:
        """What ``call(..., return_taps=True)`` returns after the output, by the plain generator's layer suffixes."""
        return [f"{block}_out" for block in ("head_0", "G_middle_1", "up_1")]

    def tap_channels(self) -> list[int]:
        """The largest width of each tap."""
        return [16 * self.ngf, 16 * self.ngf, 4 * self.ngf]

    def largest(self) -> tuple[int, ...]:
        """The widest configuration."""
        return (self.ngf,) * 8

    def check_config(self, config) -> tuple[int, ...]:
        """Widths of a configuration string or sequence, each at most ``ngf``."""
        widths = parse_config(config, "spade")
        if max(widths) > self.ngf:
            raise ValueError(f"configuration {format_config(widths)!r} exceeds the supernet's width {self.ngf}")
        return widths

    def _spade(self, layers, x, seg, hidden, training, momentum):
        c = tf.shape(x)[-1]
        if "param_free_norm" in layers:
            normalized = layers["param_free_norm"](x, training=training, momentum=momentum)
        else:
            normalized = instance_norm(x)
        actv = tf.nn.relu(layers["mlp_shared"](seg, hidden))
        modulation = []
        for which in ("mlp_gamma", "mlp_beta"):
            y = layers[f"{which}_depthwise"](actv)
            if self.separable_norm == "instance":
                y = instance_norm(y)
            modulation.append(layers[f"{which}_pointwise"](y, c))
        gamma, beta = modulation
        return normalized * (1.0 + gamma) + beta

    def call(self, inputs, config=None, return_taps: bool = False, training=None, bn_momentum=None):
        if config is None:
            config = self.largest()
        if not tf.is_tensor(config):
            config = tf.constant(self.check_config(config), tf.int32)
        seg = inputs
        x = self.fc(self.seg_down(seg), 16 * config[0])
        taps = []
        for k, (block, fin, fout) in enumerate(SPADE_BLOCKS, start=1):
            if upsamples_before(block, self.num_upsampling_layers):
                x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)
            layers, ch = self.blocks[block], config[k]
            size = list(x.shape[1:3]) if x.shape[1] is not None and x.shape[2] is not None else tf.shape(x)[1:3]
            seg_x = resize_nearest(seg, size)
            middle = fout * ch
            out = middle if fin != fout else tf.shape(x)[-1]
            spade = functools.partial(self._spade, seg=seg_x, hidden=2 * ch, training=training, momentum=bn_momentum)
            if fin != fout:
                xs = layers["conv_s"](spade(layers["norm_s"], x), out)
            else:
                xs = x
            dx = layers["conv_0"](tf.nn.leaky_relu(spade(layers["norm_0"], x), 0.2), middle)
            dx = layers["conv_1"](tf.nn.leaky_relu(spade(layers["norm_1"], dx), 0.2), out)
            x = xs + dx
            if block in ("head_0", "G_middle_1", "up_1"):
                taps.append(x)
        x = tf.nn.leaky_relu(x, 0.2)
        out = tf.tanh(self.conv_img(x, self.output_nc))
        return (out, taps) if return_taps else out

    def calibrate(self, batches, config) -> None:
        """Recompute the batch-norm moving statistics of ``config`` as the average over ``batches`` of inputs.

        What GAN Compression does before scoring or extracting a configuration of a batch-norm supernet: training
        mixes the statistics of every sampled width. A no-op with ``param_free_norm="instance"``.
        """
        if not self.batch_norms():
            return
        if not hasattr(self, "_calibration_step"):
            self._calibration_step = tf.function(
                lambda x, c, m: self(x, c, training=True, bn_momentum=m), reduce_retracing=True
            )
        config = tf.constant(self.check_config(config), tf.int32) if not tf.is_tensor(config) else config
        for k, x in enumerate(batches):
            self._calibration_step(tf.convert_to_tensor(x, tf.float32), config, tf.constant(k / (k + 1), tf.float32))

    def get_config(self):
        return {"name": self.name, "ngf": self.ngf, "label_nc": self.label_nc, "instance": self.instance,
                "output_nc": self.output_nc, "param_free_norm": self.param_free_norm,
                "separable_norm": self.separable_norm,
                "num_upsampling_layers": self.num_upsampling_layers}  # fmt: skip

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _slice(weight, shape) -> np.ndarray:
    return np.array(weight[tuple(slice(0, n) for n in shape)])


def _copy(source, target) -> None:
    target.set_weights([_slice(w, t.shape) for w, t in zip(source.get_weights(), target.weights, strict=True)])


def extract_subnet(supernet, config, height: int | None = None, width: int | None = None, name: str = "generator"):
    """A plain sub-mobile generator of ``config`` with the supernet's sliced weights.

    :class:`SuperMobileResNetGenerator` gives a :class:`~tfgancomp.models.SubMobileResNetGenerator`,
    :class:`SuperMobileSPADEGenerator` a :class:`~tfgancomp.models.SubMobileSPADEGenerator` (its batch-norm
    statistics are the supernet's current ones: :meth:`SuperMobileSPADEGenerator.calibrate` first). The result has
    no supernet code in it: it saves, loads, profiles and exports like any zoo model, and its output equals
    ``supernet(x, config)`` in inference mode.

    Args:
        supernet: A supernet generator.
        config: The configuration (string, 8 ints or 14 with a block layout), widths at most the supernet's ``ngf``.
        height: Fixed input height of the subnet (``None``: dynamic).
        width: Fixed input width (``None``: dynamic).
        name: Name of the subnet (its layer-name prefix).
    """
    if isinstance(supernet, SuperMobileSPADEGenerator):
        return _extract_spade(supernet, config, height, width, name)
    if not isinstance(supernet, SuperMobileResNetGenerator):
        raise ValueError(f"extract_subnet takes a supernet generator, got {type(supernet).__name__}")
    widths = supernet.check_config(config)
    if not supernet.built:
        supernet(tf.zeros([1, 4 * 4, 4 * 4, supernet.input_nc]))
    sub = SubMobileResNetGenerator(format_config(widths), supernet.input_nc, supernet.output_nc,
                                   supernet.n_blocks, height=height, width=width, name=name)  # fmt: skip
    for key in ("stem_conv", "down1_conv", "down2_conv", "up1_conv", "up2_conv", "head_conv"):
        _copy(getattr(supernet, key), sub.get_layer(f"{name}_{key}"))
    _, kinds, _ = split_layout(widths)
    i = 0  # the subnet numbers its blocks 1.. across groups; each group keeps the supernet group's first blocks
    for group, count in enumerate(sub.block_groups()):
        if count == 0:
            continue
        first = supernet._group.index(group)
        for convs in supernet.blocks[first : first + count]:
            i += 1
            for j in (1, 2):
                target = sub.get_layer(f"{name}_block{i}_conv{j}")
                if kinds[group] == 1:
                    _copy(convs[f"conv{j}_dense"], target)
                else:
                    _copy(convs[f"conv{j}_depthwise"], target.depthwise)
                    _copy(convs[f"conv{j}_pointwise"], target.pointwise)
    return sub


def _extract_spade(supernet: SuperMobileSPADEGenerator, config, height, width, name):
    widths = supernet.check_config(config)
    sub = SubMobileSPADEGenerator(format_config(widths), supernet.label_nc, supernet.instance, supernet.output_nc,
                                  supernet.param_free_norm, supernet.separable_norm, supernet.num_upsampling_layers,
                                  height=height, width=width, name=name)  # fmt: skip
    _copy(supernet.fc, sub.get_layer(f"{name}_fc"))
    _copy(supernet.conv_img, sub.get_layer(f"{name}_conv_img"))
    for block, layers in supernet.blocks.items():
        for key, value in layers.items():
            target = sub.get_layer(f"{name}_{block}_{key}")
            if not isinstance(value, dict):
                _copy(value, target)
                continue
            _copy(value["mlp_shared"], target.mlp_shared)
            if "param_free_norm" in value:
                _copy(value["param_free_norm"], target.norm)
            for which in ("mlp_gamma", "mlp_beta"):
                _copy(value[f"{which}_depthwise"], getattr(target, which).depthwise)
                _copy(value[f"{which}_pointwise"], getattr(target, which).pointwise)
    return sub
