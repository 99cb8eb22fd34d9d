"""Reflection padding, as ``torch.nn.ReflectionPad2d``."""

from __future__ import annotations

from tfgancomp.backend import keras, register, tf


def _pairs(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(padding, int):
        padding = ((padding, padding), (padding, padding))
    elif len(padding) == 2 and all(isinstance(p, int) for p in padding):
        padding = ((padding[0], padding[0]), (padding[1], padding[1]))
    try:
        (top, bottom), (left, right) = padding
        pairs = ((int(top), int(bottom)), (int(left), int(right)))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"ReflectionPad2D padding must be an int, (pad_h, pad_w) or ((top, bottom), (left, right)); got {padding!r}"
        ) from err
    if any(p < 0 for pair in pairs for p in pair):
        raise ValueError(f"ReflectionPad2D padding must be >= 0, got {padding!r}")
    return pairs


@register
class ReflectionPad2D(keras.layers.Layer):
    """Pads H and W of an NHWC tensor by reflection (edge pixel not repeated).

    Lowers to TFLite MIRROR_PAD in REFLECT mode, which the GPU delegate accepts.

    Args:
        padding: ``int``, ``(pad_h, pad_w)`` or ``((top, bottom), (left, right))``. Each pad must be smaller
            than the padded dimension.
        **kwargs: Standard Keras layer arguments.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding)

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        return tf.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="REFLECT")

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (a, b) in zip((1, 2), self.padding, strict=True):
            if shape[axis] is not None:
                shape[axis] = shape[axis] + a + b
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding]}
