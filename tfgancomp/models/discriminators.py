"""Discriminators: pix2pix's PatchGAN and GauGAN's multiscale discriminator."""

from __future__ import annotations

from tfgancomp.backend import keras, register
from tfgancomp.layers import AvgPoolExcludePad, InstanceNorm
from tfgancomp.models.base import ZooModel
from tfgancomp.validation import check_choice, check_positive_int

DISCRIMINATOR_NORMS = ("instance", "batch", "none")


def _norm(x, kind: str, name: str):
    if kind == "instance":
        return InstanceNorm(name=name)(x)
    if kind == "batch":
        return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=name)(x)
    return x


def _check_size(cls: str, what: str, value, n_layers: int, pad: int, down: int) -> None:
    """Raise when ``value`` is too small for the discriminator to produce at least one output cell."""
    if value is None:
        return
    check_positive_int(f"{cls} {what}", value)
    n = value
    for i in range(n_layers + 1):
        stride = 2 if i < down else 1
        n = (n + 2 * pad - 4) // stride + 1
    if n < 1:
        raise ValueError(f"{cls} {what} {value} is too small for {n_layers} layers: no output cell remains")


@register
class PatchGANDiscriminator(ZooModel):
    """pix2pix's N-layer PatchGAN (70×70 receptive field with 3 layers): 4×4 convs, LeakyReLU 0.2.

    Args:
        input_nc: Input channels (6 for pix2pix's concatenated (A, B); 3 for CycleGAN).
        ndf: Width of the first layer (doubling, at most ``8·ndf``).
        n_layers: Stride-2 layers.
        norm: ``"instance"`` (GAN Compression), ``"batch"`` (pix2pix) or ``"none"``.
        height: Fixed input height or ``None``.
        width: Fixed input width or ``None``.
        name: Model name and layer-name prefix.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        input_nc: int = 6,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "instance",
        height: int | None = None,
        width: int | None = None,
        name: str = "patchgan_discriminator",
        **kwargs,
    ):
        cls = type(self).__name__
        check_positive_int(f"{cls} input_nc", input_nc)
        check_positive_int(f"{cls} ndf", ndf)
        check_positive_int(f"{cls} n_layers", n_layers)
        check_choice(f"{cls} norm", norm, DISCRIMINATOR_NORMS)
        _check_size(cls, "height", height, n_layers, 1, n_layers)
        _check_size(cls, "width", width, n_layers, 1, n_layers)
        inputs = keras.Input(shape=(height, width, input_nc), name=f"{name}_input")
        x = inputs
        for i in range(n_layers + 2):
            prefix = f"{name}_layer{i}"
            last = i == n_layers + 1
            filters = 1 if last else ndf * min(2**i, 8)
            normed = 0 < i <= n_layers and norm != "none"
            x = keras.layers.ZeroPadding2D(1, name=f"{prefix}_pad")(x)
            x = keras.layers.Conv2D(
                filters, 4, strides=2 if i < n_layers else 1, use_bias=norm != "batch" or not normed,
                name=f"{prefix}_conv",
            )(x)  # fmt: skip
            if normed:
                x = _norm(x, norm, f"{prefix}_norm")
            if not last:
                x = keras.layers.LeakyReLU(0.2, name=f"{prefix}_act")(x)
        super().__init__(inputs=inputs, outputs=x, name=name, **kwargs)
        self._finish(dict(input_nc=input_nc, ndf=ndf, n_layers=n_layers, norm=norm, height=height, width=width))


@register
class MultiscaleDiscriminator(ZooModel):
    """GauGAN's multiscale discriminator: ``num_d`` N-layer discriminators at successively halved resolutions.

    Inputs are 2× average-pooled between scales; the inner convs are spectrally normalized, then instance-normalized.

    Outputs, per scale, the list of every layer's activation (the last being the patch logits), as GAN feature
    matching needs: ``[[f_1, ..., f_{n+1}] for each scale]``.

    Args:
        input_nc: Input channels (label channels + image channels).
        ndf: Width of the first layer (doubling, at most 512).
        n_layers: Layers per discriminator (4 in GauGAN).
        num_d: Number of scales (2).
        norm: ``"instance"``, ``"batch"`` or ``"none"`` after the spectrally normalized convs.
        spectral_norm: Wrap the inner convs in ``SpectralNormalization``.
        height: Fixed input height or ``None``.
        width: Fixed input width or ``None``.
        name: Model name and layer-name prefix.
        **kwargs: Passed to ``keras.Model``.
    """

    def __init__(
        self,
        input_nc: int = 39,
        ndf: int = 64,
        n_layers: int = 4,
        num_d: int = 2,
        norm: str = "instance",
        spectral_norm: bool = True,
        height: int | None = None,
        width: int | None = None,
        name: str = "multiscale_discriminator",
        **kwargs,
    ):
        cls = type(self).__name__
        for what, value in (("input_nc", input_nc), ("ndf", ndf), ("n_layers", n_layers), ("num_d", num_d)):
            check_positive_int(f"{cls} {what}", value)
        check_choice(f"{cls} norm", norm, DISCRIMINATOR_NORMS)
        for what, value in (("height", height), ("width", width)):
            if value is not None:  # 4×4 convs padded by 2 never shrink a map to nothing
                check_positive_int(f"{cls} {what}", value)
        inputs = keras.Input(shape=(height, width, input_nc), name=f"{name}_input")
        x, outputs = inputs, []
        for d in range(num_d):
            if d:
                x = AvgPoolExcludePad(name=f"{name}_downsample{d}")(x)
            y, feats, nf = x, [], ndf
            for i in range(n_layers + 1):
                prefix = f"{name}_d{d}_layer{i}"
                last = i == n_layers
                if 0 < i < n_layers:
                    nf = min(nf * 2, 512)
                inner = 0 < i < n_layers
                stride = 1 if i >= n_layers - 1 else 2
                y = keras.layers.ZeroPadding2D(2, name=f"{prefix}_pad")(y)
                conv = keras.layers.Conv2D(
                    1 if last else nf, 4, strides=stride, use_bias=not (inner and norm != "none"),
                    name=f"{prefix}_conv",
                )  # fmt: skip
                if inner and spectral_norm:
                    conv = keras.layers.SpectralNormalization(conv, name=f"{prefix}_sn")
                y = conv(y)
                if inner:
                    y = _norm(y, norm, f"{prefix}_norm")
                if not last:
                    y = keras.layers.LeakyReLU(0.2, name=f"{prefix}_act")(y)
                feats.append(y)
            outputs.append(feats)
        super().__init__(inputs=inputs, outputs=outputs, name=name, **kwargs)
        self._finish(
            dict(input_nc=input_nc, ndf=ndf, n_layers=n_layers, num_d=num_d, norm=norm,
                 spectral_norm=spectral_norm, height=height, width=width)
        )  # fmt: skip
