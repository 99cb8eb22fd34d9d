"""VGG-19 perceptual loss (GauGAN's), with weights read from a local file only."""

from __future__ import annotations

import os

from tfgancomp.backend import keras, tf
from tfgancomp.train.losses import l1

#: relu1_1 … relu5_1 (Keras' conv layers include their ReLU) and GauGAN's weights for them.
VGG_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)
_CAFFE_MEAN = (103.939, 116.779, 123.68)  # BGR means of the Keras VGG weights


class VGGPerceptual:
    """Per-example weighted L1 between VGG-19 features of two image batches in [-1, 1].

    Args:
        weights_path: A Keras weights file of ``VGG19(include_top=False)`` (e.g.
            ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``); never downloaded.

    Raises:
        ValueError: When the file is missing or does not fit VGG-19.
    """

    def __init__(self, weights_path: str):
        if not os.path.isfile(weights_path):
            raise ValueError(f"VGG-19 weights file {weights_path} does not exist (weights are never downloaded)")
        vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
        try:
            vgg.load_weights(weights_path)
        except (ValueError, OSError) as err:
            raise ValueError(f"{weights_path}: not VGG-19 (no top) weights: {err}") from err
        vgg.trainable = False
        self.model = keras.Model(vgg.input, [vgg.get_layer(n).output for n in VGG_LAYERS], name="vgg19_features")

    def _features(self, images):
        rgb = (tf.clip_by_value(images, -1.0, 1.0) + 1.0) * 127.5
        bgr = rgb[..., ::-1] - tf.constant(_CAFFE_MEAN, tf.float32)
        return self.model(bgr, training=False)

    def __call__(self, images, targets):
        """Per-example loss ``Σ_i w_i · |φ_i(images) - φ_i(targets)|``; targets are not differentiated."""
        total = 0.0
        for w, a, b in zip(VGG_WEIGHTS, self._features(images), self._features(targets), strict=True):
            total += w * l1(a, tf.stop_gradient(b))
        return total
