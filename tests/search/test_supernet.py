from __future__ import annotations

import numpy as np
import pytest

from tests.numerics import dot_error_bound, float32_budget
from tfgancomp.backend import custom_objects, keras, tf
from tfgancomp.layers.elastic import ElasticConv2D, ElasticConv2DTranspose
from tfgancomp.models import SubMobileResNetGenerator
from tfgancomp.search import SearchSpace
from tfgancomp.search.supernet import SuperMobileResNetGenerator, extract_subnet

SPACE = SearchSpace("tiny", "resnet", [[16, 12, 8, 4]] * 8)


def test_extracted_subnets_equal_the_supernet_at_their_configuration_with_one_trace(tmp_path):
    """20 random configurations of the ResNet family; one tf.function trace for all of them.

    The extracted subnet is a plain zoo model, so its float64 twin is the reference: the supernet (traced and
    eager) and the subnet must each stay within the float32 bound of tests/numerics.py (8 × Keras float32's own
    error against float64, at least 64 ulps of the output: ~6e-5 here). A one-channel slicing mistake in the
    extraction moves the output by > 1e-2 (tests/test_numerics.py and the last check below).
    """
    keras.utils.set_random_seed(0)
    supernet = SuperMobileResNetGenerator(ngf=16, n_blocks=3)
    x = tf.random.uniform((2, 32, 32, 3), -1, 1)
    traces = []

    @tf.function
    def run(inputs, config):
        traces.append(1)
        return supernet(inputs, config)

    rng = np.random.default_rng(0)
    configs = [SPACE.largest(), SPACE.smallest()] + [SPACE.sample(rng) for _ in range(18)]
    outputs = []
    for config in configs:
        subnet = extract_subnet(supernet, config, 32, 32)
        assert type(subnet) is SubMobileResNetGenerator and subnet.config_string == SPACE.encode(config)
        budget = float32_budget(subnet, x)
        expected = run(x, tf.constant(config, tf.int32)).numpy()
        budget.check(expected, f"traced supernet at {config}")
        budget.check(supernet(x, config), f"eager supernet at {config}")
        outputs.append(expected)
    assert len(traces) == 1
    assert np.max(np.abs(outputs[0] - outputs[1])) > 1e-3  # configurations really differ
    largest = float32_budget(extract_subnet(supernet, SPACE.largest(), 32, 32), x)
    largest.check(supernet(x), "config=None (the largest)")
    path = str(tmp_path / "subnet.keras")
    subnet.save(path)  # a plain zoo model: saves and loads without supernet code
    loaded = keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    np.testing.assert_array_equal(loaded(x).numpy(), subnet(x).numpy())  # same model, same kernels: bit-identical
    convs = [layer for layer in subnet.layers if isinstance(layer, keras.layers.Conv2D) and layer.kernel.shape[2] > 1]
    conv = convs[len(convs) // 2]
    off_by_one = conv.get_weights()
    off_by_one[0] = np.roll(off_by_one[0], 1, axis=2)
    conv.set_weights(off_by_one)  # the slicing mistake the check exists for
    assert budget.error(subnet(x)) > 10 * budget.bound


def test_supernet_taps_and_bad_configurations():
    supernet = SuperMobileResNetGenerator(ngf=8, n_blocks=3)
    out, taps = supernet(tf.zeros((1, 16, 16, 3)), (8, 4, 4, 8, 4, 8, 4, 8), return_taps=True)
    assert out.shape == (1, 16, 16, 3) and [t.shape[-1] for t in taps] == [16, 16, 16, 16]
    with pytest.raises(ValueError, match="exceeds the supernet's width 8"):
        supernet(tf.zeros((1, 16, 16, 3)), (16, 8, 8, 8, 8, 8, 8, 8))
    with pytest.raises(ValueError, match="8-entry"):
        extract_subnet(supernet, "8_8_8_8_8_8")


def test_elastic_layers_use_the_leading_slice_of_their_widest_kernel():
    """Each elastic output is within Higham's worst-case float32 bound of the float64 convolution with the slice."""
    conv = ElasticConv2D(6, 8, 3)
    x = tf.random.normal((1, 5, 5, 4))
    x64 = tf.cast(x, tf.float64)
    y = conv(x, 5).numpy()
    kernel = tf.cast(conv.kernel[:, :, :4, :5], tf.float64)
    bias = tf.cast(conv.bias[:5], tf.float64)
    exact = (tf.nn.conv2d(x64, kernel, 1, "VALID") + bias).numpy()
    magnitude = (tf.nn.conv2d(tf.abs(x64), tf.abs(kernel), 1, "VALID") + tf.abs(bias)).numpy()
    bound = dot_error_bound(3 * 3 * 4, magnitude)
    assert np.all(np.abs(y - exact) <= bound)
    wrong = (tf.nn.conv2d(x64, tf.cast(conv.kernel[:, :, 1:5, :5], tf.float64), 1, "VALID") + bias).numpy()
    assert np.all(np.abs(y - wrong).max() > 100 * bound.max())  # a slice off by one channel is far outside

    up = ElasticConv2DTranspose(6, 8, 3, 2)
    y = up(x, 3)
    assert y.shape == (1, 10, 10, 3)
    plain = keras.layers.Conv2DTranspose(3, 3, strides=2, dtype="float64")
    plain.build((None, 5, 5, 4))
    weights = [up.kernel.numpy()[:, :, :3, :4], up.bias.numpy()[:3]]
    plain.set_weights(weights)
    exact = plain(x64).numpy()[:, 1:, 1:, :]  # PyTorch's padding=1, output_padding=1 crop
    plain.set_weights([np.abs(w) for w in weights])
    magnitude = plain(tf.abs(x64)).numpy()[:, 1:, 1:, :]
    assert np.all(np.abs(y.numpy() - exact) <= dot_error_bound(3 * 3 * 4, magnitude))


def test_supernet_distillation_samples_configurations_in_one_trace_and_learns():
    from tfgancomp.models import PatchGANDiscriminator, ResNetGenerator
    from tfgancomp.search.training import SupernetDistiller

    keras.utils.set_random_seed(1)
    teacher = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
    supernet = SuperMobileResNetGenerator(ngf=16, n_blocks=3)
    disc = PatchGANDiscriminator(6, 4, height=32, width=32)
    distiller = SupernetDistiller(supernet, teacher, disc, SPACE, sampling="uniform", seed=3)
    assert [m.max_in for m in distiller.mappings] == [64] * 4 and [m.max_out for m in distiller.mappings] == [16] * 4
    configs = {tuple(int(w) for w in distiller.sample_config(step).numpy()) for step in range(40)}
    assert len(configs) >= 30 and all(SPACE.contains(c) for c in configs)
    assert tuple(distiller.sample_config(7).numpy()) == tuple(distiller.sample_config(7).numpy())  # stateless
    sandwich = SupernetDistiller(supernet, teacher, disc, SPACE, sampling="sandwich")
    assert tuple(sandwich.sample_config(3).numpy()) == SPACE.largest()
    assert tuple(sandwich.sample_config(4).numpy()) == SPACE.smallest()

    traces = []
    forward = distiller._student_forward

    def counting(inputs, training):
        traces.append(training)
        return forward(inputs, training)

    distiller._student_forward = counting
    distiller.compile(keras.optimizers.Adam(2e-3, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
    distiller.build_optimizers()  # slot variables exist before the first trace (else TF traces it twice)
    x = tf.random.uniform((8, 32, 32, 3), -1, 1)
    before = float(tf.reduce_mean(distiller.feature_error(x)))
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    history = distiller.fit(tf.data.Dataset.from_tensor_slices((x, x)).batch(2), epochs=6, verbose=0).history
    after = float(tf.reduce_mean(distiller.feature_error(x)))
    assert traces.count(True) == 1, "the train step was traced more than once"
    assert after < before and all(np.isfinite(history["g_loss"]))
    assert all(np.array_equal(a, b) for a, b in zip(teacher_weights, teacher.get_weights(), strict=True))
    with pytest.raises(ValueError, match="over the supernet's 8"):
        SupernetDistiller(SuperMobileResNetGenerator(ngf=8, n_blocks=3), teacher, disc, SPACE)


@pytest.mark.parametrize("param_free_norm", ["batch", "instance"])
def test_spade_extracted_subnets_equal_the_supernet_at_their_configuration(param_free_norm, tmp_path):
    """SPADE family: 3 configurations per norm within the float32 bound of the subnet's float64 twin; one trace.

    With the ResNet family's 20 that is 26 configurations across both families. (A fixed 1e-5 failed on an AMD
    EPYC by 4.3e-5: graph fusion and kernel choice round differently per CPU; the bound is derived instead.)

    The weights are perturbed and the batch-norm statistics moved away from their initial values by training-mode
    calls, so that every sliced tensor matters. Both sides run eagerly: graph-mode op fusion (conv + bias + act)
    rounds differently from the eager kernels by ~1e-5 after seven blocks, on either model alike; the derived
    bound covers both.
    """
    from tfgancomp.models import SubMobileSPADEGenerator
    from tfgancomp.search.supernet import SuperMobileSPADEGenerator

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    space = SearchSpace("tiny", "spade", [[8, 6, 4]] * 5 + [[8, 6, 4, 2]] * 3)
    supernet = SuperMobileSPADEGenerator(ngf=8, label_nc=4, instance=True, param_free_norm=param_free_norm)
    for v in supernet.weights:
        v.assign(v + rng.normal(0, 0.05, v.shape).astype("float32"))
    x = tf.constant(rng.uniform(0, 1, (2, 64, 32, 5)).astype("float32"))
    configs = [space.largest(), space.smallest(), space.sample(rng)]
    for config in configs:
        supernet(x, config, training=True)  # moves the moving statistics (all widths of the batch norms)
    if param_free_norm == "batch":
        assert len(supernet.batch_norms()) == 18  # 7 blocks × 2 + 4 learned shortcuts
        assert float(tf.reduce_max(tf.abs(supernet.batch_norms()[0].moving_mean))) > 1e-3
    else:
        assert supernet.batch_norms() == []
    traces = []

    @tf.function
    def run(inputs, config):
        traces.append(1)
        return supernet(inputs, config, training=False)

    outputs = []
    for config in configs:
        subnet = extract_subnet(supernet, config, 64, 32)
        assert type(subnet) is SubMobileSPADEGenerator and subnet.config_string == space.encode(config)
        budget = float32_budget(subnet, x)  # float64 twin of the extracted subnet (tests/numerics.py)
        expected = supernet(x, config, training=False).numpy()
        budget.check(expected, f"eager supernet at {config}")
        budget.check(run(x, tf.constant(config, tf.int32)), f"traced supernet at {config}")
        outputs.append(expected)
    assert len(traces) == 1
    assert np.max(np.abs(outputs[0] - outputs[1])) > 1e-3
    path = str(tmp_path / "subnet.keras")
    subnet.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    np.testing.assert_array_equal(loaded(x).numpy(), subnet(x).numpy())  # same model, same kernels: bit-identical


def test_elastic_batch_norm_updates_its_active_slice_and_calibrates_to_the_batch_average():
    from tfgancomp.layers.elastic import ElasticBatchNorm

    bn = ElasticBatchNorm(6)
    bn.build(None)
    x = tf.random.normal((4, 3, 3, 4), mean=2.0)
    y = bn(x, training=True)
    mean, var = tf.nn.moments(x, [0, 1, 2])
    np.testing.assert_allclose(bn.moving_mean.numpy()[:4], 0.1 * mean.numpy(), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy()[4:], 0.0)  # channels beyond the input untouched
    np.testing.assert_allclose(bn.moving_variance.numpy()[4:], 1.0)
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    batches = [tf.random.normal((2, 3, 3, 5), mean=m) for m in (1.0, 3.0, -2.0)]
    for k, b in enumerate(batches):
        bn(b, training=True, momentum=k / (k + 1))
    expected = np.mean([tf.nn.moments(b, [0, 1, 2])[0].numpy() for b in batches], axis=0)
    np.testing.assert_allclose(bn.moving_mean.numpy()[:5], expected, rtol=1e-5, atol=1e-6)
    plain = keras.layers.BatchNormalization(center=False, scale=False, epsilon=1e-5)
    plain.build((None, 3, 3, 5))
    plain.set_weights([w[:5] for w in bn.get_weights()])
    np.testing.assert_allclose(plain(batches[0], training=False).numpy(), bn(batches[0]).numpy(), atol=1e-5)
    with pytest.raises(ValueError, match="momentum"):
        ElasticBatchNorm(4, momentum=1.0)


def test_spade_supernet_calibration_recomputes_one_configurations_statistics():
    from tfgancomp.search.supernet import SuperMobileSPADEGenerator

    keras.utils.set_random_seed(2)
    supernet = SuperMobileSPADEGenerator(ngf=4, label_nc=3, instance=False)
    rng = np.random.default_rng(0)
    batches = [rng.uniform(0, 1, (2, 32, 32, 3)).astype("float32") for _ in range(3)]
    config = (4, 2, 4, 2, 4, 2, 4, 2)
    supernet.calibrate(batches, config)
    first = [bn.get_weights() for bn in supernet.batch_norms()]
    supernet(batches[0], (2,) * 8, training=True)  # another configuration's update in between
    supernet.calibrate(batches, config)
    for before, bn in zip(first, supernet.batch_norms(), strict=True):
        for a, b in zip(before, bn.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # depends only on the config and batches
