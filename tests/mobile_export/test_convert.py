from __future__ import annotations

import numpy as np
import pytest

from mobile_export import (
    ConvertSettings,
    gpu_compatibility,
    interpreter_class,
    make_interpreter,
    parity,
    run,
    run_batch,
    to_tflite,
)
from tests.harness import GENERATOR_ARCHS, TINY, randomize, tiny_input, tiny_model
from tests.numerics import float32_budget, unsaturate
from tfgancomp.backend import keras


@pytest.fixture(scope="module", params=GENERATOR_ARCHS)
def exported(request):
    arch = request.param
    model = tiny_model(arch, fixed=False)  # dynamic size: the export fixes it
    randomize(model, seed=1)
    unsaturate(model, tiny_input(model, arch, batch=3, seed=2))  # random SPADE weights saturate tanh at ±1
    _, size = TINY[arch]
    return arch, model, to_tflite(model, input_size=size)


def test_float32_export_matches_keras(exported):
    """The float32 TFLite model is as close to the float64 model as Keras float32 is (tests/numerics.py).

    The tiny sub-mobile SPADE at 64×32 instance-normalizes 2×1 maps in its head: Keras float32 itself is ~2e-3
    from float64 there (measured), so its bound is wide; the other families' bounds are ~6e-5.
    """
    arch, model, content = exported
    inputs = tiny_input(model, arch, batch=3, seed=2)
    budget = float32_budget(model, inputs)
    budget.check(run_batch(content, inputs), f"{arch} float32 TFLite")
    result = parity(model, content, inputs)
    assert result.samples == 3 and result.max_abs <= 2 * budget.bound  # both within the bound of float64


def test_export_is_batch_one_fixed_shape_float32(exported):
    arch, model, content = exported
    interpreter = make_interpreter(content)
    (detail,) = interpreter.get_input_details()
    _, (h, w) = TINY[arch]
    assert tuple(detail["shape"]) == (1, h, w, model.inputs[0].shape[-1])
    assert detail["dtype"] == np.float32
    assert interpreter.get_output_details()[0]["dtype"] == np.float32


def test_export_is_fully_gpu_delegate_compatible(exported):
    _, _, content = exported
    result = gpu_compatibility(content)
    assert result.analyzer_compatible, result.warnings
    assert result.unsupported_ops == ()
    assert result.compatible
    assert "CONV_2D" in result.ops and "FlexConv2D" not in result.ops


def test_gpu_compatibility_flags_ops_outside_the_delegate():
    from mobile_export._backend import tf

    @tf.function(input_signature=[tf.TensorSpec((1, 8, 8, 3), tf.float32)])
    def top(x):
        return tf.math.top_k(tf.reshape(x, [1, 192]), k=4).values

    content = tf.lite.TFLiteConverter.from_concrete_functions([top.get_concrete_function()]).convert()
    result = gpu_compatibility(content)
    assert not result.compatible and result.unsupported_ops == ("TOPK_V2",)


def test_float16_export_halves_the_weights_and_computes_with_float16_rounded_weights():
    """float16 export = float16 weights, float32 arithmetic: it is the model with float16-rounded weights.

    So the reference is that model (weights rounded to float16) in float64, with the float32 bound of
    tests/numerics.py; the original float32 model lies outside it (the check sees the rounding it tolerates).
    """
    model = tiny_model("resnet", ngf=8)
    randomize(model, seed=3)
    x = tiny_input(model, "resnet", seed=4)
    unsaturate(model, x)
    f32, f16 = to_tflite(model), to_tflite(model, precision="float16")
    assert len(f16) < 0.7 * len(f32)
    rounded = type(model).from_config(model.get_config())
    rounded.set_weights([w.astype(np.float16).astype(np.float32) for w in model.get_weights()])
    budget = float32_budget(rounded, x)
    budget.check(run_batch(f16, x), "float16 TFLite")
    assert budget.error(model(x)) > 10 * budget.bound  # float16 rounding of the weights is far above the bound


def test_dynamic_input_needs_a_size():
    model = tiny_model("resnet", fixed=False)
    with pytest.raises(ValueError, match="dynamic shape.*input_size"):
        to_tflite(model)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"precision": "int4"}, "int4"),
        ({"input_size": (32,)}, "height, width"),
        ({"input_size": (0, 8)}, "0"),
    ],
)
def test_bad_settings_raise_value_error(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ConvertSettings(**kwargs)


def test_runtime_prefers_litert_and_rejects_garbage(tmp_path):
    assert interpreter_class()[1] == "ai_edge_litert"
    with pytest.raises(ValueError, match="model bytes is not a loadable TFLite model"):
        make_interpreter(b"definitely not a flatbuffer")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="bad.tflite"):
        make_interpreter(bad)


def test_run_checks_input_shapes():
    inputs = keras.Input(batch_shape=(1, 4, 4, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    content = to_tflite(model)
    assert run(content, np.zeros((1, 4, 4, 3), np.float32))[0].shape == (1, 4, 4, 2)
    with pytest.raises(ValueError, match=r"expects shape \(1, 4, 4, 3\)"):
        run(content, np.zeros((1, 5, 4, 3), np.float32))
