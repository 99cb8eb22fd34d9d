"""SPADE: spatially-adaptive normalization (Park et al., 2019) and its mobile variant."""

from __future__ import annotations

from tfgancomp.backend import keras, register, tf
from tfgancomp.layers.normalization import InstanceNorm
from tfgancomp.layers.resize import resize_nearest
from tfgancomp.layers.separable import SEPARABLE_NORMS, SeparableConv
from tfgancomp.validation import check_choice, check_positive_int

PARAM_FREE_NORMS = ("batch", "instance")


@register
class SPADE(keras.layers.Layer):
    """Spatially-adaptive denormalization, called on ``[x, segmap]``.

    ``out = norm(x) * (1 + γ(seg)) + β(seg)``: a parameter-free normalization of ``x``; the label map resized
    (nearest, PyTorch alignment) to ``x``'s resolution goes through a shared 3×3 conv + ReLU with ``nhidden``
    channels, then two 3×3 convs produce γ and β with ``x``'s channel count.

    Args:
        nhidden: Channels of the shared conv (128 in GauGAN).
        kernel_size: Kernel of the shared, γ and β convolutions.
        param_free_norm: ``"batch"`` (GauGAN's synchronized batch norm; folds into MUL/ADD at inference) or
            ``"instance"``.
        epsilon: Epsilon of the parameter-free normalization.
        **kwargs: Standard Keras layer arguments.
    """

    def __init__(
        self,
        nhidden: int = 128,
        kernel_size: int = 3,
        param_free_norm: str = "batch",
        epsilon: float = 1e-5,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.nhidden = check_positive_int(f"{type(self).__name__} nhidden", nhidden)
        self.kernel_size = check_positive_int(f"{type(self).__name__} kernel_size", kernel_size)
        if self.kernel_size % 2 != 1:
            raise ValueError(f"{type(self).__name__} kernel_size must be odd, got {kernel_size!r}")
        check_choice(f"{type(self).__name__} param_free_norm", param_free_norm, PARAM_FREE_NORMS)
        self.param_free_norm = param_free_norm
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__} is called on [x, segmap]; got input shape {input_shape!r}")
        x_shape, seg_shape = (tuple(s) for s in input_shape)
        self.norm_nc, self.label_nc = x_shape[-1], seg_shape[-1]
        if self.norm_nc is None or self.label_nc is None:
            raise ValueError(f"{type(self).__name__} needs known channel counts, got {input_shape!r}")
        if self.param_free_norm == "batch":
            self.norm = keras.layers.BatchNormalization(
                center=False, scale=False, momentum=0.9, epsilon=self.epsilon, name="param_free_norm"
            )
        else:
            self.norm = InstanceNorm(epsilon=self.epsilon, name="param_free_norm")
        self.mlp_shared = keras.layers.Conv2D(
            self.nhidden, self.kernel_size, padding="same", activation="relu", name="mlp_shared"
        )
        self.mlp_gamma = self._modulation(self.norm_nc, "mlp_gamma")
        self.mlp_beta = self._modulation(self.norm_nc, "mlp_beta")
        super().build(input_shape)

    def _modulation(self, channels: int, name: str):
        return keras.layers.Conv2D(channels, self.kernel_size, padding="same", name=name)

    def call(self, inputs, training=None):
        x, seg = inputs
        static = x.shape[1] is not None and x.shape[2] is not None
        if not static or x.shape[1:3] != seg.shape[1:3]:
            seg = resize_nearest(seg, list(x.shape[1:3]) if static else tf.shape(x)[1:3])
        normalized = self.norm(x, training=training)
        actv = self.mlp_shared(seg)
        return normalized * (1.0 + self.mlp_gamma(actv)) + self.mlp_beta(actv)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {
            **super().get_config(),
            "nhidden": self.nhidden,
            "kernel_size": self.kernel_size,
            "param_free_norm": self.param_free_norm,
            "epsilon": self.epsilon,
        }


@register
class MobileSPADE(SPADE):
    """SPADE whose γ and β are :class:`SeparableConv` blocks, as in GAN Compression's mobile GauGAN.

    Args:
        nhidden: Channels of the shared conv (``2·ngf`` in the mobile generator).
        kernel_size: Kernel of the shared conv and of the separable blocks' depthwise convs.
        param_free_norm: ``"batch"`` or ``"instance"``.
        separable_norm: Normalization inside the separable blocks, ``"instance"`` (reference) or ``"none"``.
        epsilon: Epsilon of the parameter-free normalization.
        **kwargs: Standard Keras layer arguments.
    """

    def __init__(self, nhidden: int = 128, separable_norm: str = "instance", **kwargs):
        super().__init__(nhidden=nhidden, **kwargs)
        check_choice("MobileSPADE separable_norm", separable_norm, SEPARABLE_NORMS)
        self.separable_norm = separable_norm

    def _modulation(self, channels: int, name: str):
        return SeparableConv(
            channels, self.kernel_size, padding=self.kernel_size // 2, norm=self.separable_norm, name=name
        )

    def get_config(self):
        return {**super().get_config(), "separable_norm": self.separable_norm}
