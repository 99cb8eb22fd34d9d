"""TFMOT ``QuantizeConfig``s for the layers of ``tfgancomp``, kept as one registry table.

The placement follows what the TFLite converter will do with the model, so that the quantization-aware (QAT) Keras
model computes what the int8 ``.tflite`` computes ("float normalization islands"):

- every convolution kernel (also those inside :class:`SeparableConv` and the SPADE layers) is fake-quantized as
  TFLite stores it: per output channel for ``Conv2D``, per tensor for ``DepthwiseConv2D`` and ``Conv2DTranspose``
  (TFMOT's own choice for them);
- every convolution's output is fake-quantized (an int8 tensor in TFLite), including the inner ones of the
  composite layers (depthwise output, SPADE's shared / γ / β convs);
- normalization (``InstanceNorm``, SPADE's parameter-free norm and its ``x·(1+γ)+β``) stays in float: the converter
  brackets it with DEQUANTIZE / QUANTIZE, and the next fake-quant (the ReLU after the norm, the separable block's
  ``norm_activation`` hook, the SPADE output) gives the int8 range it is quantized back to. A naive placement that
  quantizes the norm's inner tensors without matching fake-quants is the known trap (design.md): the converter
  then invents ranges the QAT model never saw;
- range-preserving layers (``ReflectionPad2D``, ``NearestDownsample``) pass their input's quantization through.

:data:`QUANTIZE_CONFIGS` maps each layer class to the config that handles it; Keras' own layers use TFMOT's default
8-bit registry.
"""

from __future__ import annotations

from tfgancomp.backend import keras, register
from tfgancomp.layers import (
    SPADE,
    InstanceNorm,
    MobileSPADE,
    NearestDownsample,
    ReflectionPad2D,
    SeparableConv,
)
from tfgancomp.quantize._tfmot import default_8bit_quantizers, tfmot

_quantizers = tfmot.quantization.keras.quantizers
_default = default_8bit_quantizers


class _Named:
    """A quantizer whose variables get a prefix (two inner convs of one layer both have a ``kernel``)."""

    def __init__(self, quantizer, prefix: str):
        self.quantizer, self.prefix = quantizer, prefix

    def build(self, tensor_shape, name, layer):
        return self.quantizer.build(tensor_shape, f"{self.prefix}_{name}", layer)

    def __call__(self, inputs, training, weights, **kwargs):
        return self.quantizer(inputs, training, weights, **kwargs)


def _activation_quantizer():
    return _quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)


def _kernel_quantizer(conv):
    if isinstance(conv, keras.layers.Conv2DTranspose):
        return _default.Default8BitConvTransposeWeightsQuantizer()
    if isinstance(conv, keras.layers.DepthwiseConv2D):
        return _quantizers.LastValueQuantizer(num_bits=8, per_axis=False, symmetric=True, narrow_range=True)
    return _default.Default8BitConvWeightsQuantizer()


def _kernel_attr(conv) -> str:
    return "depthwise_kernel" if isinstance(conv, keras.layers.DepthwiseConv2D) else "kernel"


class _Hook:
    """Where a fake-quant goes: ``owner.attr`` (an activation function the owner applies)."""

    def __init__(self, owner, attr: str, name: str):
        self.owner, self.attr, self.name = owner, attr, name


def _inner_points(layer, prefix: str = ""):
    """The convolutions and activation hooks inside a composite layer, in call order."""
    convs, hooks = [], []
    if isinstance(layer, InstanceNorm):
        hooks.append(_Hook(layer, "mean_activation", f"{prefix}mean"))
    elif isinstance(layer, SeparableConv):
        convs.append((layer.depthwise, f"{prefix}depthwise"))
        hooks.append(_Hook(layer.depthwise, "activation", f"{prefix}depthwise"))
        if layer.inner_norm is not None:
            hooks += _inner_points(layer.inner_norm, f"{prefix}norm_")[1]
            hooks.append(_Hook(layer, "norm_activation", f"{prefix}norm"))
        convs.append((layer.pointwise, f"{prefix}pointwise"))
        hooks.append(_Hook(layer.pointwise, "activation", f"{prefix}pointwise"))
    elif isinstance(layer, SPADE):
        if isinstance(layer.norm, InstanceNorm):
            hooks += _inner_points(layer.norm, f"{prefix}norm_")[1]
        convs.append((layer.mlp_shared, f"{prefix}shared"))
        hooks.append(_Hook(layer.mlp_shared, "activation", f"{prefix}shared"))
        for name in ("mlp_gamma", "mlp_beta"):
            sub = getattr(layer, name)
            if isinstance(sub, SeparableConv):
                c, h = _inner_points(sub, f"{prefix}{name}_")
                convs += c
                hooks += h
            else:
                convs.append((sub, f"{prefix}{name}"))
                hooks.append(_Hook(sub, "activation", f"{prefix}{name}"))
    return convs, hooks


@register
class CompositeQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """Fake-quant inside a composite layer: its convolutions' kernels and outputs, and its own output.

    For separable blocks, SPADE, mobile SPADE and InstanceNorm (its int8 MEAN); normalization stays a float
    island (see the module docstring).
    """

    def __init__(self, quantize_output: bool = True):
        self.quantize_output = quantize_output

    def get_weights_and_quantizers(self, layer):
        convs, _ = _inner_points(layer)
        return [(getattr(c, _kernel_attr(c)), _Named(_kernel_quantizer(c), name)) for c, name in convs]

    def get_activations_and_quantizers(self, layer):
        _, hooks = _inner_points(layer)
        return [(getattr(h.owner, h.attr), _Named(_activation_quantizer(), h.name)) for h in hooks]

    def set_quantize_weights(self, layer, quantize_weights):
        convs, _ = _inner_points(layer)
        for (conv, _), value in zip(convs, quantize_weights, strict=True):
            setattr(conv, _kernel_attr(conv), value)

    def set_quantize_activations(self, layer, quantize_activations):
        _, hooks = _inner_points(layer)
        for hook, value in zip(hooks, quantize_activations, strict=True):
            setattr(hook.owner, hook.attr, value)
            if isinstance(hook.owner, InstanceNorm):
                hook.owner.int8_mean = True  # one MEAN over H·W, as the int8 model computes it

    def get_output_quantizers(self, layer):
        # A separable block's output is its pointwise conv's (already fake-quantized by the hook); a norm's is a
        # float island's.
        if self.quantize_output and not isinstance(layer, (SeparableConv, InstanceNorm)):
            return [_activation_quantizer()]
        return []

    def get_config(self):
        return {"quantize_output": self.quantize_output}


@register
class FloatIslandQuantizeConfig(tfmot.quantization.keras.QuantizeConfig):
    """No fake-quant at all: the layer passes its input's int8 range through unchanged (padding, resizing)."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return []

    def get_config(self):
        return {}


#: Layer class → the QuantizeConfig for it (Keras' own layers: TFMOT's default 8-bit registry).
QUANTIZE_CONFIGS = {
    InstanceNorm: CompositeQuantizeConfig,  # int8 MEAN (as the converter makes it), the rest a float island
    ReflectionPad2D: FloatIslandQuantizeConfig,  # MIRROR_PAD keeps its input's scale
    NearestDownsample: FloatIslandQuantizeConfig,  # a gather: keeps its input's scale
    SeparableConv: CompositeQuantizeConfig,  # depthwise → (float norm) → pointwise
    SPADE: CompositeQuantizeConfig,  # shared / γ / β convs int8, norm·(1+γ)+β float
    MobileSPADE: CompositeQuantizeConfig,  # γ / β as separable blocks
}


def config_for(layer):
    """The registry's QuantizeConfig for ``layer`` (most specific class first), or ``None`` for Keras' layers."""
    for cls in type(layer).__mro__:
        if cls in QUANTIZE_CONFIGS:
            return QUANTIZE_CONFIGS[cls]()
    return None


def scope_objects() -> dict:
    """Custom objects for loading a QAT model (with ``tfmot.quantization.keras.quantize_scope``)."""
    return {"CompositeQuantizeConfig": CompositeQuantizeConfig, "FloatIslandQuantizeConfig": FloatIslandQuantizeConfig}
