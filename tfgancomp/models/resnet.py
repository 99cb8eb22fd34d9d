"""ResNet generators of pix2pix / CycleGAN and GAN Compression's mobile and sub-mobile variants."""

from __future__ import annotations

from tfgancomp.backend import keras, register
from tfgancomp.layers import ReflectionPad2D, SeparableConv
from tfgancomp.models.base import ZooModel, check_size
from tfgancomp.models.config import BLOCK_KINDS, format_config, parse_config, split_layout
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


def _stem(x, name: str, channels: int, norm: str):
    x = ReflectionPad2D(3, name=f"{name}_stem_pad")(x)
    x = keras.layers.Conv2D(channels, 7, use_bias=norm == "instance", name=f"{name}_stem_conv")(x)
    return _norm_act(x, f"{name}_stem", norm)


def _down(x, name: str, i: int, channels: int, norm: str):
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_down{i}_pad")(x)
    x = keras.layers.Conv2D(channels, 3, strides=2, use_bias=norm == "instance", name=f"{name}_down{i}_conv")(x)
    return _norm_act(x, f"{name}_down{i}", norm)


def _residual(x, prefix: str, trunk: int, inner: int, separable: bool, norm: str, dropout_rate: float = 0.0):
    y = x
    for j, out in ((1, inner), (2, trunk)):
        y = ReflectionPad2D(1, name=f"{prefix}_pad{j}")(y)
        if separable:
            y = SeparableConv(out, 3, name=f"{prefix}_conv{j}")(y)
        else:
            y = keras.layers.Conv2D(out, 3, use_bias=norm == "instance", name=f"{prefix}_conv{j}")(y)
        y = _norm_act(y, f"{prefix}_{j}", norm, act=(j == 1))
        if j == 1 and dropout_rate > 0:
            y = keras.layers.Dropout(dropout_rate, name=f"{prefix}_dropout")(y)
    return keras.layers.Add(name=f"{prefix}_out")([x, y])


def _up(x, name: str, i: int, channels: int, norm: str):
    bias = norm == "instance"
    x = keras.layers.Conv2DTranspose(channels, 3, strides=2, use_bias=bias, name=f"{name}_up{i}_conv")(x)
    x = keras.layers.Cropping2D(((1, 0), (1, 0)), name=f"{name}_up{i}_crop")(x)
    return _norm_act(x, f"{name}_up{i}", norm)


def _head(x, name: str, output_nc: int):
    x = ReflectionPad2D(3, name=f"{name}_head_pad")(x)
    x = keras.layers.Conv2D(output_nc, 7, name=f"{name}_head_conv")(x)
    return keras.layers.Activation("tanh", name=f"{name}_output")(x)


def _resnet_graph(
    name: str,
    input_nc: int,
    output_nc: int,
    widths: dict,
    inner: list[int],
    separable,
    dropout_rate: float,
    height: int | None,
    width: int | None,
    norm: str = "instance",
):
    """Build the shared ResNet-generator graph.

    ``widths`` holds ``stem``, ``down1``, ``down2`` (= residual trunk), ``up1``, ``up2``; ``inner`` the inner
    width of each residual block; ``separable`` whether the blocks' convolutions are separable (one bool, or one
    per block). Padding follows the PyTorch reference exactly (reflection for 7×7 and
    residual convs, symmetric zero padding for stride-2 convs, transposed convs cropped to PyTorch's
    ``padding=1, output_padding=1`` alignment), so imported weights give identical outputs. With batch norm, the
    convolutions it follows have no bias (as in the reference); separable blocks keep theirs.
    """
    inputs = keras.Input(shape=(height, width, input_nc), name=f"{name}_input")
    x = _stem(inputs, name, widths["stem"], norm)
    for i, key in enumerate(("down1", "down2"), start=1):
        x = _down(x, name, i, widths[key], norm)
    trunk = widths["down2"]
    kinds = [separable] * len(inner) if isinstance(separable, bool) else list(separable)
    for i, (mid, block_separable) in enumerate(zip(inner, kinds, strict=True), start=1):
        x = _residual(x, f"{name}_block{i}", trunk, mid, block_separable, norm, dropout_rate)
    for i, key in enumerate(("up1", "up2"), start=1):
        x = _up(x, name, i, widths[key], norm)
    return inputs, _head(x, name, output_nc)


#: The stages of a mobile ResNet generator a latency table times one by one (see :func:`resnet_stage_model`).
RESNET_STAGES = ("stem", "down1", "down2", "block_separable", "block_dense", "up1", "up2", "head")
_STAGE_SCALE = {"stem": 1, "down1": 1, "down2": 2, "block_separable": 4, "block_dense": 4, "up1": 4, "up2": 2,
                "head": 1}  # fmt: skip


def resnet_stage_model(stage: str, height: int, width: int, channels_in: int, channels_out: int,
                       name: str = "stage"):  # fmt: skip
    """One stage of the (sub-)mobile ResNet generator as a model of its own, built from the generator's layers.

    What a latency table measures: the generator is the chain stem → down1 → down2 → residual blocks → up1 → up2
    → head, so its latency is (nearly) the sum of its stages'. ``height`` × ``width`` is the *generator's* input
    size; the stage's input is at its own scale (blocks at a quarter).

    Args:
        stage: One of :data:`RESNET_STAGES` (``block_*``: one residual block, input and output ``channels_in``
            wide, inner width ``channels_out``; ``head``: ``channels_out`` is the image's channels).
        height: Generator input height (a multiple of 4).
        width: Generator input width (a multiple of 4).
        channels_in: The stage's input channels.
        channels_out: Its output channels (a block's inner width).
        name: Model name and layer prefix.
    """
    check_choice("stage", stage, RESNET_STAGES)
    check_size("stage height", height, 4)
    check_size("stage width", width, 4)
    check_positive_int("stage channels_in", channels_in)
    check_positive_int("stage channels_out", channels_out)
    scale = _STAGE_SCALE[stage]
    inputs = keras.Input(shape=(height // scale, width // scale, channels_in), name=f"{name}_input")
    if stage == "stem":
        x = _stem(inputs, name, channels_out, "instance")
    elif stage in ("down1", "down2"):
        x = _down(inputs, name, int(stage[-1]), channels_out, "instance")
    elif stage in ("up1", "up2"):
        x = _up(inputs, name, int(stage[-1]), channels_out, "instance")
    elif stage == "head":
        x = _head(inputs, name, channels_out)
    else:
        x = _residual(inputs, f"{name}_block", channels_in, channels_out, stage == "block_separable", "instance")
    return keras.Model(inputs, x, name=name)


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

    def block_groups(self) -> tuple[int, int, int]:
        """Residual blocks in each of the three groups."""
        return _block_groups(self.n_blocks)

    def tap_layer_names(self) -> list[str]:
        """After the 2nd downsampling and after the last block of each of the three residual groups."""
        n1, n2, n3 = self.block_groups()
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
    CycleGAN. A residual entry may also choose the group's layout for speed: ``d`` makes its blocks dense
    (two full 3×3 convolutions instead of separable ones) and ``xN`` keeps only its first ``N`` blocks, e.g.
    ``32_32_32_24dx2_16_16x1_24_24`` (see :func:`~tfgancomp.models.config.format_config`).

    Args:
        config: The configuration string (or a sequence of 6, 8 or 14 ints).
        input_nc: Input channels.
        output_nc: Output channels.
        n_blocks: Residual blocks of the full layout (three groups of ``n//3, n//3, rest``; ``xN`` keeps fewer).
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
        (c0, c1, c2, r1, r2, r3, u1, u2), kinds, depths = split_layout(c)
        groups = group_depths(n_blocks, depths, config)
        inner, separable = [], []
        for r, kind, count in zip((r1, r2, r3), kinds, groups, strict=True):
            inner += [4 * r] * count
            separable += [BLOCK_KINDS[kind] == "separable"] * count
        widths = {"stem": c0, "down1": 2 * c1, "down2": 4 * c2, "up1": 2 * u1, "up2": u2}
        self._build(name, input_nc, output_nc, widths, inner, separable, dropout_rate, height, width, kwargs)
        self.n_blocks, self._groups = int(n_blocks), groups
        self.config_string = format_config(c)
        self._finish(
            dict(config=self.config_string, input_nc=input_nc, output_nc=output_nc, n_blocks=n_blocks,
                 dropout_rate=dropout_rate, height=height, width=width)
        )  # fmt: skip

    def block_groups(self) -> tuple[int, int, int]:
        """Residual blocks in each of the three groups (fewer than ``n_blocks`` gives where ``xN`` says so)."""
        return self._groups


def group_depths(n_blocks: int, depths, config=None) -> tuple[int, int, int]:
    """Blocks in each residual group: the layout's counts (0: the whole group of ``n_blocks``' split).

    Raises:
        ValueError: a count over its group's size (naming the configuration).
    """
    full = _block_groups(n_blocks)
    out = tuple(f if d == 0 else int(d) for f, d in zip(full, depths, strict=True))
    if any(d > f for d, f in zip(out, full, strict=True)):
        raise ValueError(f"configuration {config!r} asks for {list(out)} blocks per group; with n_blocks={n_blocks} "
                         f"the groups hold {list(full)}")  # fmt: skip
    return out
