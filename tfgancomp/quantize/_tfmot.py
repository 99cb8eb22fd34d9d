"""TensorFlow Model Optimization, imported after :mod:`tfgancomp.backend` chose Keras 2 (``tf_keras``)."""

import tfgancomp.backend  # noqa: F401, I001 - sets TF_USE_LEGACY_KERAS before TFMOT loads
import tensorflow_model_optimization as tfmot

# the conv / transposed-conv weight quantizers TFMOT's registry uses (no public alias)
from tensorflow_model_optimization.python.core.quantization.keras import quant_ops
from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import default_8bit_quantizers

__all__ = ["default_8bit_quantizers", "quant_ops", "tfmot"]
