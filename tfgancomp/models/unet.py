"""pix2pix's U-Net generator (Isola et al., 2017), as ``UnetGenerator`` of pytorch-CycleGAN-and-pix2pix."""

from __future__ import annotations

from tfgancomp.backend import keras, register
from tfgancomp.layers import InstanceNorm
from tfgancomp.models.base import ZooModel, check_size
from tfgancomp.validation import check_choice, check_positive_int

#: Normalizations of the U-Net (pix2pix's default is batch norm).
UNET_NORMS = ("batch", "instance")


def unet_widths(num_downs: int, ngf: int, output_nc: int) -> list[tuple[int, int]]:
    """``(outer, inner)`` widths of each level, outermost (level 1) first: the reference's nesting.

    Level 1 maps the image to ``ngf`` channels and back to ``output_nc``; levels 2–4 double the width; levels 5
    to ``num_downs`` (the innermost) stay at ``8·ngf``.
    """
    widths = [(output_nc, ngf), (ngf, 2 * ngf), (2 * ngf, 4 * ngf), (4 * ngf, 8 * ngf)]
    return widths + [(8 * ngf, 8 * ngf)] * (num_downs - 4)


def make_norm(norm: str, name: str):
    """The normalization layer of a pix2pix-style generator: batch norm (PyTorch's ε and momentum) or instance norm."""
    if norm == "batch":
        return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)
    return InstanceNorm(name=name)


@register
class UnetGenerator(ZooModel):
    """The U-Net generator of pix2pix: ``num_downs`` stride-2 4×4 convolutions down and back up, with skips.

    Level ``i`` (1 = outermost) downsamples with ``LeakyReLU(0.2) → conv → norm`` (no activation before level 1,
    no norm on the innermost and outermost convolutions) and upsamples with ``ReLU → transposed conv → norm``;
    every level but the outermost concatenates its input, after that LeakyReLU, with its upsampled output (the
    reference applies the LeakyReLU in place, so the skip carries it). Dropout (``dropout_rate``) follows the
    upsampling of levels 5 to ``num_downs − 1``, in training only. ``unet_256`` is ``num_downs=8`` (54.4 M
    parameters with ``ngf=64``), ``unet_128`` is ``num_downs=7``.

    Args:
        input_nc: Input channels.
        output_nc: Output channels.
        num_downs: Downsamplings (≥ 5); inputs must be multiples of ``2**num_downs``.
        ngf: Base width.
        norm: ``"batch"`` (the pix2pix default; convolutions followed by a norm have no bias) or ``"instance"``.
        dropout_rate: Dropout of the middle levels (the reference's ``use_dropout`` is 0.5; 0 = none).
        height: Fixed input height or ``None``.
        width: Fixed input width or ``None``.
        name: Model name, also the prefix of every layer name.
        **kwargs: Passed to ``keras.Model``.
    """

    family = "unet"

    def __init__(
        self,
        input_nc: int = 3,
        output_nc: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        norm: str = "batch",
        dropout_rate: float = 0.0,
        height: int | None = None,
        width: int | None = None,
        name: str = "unet_generator",
        **kwargs,
    ):
        check_positive_int("UnetGenerator input_nc", input_nc)
        check_positive_int("UnetGenerator output_nc", output_nc)
        check_positive_int("UnetGenerator ngf", ngf)
        if check_positive_int("UnetGenerator num_downs", num_downs) < 5:
            raise ValueError(f"UnetGenerator num_downs must be >= 5 (the reference's nesting), got {num_downs}")
        check_choice("UnetGenerator norm", norm, UNET_NORMS)
        if not 0 <= dropout_rate < 1:
            raise ValueError(f"dropout_rate must be in [0, 1), got {dropout_rate!r}")
        self.stride = 2**num_downs
        check_size("UnetGenerator height", height, self.stride)
        check_size("UnetGenerator width", width, self.stride)
        bias = norm == "instance"  # a conv followed by batch norm has no bias, as in the reference
        widths = unet_widths(num_downs, ngf, output_nc)

        inputs = keras.Input(shape=(height, width, input_nc), name=f"{name}_input")
        x, skips = inputs, {}
        for level, (_, inner) in enumerate(widths, start=1):
            if level > 1:
                x = keras.layers.LeakyReLU(0.2, name=f"{name}_down{level}_act")(x)
                skips[level] = x
            # 4×4 stride 2 with 'same' = PyTorch's padding 1 on both sides for even sizes
            x = keras.layers.Conv2D(
                inner, 4, strides=2, padding="same", use_bias=bias, name=f"{name}_down{level}_conv"
            )(x)
            if 1 < level < num_downs:
                x = make_norm(norm, f"{name}_down{level}_norm")(x)
        for level in range(num_downs, 0, -1):
            outer = widths[level - 1][0]
            x = keras.layers.ReLU(name=f"{name}_up{level}_act")(x)
            x = keras.layers.Conv2DTranspose(outer, 4, strides=2, padding="same", use_bias=bias or level == 1,
                                             name=f"{name}_up{level}_conv")(x)  # fmt: skip
            if level == 1:
                break
            x = make_norm(norm, f"{name}_up{level}_norm")(x)
            if 5 <= level < num_downs and dropout_rate > 0:
                x = keras.layers.Dropout(dropout_rate, name=f"{name}_up{level}_dropout")(x)
            x = keras.layers.Concatenate(name=f"{name}_block{level}_out")([skips[level], x])
        outputs = keras.layers.Activation("tanh", name=f"{name}_output")(x)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self.num_downs = num_downs
        self._finish(
            dict(input_nc=input_nc, output_nc=output_nc, num_downs=num_downs, ngf=ngf, norm=norm,
                 dropout_rate=dropout_rate, height=height, width=width)
        )  # fmt: skip

    def tap_layer_names(self) -> list[str]:
        """Four stride-4 features, the resolution of a ResNet student's trunk (whose four taps they pair with).

        The encoder's output at stride 4 (``down2_norm``), the skip it passes on (``down3_act``), the decoder's
        stride-4 features coming up from the deeper levels (``up3_norm``) and the decoder's input to the stride-2
        level (``up2_act``, after the skip concatenation).
        """
        n = self.name
        return [f"{n}_down2_norm", f"{n}_down3_act", f"{n}_up3_norm", f"{n}_up2_act"]
