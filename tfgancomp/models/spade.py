"""GauGAN's SPADE generator and GAN Compression's mobile and sub-mobile variants."""

from __future__ import annotations

import functools

from tfgancomp.backend import keras, register
from tfgancomp.layers import SPADE, MobileSPADE, NearestDownsample
from tfgancomp.layers.separable import SEPARABLE_NORMS
from tfgancomp.layers.spade import PARAM_FREE_NORMS
from tfgancomp.models.base import ZooModel, check_size
from tfgancomp.models.config import format_config, parse_config
from tfgancomp.validation import check_choice, check_positive_int

#: Upsampling modes of the reference: 'normal' upsamples 5 times, 'more' adds one between the middle blocks.
UPSAMPLING_LAYERS = {"normal": 5, "more": 6}

#: The residual blocks in order: (name, input width, output width) in units of ngf.
SPADE_BLOCKS = (
    ("head_0", 16, 16),
    ("G_middle_0", 16, 16),
    ("G_middle_1", 16, 16),
    ("up_0", 16, 8),
    ("up_1", 8, 4),
    ("up_2", 4, 2),
    ("up_3", 2, 1),
)


def upsamples_before(block: str, num_upsampling_layers: str) -> bool:
    """Whether the reference generator doubles the resolution (nearest) right before ``block``."""
    return block in ("G_middle_0", "up_0", "up_1", "up_2", "up_3") or (
        block == "G_middle_1" and num_upsampling_layers == "more"
    )


def _spade_block(x, seg, prefix: str, middle: int, out: int, learned_shortcut: bool, make_norm):
    """SPADE residual block: shortcut (SPADE → 1×1 conv when widths change) + two SPADE → LReLU → 3×3 conv."""
    if learned_shortcut:
        xs = make_norm(f"{prefix}_norm_s")([x, seg])
        xs = keras.layers.Conv2D(out, 1, use_bias=False, name=f"{prefix}_conv_s")(xs)
    else:
        xs = x
    dx = x
    for i, width in ((0, middle), (1, out)):
        dx = make_norm(f"{prefix}_norm_{i}")([dx, seg])
        dx = keras.layers.LeakyReLU(0.2, name=f"{prefix}_act_{i}")(dx)
        dx = keras.layers.Conv2D(width, 3, padding="same", name=f"{prefix}_conv_{i}")(dx)
    return keras.layers.Add(name=f"{prefix}_out")([xs, dx])


class _SPADEFamily(ZooModel):
    family = "spade"

    def _build(self, name, stage_widths, make_norm, label_nc, instance, output_nc, num_up, h, w, kwargs):
        """``stage_widths``: fc width, then per block (middle, out) widths, in ``SPADE_BLOCKS`` order.

        ``make_norm(block, layer_name)`` creates the SPADE layer of one block.
        """
        cls = type(self).__name__
        check_positive_int(f"{cls} label_nc", label_nc)
        check_positive_int(f"{cls} output_nc", output_nc)
        check_choice(f"{cls} num_upsampling_layers", num_up, tuple(UPSAMPLING_LAYERS))
        self.stride = 2 ** UPSAMPLING_LAYERS[num_up]
        check_size(f"{cls} height", h, self.stride)
        check_size(f"{cls} width", w, self.stride)
        semantic_nc = label_nc + (1 if instance else 0)
        seg = keras.Input(shape=(h, w, semantic_nc), name=f"{name}_input")
        x = NearestDownsample(self.stride, name=f"{name}_seg_down")(seg)
        x = keras.layers.Conv2D(stage_widths[0], 3, padding="same", name=f"{name}_fc")(x)
        ups = 0
        for (block, fin, fout), (middle, out) in zip(SPADE_BLOCKS, stage_widths[1:], strict=True):
            if upsamples_before(block, num_up):
                ups += 1
                x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_upsample{ups}")(x)
            block_norm = functools.partial(make_norm, block)
            x = _spade_block(x, seg, f"{name}_{block}", middle, out, fin != fout, block_norm)
        x = keras.layers.LeakyReLU(0.2, name=f"{name}_img_act")(x)
        x = keras.layers.Conv2D(output_nc, 3, padding="same", name=f"{name}_conv_img")(x)
        outputs = keras.layers.Activation("tanh", name=f"{name}_output")(x)
        super().__init__(inputs=seg, outputs=outputs, name=name, **kwargs)

    def tap_layer_names(self) -> list[str]:
        """Outputs of head_0, G_middle_1 and up_1 (GAN Compression's GauGAN distillation taps)."""
        return [f"{self.name}_{b}_out" for b in ("head_0", "G_middle_1", "up_1")]


@register
class SPADEGenerator(_SPADEFamily):
    """GauGAN's SPADE generator.

    A label map (one-hot, plus an optional instance-edge channel) is downsampled to 1/32 (``'normal'``) and
    decoded through seven SPADE residual blocks with nearest upsampling.

    Args:
        label_nc: Number of label classes (one-hot channels), 35 for Cityscapes.
        instance: Whether an instance-edge channel follows the one-hot labels.
        ngf: Base width (64: 93.0 M params).
        output_nc: Output channels.
        nhidden: Hidden width of every SPADE (128).
        param_free_norm: ``"batch"`` (reference, synchronized batch norm) or ``"instance"``.
        num_upsampling_layers: ``"normal"`` (5) or ``"more"`` (6).
        height: Fixed input height or ``None``; multiple of 32 (64 for ``"more"``).
        width: Fixed input width or ``None``; same rule.
        name: Model name and layer-name prefix.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        label_nc: int = 35,
        instance: bool = True,
        ngf: int = 64,
        output_nc: int = 3,
        nhidden: int = 128,
        param_free_norm: str = "batch",
        num_upsampling_layers: str = "normal",
        height: int | None = None,
        width: int | None = None,
        name: str = "spade_generator",
        **kwargs,
    ):
        check_positive_int("SPADEGenerator ngf", ngf)
        check_positive_int("SPADEGenerator nhidden", nhidden)
        check_choice("SPADEGenerator param_free_norm", param_free_norm, PARAM_FREE_NORMS)
        widths = [16 * ngf] + [(min(fin, fout) * ngf, fout * ngf) for _, fin, fout in SPADE_BLOCKS]

        def make_norm(block, layer_name):
            return SPADE(nhidden=nhidden, param_free_norm=param_free_norm, name=layer_name)

        self._build(name, widths, make_norm, label_nc, instance, output_nc, num_upsampling_layers, height,
                    width, kwargs)  # fmt: skip
        self._finish(
            dict(label_nc=label_nc, instance=instance, ngf=ngf, output_nc=output_nc, nhidden=nhidden,
                 param_free_norm=param_free_norm, num_upsampling_layers=num_upsampling_layers,
                 height=height, width=width)
        )  # fmt: skip


@register
class MobileSPADEGenerator(_SPADEFamily):
    """GAN Compression's mobile GauGAN generator: SPADE blocks whose γ/β are separable convs, hidden ``2·ngf``.

    Args:
        label_nc: Number of label classes.
        instance: Whether an instance-edge channel follows the one-hot labels.
        ngf: Base width.
        output_nc: Output channels.
        param_free_norm: ``"batch"`` or ``"instance"``.
        separable_norm: Normalization inside the separable γ/β blocks (``"instance"`` or ``"none"``).
        num_upsampling_layers: ``"normal"`` or ``"more"``.
        height: Fixed input height or ``None``.
        width: Fixed input width or ``None``.
        name: Model name and layer-name prefix.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        label_nc: int = 35,
        instance: bool = True,
        ngf: int = 64,
        output_nc: int = 3,
        param_free_norm: str = "batch",
        separable_norm: str = "instance",
        num_upsampling_layers: str = "normal",
        height: int | None = None,
        width: int | None = None,
        name: str = "mobile_spade_generator",
        **kwargs,
    ):
        check_positive_int("MobileSPADEGenerator ngf", ngf)
        check_choice("MobileSPADEGenerator param_free_norm", param_free_norm, PARAM_FREE_NORMS)
        check_choice("MobileSPADEGenerator separable_norm", separable_norm, SEPARABLE_NORMS)
        widths = [16 * ngf] + [(min(fin, fout) * ngf, fout * ngf) for _, fin, fout in SPADE_BLOCKS]

        def make_norm(block, layer_name):
            return MobileSPADE(nhidden=2 * ngf, param_free_norm=param_free_norm,
                               separable_norm=separable_norm, name=layer_name)  # fmt: skip

        self._build(name, widths, make_norm, label_nc, instance, output_nc, num_upsampling_layers, height,
                    width, kwargs)  # fmt: skip
        self._finish(
            dict(label_nc=label_nc, instance=instance, ngf=ngf, output_nc=output_nc,
                 param_free_norm=param_free_norm, separable_norm=separable_norm,
                 num_upsampling_layers=num_upsampling_layers, height=height, width=width)
        )  # fmt: skip


@register
class SubMobileSPADEGenerator(_SPADEFamily):
    """A mobile GauGAN generator with per-stage widths from an 8-entry configuration string.

    Entry ``c0`` sets the fc / trunk width ``16·c0`` of head_0 and the middle blocks; entries ``c1..c7`` the
    inner width of head_0, G_middle_0, G_middle_1 (``16·c``), up_0 (``8·c``), up_1 (``4·c``), up_2 (``2·c``)
    and up_3 (``c``), each block's SPADE hidden width being ``2·c`` — the reference sub-mobile layout.

    Args:
        config: The configuration string (or a sequence of 8 ints).
        label_nc: Number of label classes.
        instance: Whether an instance-edge channel follows the one-hot labels.
        output_nc: Output channels.
        param_free_norm: ``"batch"`` or ``"instance"``.
        separable_norm: Normalization inside the separable γ/β blocks.
        num_upsampling_layers: ``"normal"`` or ``"more"``.
        height: Fixed input height or ``None``.
        width: Fixed input width or ``None``.
        name: Model name and layer-name prefix.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        config="32_32_32_32_32_32_32_32",
        label_nc: int = 35,
        instance: bool = True,
        output_nc: int = 3,
        param_free_norm: str = "batch",
        separable_norm: str = "instance",
        num_upsampling_layers: str = "normal",
        height: int | None = None,
        width: int | None = None,
        name: str = "sub_mobile_spade_generator",
        **kwargs,
    ):
        c = parse_config(config, "spade")
        check_choice("SubMobileSPADEGenerator param_free_norm", param_free_norm, PARAM_FREE_NORMS)
        check_choice("SubMobileSPADEGenerator separable_norm", separable_norm, SEPARABLE_NORMS)
        trunk = 16 * c[0]
        widths, hidden, ic = [trunk], [], trunk
        for (_, fin, fout), ch in zip(SPADE_BLOCKS, c[1:], strict=True):
            inner = fout * ch
            widths.append((inner, inner if fin != fout else ic))
            hidden.append(2 * ch)
            if fin != fout:
                ic = inner
        hidden_by_block = {b[0]: h for b, h in zip(SPADE_BLOCKS, hidden, strict=True)}

        def make_norm(block, layer_name):
            return MobileSPADE(nhidden=hidden_by_block[block], param_free_norm=param_free_norm,
                               separable_norm=separable_norm, name=layer_name)  # fmt: skip

        self._build(name, widths, make_norm, label_nc, instance, output_nc, num_upsampling_layers, height,
                    width, kwargs)  # fmt: skip
        self.config_string = format_config(c)
        self._finish(
            dict(config=self.config_string, label_nc=label_nc, instance=instance, output_nc=output_nc,
                 param_free_norm=param_free_norm, separable_norm=separable_norm,
                 num_upsampling_layers=num_upsampling_layers, height=height, width=width)
        )  # fmt: skip
