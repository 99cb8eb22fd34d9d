"""ResNet generators of pix2pix / CycleGAN and GAN Compression's mobile and sub-mobile variants."""

from __future__ import annotations

from tfgancomp.backend import keras, register
from tfgancomp.layers import ReflectionPad2D, SeparableConv
from tfgancomp.models.base import ZooModel, check_size
from tfgancomp.models.config import format_config, parse_config
from tfgancomp.models.unet import UNET_NORMS, make_norm
from tfgancomp.validation import check_choice, check_positive_int


def _block_groups(n_blocks: int) -> tuple[int, int, int]:
    n1 = n_blocks // 3
    return n1, n1, n_blocks - 2 * n1


def _norm_act(x, prefix: str, norm: str, act: bool = True):
    x = make_norm(norm, f"{prefix}_norm")(x)
    if act:
        x = keras.layers.ReLU(name=f"{prefix}_act")(x)
    return x


def _resnet_graph(
    name: str,
    input_nc: int,
    output_nc: int,
    widths: dict,
    inner: list[int],
    separable: bool,
    dropout_rate: float,
    height: int | None,
    width: int | None,
    norm: str = "instance",
):
    """Build the shared ResNet-generator graph.

    ``widths`` holds ``stem``, ``down1``, ``down2`` (= residual trunk), ``up1``, ``up2``; ``inner`` the inner
    width of each residual block. Padding follows the PyTorch reference exactly (reflection for 7×7 and
    residual convs, symmetric zero padding for stride-2 convs, transposed convs cropped to PyTorch's
    ``padding=1, output_padding=1`` alignment), so imported weights give identical outputs. With batch norm, the
    convolutions it follows have no bias (as in the reference); separable blocks keep theirs.
    """
    bias = norm == "instance"
    inputs = keras.Input(shape=(height, width, input_nc), name=f"{name}_input")
    x = ReflectionPad2D(3, name=f"{name}_stem_pad")(inputs)
    x = keras.layers.Conv2D(widths["stem"], 7, use_bias=bias, name=f"{name}_stem_conv")(x)
    x = _norm_act(x, f"{name}_stem", norm)
    for i, key in enumerate(("down1", "down2"), start=1):
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_down{i}_pad")(x)
        x = keras.layers.Conv2D(widths[key], 3, strides=2, use_bias=bias, name=f"{name}_down{i}_conv")(x)
        x = _norm_act(x, f"{name}_down{i}", norm)
    trunk = widths["down2"]
    for i, mid in enumerate(inner, start=1):
        prefix = f"{name}_block{i}"
        y = x
        for j, out in ((1, mid), (2, trunk)):
            y = ReflectionPad2D(1, name=f"{prefix}_pad{j}")(y)
            if separable:
                y = SeparableConv(out, 3, name=f"{prefix}_conv{j}")(y)
            else:
                y = keras.layers.Conv2D(out, 3, use_bias=bias, name=f"{prefix}_conv{j}")(y)
            y = _norm_act(y, f"{prefix}_{j}", norm, act=(j == 1))
            if j == 1 and dropout_rate > 0:
                y = keras.layers.Dropout(dropout_rate, name=f"{prefix}_dropout")(y)
        x = keras.layers.Add(name=f"{prefix}_out")([x, y])
    for i, key in enumerate(("up1", "up2"), start=1):
        x = keras.layers.Conv2DTranspose(widths[key], 3, strides=2, use_bias=bias, name=f"{name}_up{i}_conv")(x)
        x = keras.layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_up{i}_crop")(x)
        x = _norm_act(x, f"{name}_up{i}", norm)
    x = ReflectionPad2D(3, name=f"{name}_head_pad")(x)
    x = keras.layers.Conv2D(output_nc, 7, name=f"{name}_head_conv")(x)
    outputs = keras.layers.Activation("tanh", name=f"{name}_output")(x)
    return inputs, outputs


class _ResNetFamily(ZooModel):
    stride = 4
    family = "resnet"

    def _build(self, name, input_nc, output_nc, widths, inner, separable, dropout_rate, height, width, kwargs,
               norm="instance"):  # fmt: skip
        check_choice(f"{type(self).__name__} norm", norm, UNET_NORMS)
        check_positive_int(f"{type(self).__name__} input_nc", input_nc)
        check_positive_int(f"{type(self).__name__} output_nc", output_nc)
        if not 0 <= dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}")
        check_size(f"{type(self).__name__} height", height, self.stride)
        check_size(f"{type(self).__name__} width", width, self.stride)
        inputs, outputs = _resnet_graph(
            name, input_nc, output_nc, widths, inner, separable, dropout_rate, height, width, norm
        )
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.n_blocks = len(inner)

    def tap_layer_names(self) -> list[str]:
        """After the 2nd downsampling and after the last block of each of the three residual groups."""
        n1, n2, n3 = _block_groups(self.n_blocks)
        blocks = [b for b in (n1, n1 + n2, n1 + n2 + n3) if b > 0]
        return [f"{self.name}_down2_act"] + [f"{self.name}_block{b}_out" for b in blocks]


@register
class ResNetGenerator(_ResNetFamily):
    """The ResNet generator of pix2pix / CycleGAN (Johnson et al.).

    Two downsamplings, ``n_blocks`` residual blocks of width ``4·ngf``, two transposed-conv upsamplings,
    instance norm, tanh output in [-1, 1].

    Args:
        input_nc: Input channels.
        output_nc: Output channels.
        ngf: Base width (64 in the reference: 11.4 M params, 56.8 G MACs at 256×256 with 9 blocks).
        n_blocks: Residual blocks.
        dropout_rate: Dropout inside residual blocks (0 = none, the reference default; ``use_dropout`` is 0.5).
        norm: ``"instance"`` (the reference default) or ``"batch"`` (convolutions then have no bias).
        height: Fixed input height or ``None``; must be a multiple of 4.
        width: Fixed input width or ``None``; must be a multiple of 4.
        name: Model name, also the prefix of every layer name.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        dropout_rate: float = 0.0,
        height: int | None = None,
        width: int | None = None,
        name: str = "resnet_generator",
        norm: str = "instance",
        **kwargs,
    ):
        check_positive_int("ResNetGenerator ngf", ngf)
        check_positive_int("ResNetGenerator n_blocks", n_blocks)
        widths = {"stem": ngf, "down1": 2 * ngf, "down2": 4 * ngf, "up1": 2 * ngf, "up2": ngf}
        self._build(name, input_nc, output_nc, widths, [4 * ngf] * n_blocks, False, dropout_rate, height, width,
                    kwargs, norm)  # fmt: skip
        self._finish(
            dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, n_blocks=n_blocks,
                 dropout_rate=dropout_rate, height=height, width=width, norm=norm)
        )  # fmt: skip


@register
class MobileResNetGenerator(_ResNetFamily):
    """GAN Compression's mobile ResNet generator.

    The ResNet generator with every residual 3×3 conv replaced by a :class:`SeparableConv` block
    (depthwise → InstanceNorm → pointwise).

    Args:
        input_nc: Input channels.
        output_nc: Output channels.
        ngf: Base width.
        n_blocks: Residual blocks (split in three groups of ``n//3, n//3, rest``).
        dropout_rate: Dropout inside residual blocks.
        height: Fixed input height or ``None``; multiple of 4.
        width: Fixed input width or ``None``; multiple of 4.
        name: Model name and layer-name prefix.
        norm: ``"instance"`` or ``"batch"`` for the stem, downsampling, residual and upsampling norms (the
            separable blocks' inner norm stays instance norm, as in the reference).
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        dropout_rate: float = 0.0,
        height: int | None = None,
        width: int | None = None,
        name: str = "mobile_resnet_generator",
        norm: str = "instance",
        **kwargs,
    ):
        check_positive_int("MobileResNetGenerator ngf", ngf)
        check_positive_int("MobileResNetGenerator n_blocks", n_blocks)
        widths = {"stem": ngf, "down1": 2 * ngf, "down2": 4 * ngf, "up1": 2 * ngf, "up2": ngf}
        self._build(name, input_nc, output_nc, widths, [4 * ngf] * n_blocks, True, dropout_rate, height, width,
                    kwargs, norm)  # fmt: skip
        self._finish(
            dict(input_nc=input_nc, output_nc=output_nc, ngf=ngf, n_blocks=n_blocks,
                 dropout_rate=dropout_rate, height=height, width=width, norm=norm)
        )  # fmt: skip


@register
class SubMobileResNetGenerator(_ResNetFamily):
    """A mobile ResNet generator with per-stage widths from a channel configuration string.

    ``c0_c1_c2_r1_r2_r3_u1_u2``: stem ``c0``, downsampling ``2·c1`` and ``4·c2`` (also the residual trunk),
    separable inner widths ``4·r_k`` for block groups 1–3, upsampling ``2·u1`` then ``u2``. The legacy 6-entry
    form ``c0_c1_c2_r_u1_u2`` shares one inner width. ``24_24_24_32_20_16`` is the published 2.67 G MACs
    CycleGAN.

    Args:
        config: The configuration string (or a sequence of ints).
        input_nc: Input channels.
        output_nc: Output channels.
        n_blocks: Residual blocks.
        dropout_rate: Dropout inside residual blocks.
        height: Fixed input height or ``None``; multiple of 4.
        width: Fixed input width or ``None``; multiple of 4.
        name: Model name and layer-name prefix.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        config="24_24_24_32_20_16",
        input_nc: int = 3,
        output_nc: int = 3,
        n_blocks: int = 9,
        dropout_rate: float = 0.0,
        height: int | None = None,
        width: int | None = None,
        name: str = "sub_mobile_resnet_generator",
        **kwargs,
    ):
        c = parse_config(config, "resnet")
        check_positive_int("SubMobileResNetGenerator n_blocks", n_blocks)
        if len(c) == 6:
            c0, c1, c2, r, u1, u2 = c
            r1 = r2 = r3 = r
        else:
            c0, c1, c2, r1, r2, r3, u1, u2 = c
        n1, n2, n3 = _block_groups(n_blocks)
        inner = [4 * r1] * n1 + [4 * r2] * n2 + [4 * r3] * n3
        widths = {"stem": c0, "down1": 2 * c1, "down2": 4 * c2, "up1": 2 * u1, "up2": u2}
        self._build(name, input_nc, output_nc, widths, inner, True, dropout_rate, height, width, kwargs)
        self.config_string = format_config(c)
        self._finish(
            dict(config=self.config_string, input_nc=input_nc, output_nc=output_nc, n_blocks=n_blocks,
                 dropout_rate=dropout_rate, height=height, width=width)
        )  # fmt: skip
