from __future__ import annotations

import numpy as np
import pytest

from mobile_export import gpu_compatibility, parity, run, run_batch, to_tflite
from tests.harness import randomize, single_layer_model
from tests.numerics import float32_budget
from tfgancomp.backend import keras, tf
from tfgancomp.layers import (
    SPADE,
    AvgPoolExcludePad,
    InstanceNorm,
    MobileSPADE,
    NearestDownsample,
    ReflectionPad2D,
    SeparableConv,
)

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(0, 1, shape).astype(np.float32)


def numpy_instance_norm(x, eps=1e-5):
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm_matches_numpy(affine):
    x = rand(2, 5, 7, 3) * 3 + 1
    layer = InstanceNorm(affine=affine)
    out = layer(x).numpy()
    expected = numpy_instance_norm(x)
    if affine:
        assert len(layer.trainable_weights) == 2
        layer.gamma.assign([2.0, 1.0, 0.5])
        layer.beta.assign([0.0, 1.0, -1.0])
        out = layer(x).numpy()
        expected = expected * np.array([2.0, 1.0, 0.5]) + np.array([0.0, 1.0, -1.0])
    else:
        assert layer.weights == []
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_instance_norm_float32_export_stays_exact_on_large_maps():
    # A 128×128 map that is constant over 92 % of its pixels (an edge map's background through a conv), far from
    # zero relative to its spread: one 16 384-term float32 sum per mean put Keras and the TFLite export 2e-4 away
    # from exact arithmetic (1e-3 on a trained student's stem); the W-then-H reduction keeps both within 1e-5.
    rng = np.random.default_rng(3)
    foreground = rng.random(size=(1, 128, 128, 1)) < 0.08
    x = (np.linspace(-1.5, 1.5, 8) + foreground * rng.normal(size=(1, 128, 128, 8)) * 0.5).astype(np.float32)
    exact = numpy_instance_norm(x.astype(np.float64))
    model = single_layer_model(InstanceNorm(), (128, 128, 8))
    assert np.abs(run(to_tflite(model), x)[0] - exact).max() <= 2e-5
    assert np.abs(model(x).numpy() - exact).max() <= 2e-5
    # Quantization-aware training switches to the single MEAN over H·W that the int8 kernel computes.
    layer = InstanceNorm()
    layer.int8_mean = True
    assert np.abs(layer(x).numpy() - exact).max() <= 1e-3


def test_reflection_pad_matches_numpy_reflect():
    x = rand(1, 6, 5, 2)
    out = ReflectionPad2D(((1, 2), (3, 1)))(x).numpy()
    expected = np.pad(x, ((0, 0), (1, 2), (3, 1), (0, 0)), mode="reflect")
    np.testing.assert_array_equal(out, expected)
    assert ReflectionPad2D(2).compute_output_shape((None, 6, 5, 2)) == (None, 10, 9, 2)


def test_separable_conv_is_depthwise_norm_pointwise():
    x = rand(1, 8, 8, 3)
    layer = SeparableConv(5, 3, padding=1)
    out = layer(x).numpy()
    dw = layer.depthwise(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]) if not layer._same else x)
    expected = layer.pointwise(numpy_instance_norm(dw.numpy())).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert out.shape == (1, 8, 8, 5)
    assert SeparableConv(4, 3, padding=0)(x).shape == (1, 6, 6, 4)
    no_norm = SeparableConv(4, 3, norm="none")
    no_norm(x)
    assert no_norm.inner_norm is None


def test_nearest_downsample_picks_pytorch_pixels():
    x = np.arange(8 * 8, dtype=np.float32).reshape(1, 8, 8, 1)
    out = NearestDownsample(4)(x).numpy()
    # F.interpolate(mode="nearest") takes source index floor(dst * in / out): rows/cols 0 and 4.
    np.testing.assert_array_equal(out[0, :, :, 0], x[0, ::4, ::4, 0])


def test_avg_pool_exclude_pad_matches_manual():
    x = rand(1, 6, 6, 2)
    out = AvgPoolExcludePad()(x).numpy()
    assert out.shape == (1, 3, 3, 2)
    for i in range(3):
        for j in range(3):
            rows = slice(max(2 * i - 1, 0), min(2 * i + 2, 6))
            cols = slice(max(2 * j - 1, 0), min(2 * j + 2, 6))
            np.testing.assert_allclose(out[0, i, j], x[0, rows, cols].mean(axis=(0, 1)), atol=1e-5)


@pytest.mark.parametrize("cls", [SPADE, MobileSPADE])
@pytest.mark.parametrize("param_free_norm", ["instance", "batch"])
def test_spade_denormalizes_with_label_conditioned_gamma_beta(cls, param_free_norm):
    x, seg = rand(1, 4, 4, 6), rand(1, 8, 8, 3)
    layer = cls(nhidden=5, param_free_norm=param_free_norm)
    out = layer([x, seg], training=False).numpy()
    seg_small = seg[:, ::2, ::2, :]  # nearest downsampling by 2, PyTorch alignment
    actv = layer.mlp_shared(seg_small)
    gamma, beta = layer.mlp_gamma(actv).numpy(), layer.mlp_beta(actv).numpy()
    if param_free_norm == "instance":
        normalized = numpy_instance_norm(x)
    else:  # fresh batch norm at inference: mean 0, variance 1
        normalized = x / np.sqrt(1 + 1e-5)
    np.testing.assert_allclose(out, normalized * (1 + gamma) + beta, atol=1e-4)
    if cls is MobileSPADE:
        assert isinstance(layer.mlp_gamma, SeparableConv)


LAYER_CASES = [
    (lambda: InstanceNorm(affine=True), [(8, 8, 3)]),
    (lambda: ReflectionPad2D(2), [(8, 8, 3)]),
    (lambda: SeparableConv(4, 3, padding=1), [(8, 8, 3)]),
    (lambda: SeparableConv(4, 3, strides=2, padding=1), [(8, 8, 3)]),
    (lambda: SPADE(nhidden=4, param_free_norm="batch"), [(4, 4, 3), (8, 8, 2)]),
    (
        lambda: MobileSPADE(nhidden=4, param_free_norm="instance", separable_norm="none"),
        [(4, 4, 3), (8, 8, 2)],
    ),
    (lambda: NearestDownsample(2), [(8, 8, 3)]),
    (lambda: AvgPoolExcludePad(), [(8, 8, 3)]),
]


@pytest.mark.parametrize("make,shapes", LAYER_CASES)
def test_layer_serialization_round_trip(make, shapes, tmp_path):
    model = single_layer_model(make(), *shapes)
    randomize(model)
    inputs = [rand(1, *s) for s in shapes]
    feed = inputs if len(inputs) > 1 else inputs[0]
    layer = model.layers[-1]
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(feed).numpy(), model(feed).numpy())  # same layer, same weights, same kernels


@pytest.mark.parametrize("make,shapes", LAYER_CASES)
def test_layer_lowers_to_gpu_delegate_ops_with_parity(make, shapes):
    if len(shapes) > 1:  # SPADE: x is a pooled copy of the label map, so the model has one input
        seg = keras.Input(shape=shapes[1])
        x = keras.layers.Conv2D(shapes[0][-1], 1)(keras.layers.AveragePooling2D(2)(seg))
        model = keras.Model(seg, make()([x, seg]))
        shapes = shapes[1:]
    else:
        model = single_layer_model(make(), *shapes)
    randomize(model)
    content = to_tflite(model)
    x = rand(2, *shapes[0])
    budget = float32_budget(model, x)  # the same model in float64 sets the bound (tests/numerics.py)
    budget.check(run_batch(content, x), "float32 TFLite")
    assert parity(model, content, x).max_abs <= 2 * budget.bound
    compat = gpu_compatibility(content)
    assert compat.compatible, compat


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: InstanceNorm(epsilon=0), "epsilon"),
        (lambda: ReflectionPad2D(-1), "-1"),
        (lambda: SeparableConv(0), "filters"),
        (lambda: SeparableConv(4, norm="batchy"), "batchy"),
        (lambda: SPADE(param_free_norm="group"), "group"),
        (lambda: SPADE(kernel_size=4), "odd"),
        (lambda: MobileSPADE(separable_norm="layer"), "layer"),
        (lambda: NearestDownsample(0), "0"),
    ],
)
def test_bad_layer_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()
