"""tfgancomp.quantize: QAT copies of every generator family whose int8 TFLite computes what the QAT model does."""

from __future__ import annotations

import numpy as np
import pytest

from mobile_export import psnr, run_batch, to_tflite
from tfgancomp.backend import keras
from tfgancomp.layers import InstanceNorm, ReflectionPad2D, SeparableConv
from tfgancomp.models import ResNetGenerator, SubMobileResNetGenerator, SubMobileSPADEGenerator
from tfgancomp.quantize import (
    CompositeQuantizeConfig,
    FloatIslandQuantizeConfig,
    calibrate_ranges,
    config_for,
    load_qat,
    quantize_model,
)


def _inputs(model, n=4, seed=0):
    rng = np.random.default_rng(seed)
    h, w, c = model.inputs[0].shape[1:]
    if getattr(model, "family", None) == "spade":
        return np.eye(c, dtype=np.float32)[rng.integers(0, c, (n, h, w))]
    return rng.uniform(-1, 1, (n, h, w, c)).astype(np.float32)


# Least PSNR of the int8 TFLite model vs the calibrated QAT Keras model on these untrained, seeded models
# (measured 41-59 dB for the ResNet family and 31-35 dB for SPADE over runs; printed by the test). Trained
# models: benchmarks/qat_int8.py.
CASES = [
    (lambda: ResNetGenerator(ngf=4, n_blocks=2, height=32, width=32), 35.0),
    (lambda: SubMobileResNetGenerator("4_4_4_4_4_4_4_4", n_blocks=3, height=32, width=32), 35.0),
    (lambda: SubMobileSPADEGenerator("2_2_2_2_2_2_2_2", label_nc=4, height=32, width=32), 28.0),
]


@pytest.mark.parametrize("make, least", CASES, ids=["resnet", "sub_mobile_resnet", "sub_mobile_spade"])
def test_qat_copy_leaves_the_input_alone_and_int8_follows_it(make, least, tmp_path):
    keras.utils.set_random_seed(0)
    model = make()
    x = _inputs(model)
    before_weights, before_out = model.get_weights(), model(x).numpy()
    qat = quantize_model(model)
    assert qat.tap_layer_names() == ["quant_" + n for n in model.tap_layer_names()]
    assert calibrate_ranges(qat, [x[:2], x[2:]]) == 2
    qat_out = qat(x, training=False).numpy()
    assert all(np.array_equal(a, b) for a, b in zip(before_weights, model.get_weights(), strict=True))
    assert np.array_equal(model(x).numpy(), before_out)
    int8 = run_batch(to_tflite(qat, "int8"), x)  # no representative data: the fake-quant ranges
    measured = psnr(qat_out, int8)
    print(f"{model.name}: int8 TFLite vs QAT Keras {measured:.1f} dB")
    assert measured >= least
    path = str(tmp_path / "qat.keras")
    qat.save(path)
    again = load_qat(path)
    assert np.array_equal(again(x, training=False).numpy(), qat_out)
    assert again.float_model().get_config() == model.get_config()


def test_registry_table_and_clear_errors():
    assert isinstance(config_for(InstanceNorm()), CompositeQuantizeConfig)
    assert isinstance(config_for(SeparableConv(4)), CompositeQuantizeConfig)
    assert isinstance(config_for(ReflectionPad2D(1)), FloatIslandQuantizeConfig)
    assert config_for(keras.layers.Conv2D(4, 3)) is None  # TFMOT's default registry
    model = SubMobileResNetGenerator("4_4_4_4_4_4_4_4", n_blocks=3, height=32, width=32)
    qat = quantize_model(model)
    with pytest.raises(ValueError, match="already quantization-aware"):
        quantize_model(qat)

    class Odd(keras.layers.Layer):
        def call(self, x):
            return x * 2.0

    inputs = keras.Input((8, 8, 3))
    odd = keras.Model(inputs, Odd(name="odd_layer")(inputs))
    with pytest.raises(ValueError, match="cannot make"):
        quantize_model(odd)
