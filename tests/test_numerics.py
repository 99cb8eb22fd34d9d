"""The float32 bounds of tests/numerics.py hold for healthy models and reject real defects.

Every Keras-vs-TFLite, supernet-vs-subnet and graph-vs-eager check of the suite uses these bounds; here each kind of
defect such a check exists to catch (a one-channel slicing mistake, a dropped bias, a wrong padding mode) is planted
in an otherwise identical model and shown to land far outside the bound.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from mobile_export import run_batch, to_tflite
from tests.harness import GENERATOR_ARCHS, TINY, randomize, tiny_input, tiny_model
from tests.numerics import FACTOR, dot_error_bound, float32_budget, float64_twin, unsaturate
from tfgancomp.backend import keras, tf
from tfgancomp.layers import ReflectionPad2D


def _healthy(arch):
    model = tiny_model(arch)
    randomize(model, seed=1)
    x = tiny_input(model, arch, batch=2, seed=2)
    unsaturate(model, x)
    head = model.layers[-2]  # a bias that matters next to the pre-tanh peak of 2 (random SPADE scales it to ~0)
    head.set_weights([head.get_weights()[0], np.random.default_rng(3).normal(0, 0.3, head.bias.shape)])
    return model, x


def _middle_conv(model):
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D) and layer.kernel.shape[2] > 1]
    return convs[len(convs) // 2]


def shift_one_input_channel(model):
    """A slicing mistake: one mid-network conv reads its input channels off by one (``K[:, :, 1:c+1]``)."""
    layer = _middle_conv(model)
    kernel, *rest = layer.get_weights()
    return layer, [np.roll(kernel, 1, axis=2), *rest]


def drop_one_bias(model):
    """A dropped bias: the last conv (before tanh) loses its bias."""
    head = model.layers[-2]
    kernel, bias = head.get_weights()
    return head, [kernel, np.zeros_like(bias)]


@contextlib.contextmanager
def planted(model, defect):
    """``model`` with ``defect`` planted in one layer's weights for the duration of the block."""
    layer, weights = defect(model)
    healthy = layer.get_weights()
    layer.set_weights(weights)
    try:
        yield model
    finally:
        layer.set_weights(healthy)


@pytest.mark.parametrize("arch", ["resnet", "mobile_resnet", "sub_mobile_resnet", "sub_mobile_spade"])
def test_bound_accepts_float32_keras_and_rejects_planted_defects(arch):
    model, x = _healthy(arch)
    budget = float32_budget(model, x)
    assert budget.keras_error <= budget.bound / FACTOR  # Keras float32 itself is the yardstick
    budget.check(model(x), "healthy Keras float32")
    assert float(np.std(budget.reference)) > 0.1  # not saturated: a difference would show
    for defect in (shift_one_input_channel, drop_one_bias):
        with planted(model, defect) as broken:
            error = budget.error(broken(x))
        assert error > 10 * budget.bound, (defect.__name__, error, budget.bound)


def test_bound_rejects_zero_padding_instead_of_reflection(monkeypatch):
    model, x = _healthy("sub_mobile_resnet")
    budget = float32_budget(model, x)

    def zero_pad(self, inputs):
        (top, bottom), (left, right) = self.padding
        return tf.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]])

    monkeypatch.setattr(ReflectionPad2D, "call", zero_pad)
    assert budget.error(model(x)) > 10 * budget.bound


def test_bound_rejects_a_defective_tflite_export():
    model, x = _healthy("resnet")
    budget = float32_budget(model, x)
    with planted(model, shift_one_input_channel) as broken:
        content = to_tflite(broken)
    assert budget.error(run_batch(content, x)) > 10 * budget.bound


def test_float64_twin_computes_in_float64_with_the_same_weights():
    model, x = _healthy("sub_mobile_resnet")
    twin = float64_twin(model)
    assert {w.dtype for w in twin.weights} == {tf.float64}
    y = twin(x.astype(np.float64)).numpy()
    assert y.dtype == np.float64
    # Same function: float32 Keras is within float32 rounding of it, and a shifted channel is not.
    assert np.abs(model(x).numpy() - y).max() < 1e-4
    with planted(model, shift_one_input_channel) as broken:
        assert np.abs(broken(x).numpy() - y).max() > 1e-2


def test_dot_error_bound_holds_for_a_long_float32_sum_and_is_not_vacuous():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(64, 4096)), rng.normal(size=(64, 4096))
    exact = np.sum(a * b, axis=1)
    sequential = np.zeros(64, np.float32)
    for i in range(4096):  # the worst order: a running float32 sum
        sequential = sequential + a[:, i].astype(np.float32) * b[:, i].astype(np.float32)
    bound = dot_error_bound(4096, np.sum(np.abs(a * b), axis=1))
    error = np.abs(sequential - exact)
    assert np.all(error <= bound)
    assert np.all(bound < 0.01 * np.sum(np.abs(a * b), axis=1))  # far below the terms: a defect would not hide


def test_tiny_sizes_of_the_harness_are_the_ones_checked():
    assert set(TINY) >= set(GENERATOR_ARCHS)
