from __future__ import annotations

import numpy as np
import pytest

from tfgancomp.backend import custom_objects, keras, tf
from tfgancomp.layers.elastic import ElasticConv2D, ElasticConv2DTranspose
from tfgancomp.models import SubMobileResNetGenerator
from tfgancomp.search import SearchSpace
from tfgancomp.search.supernet import SuperMobileResNetGenerator, extract_subnet

SPACE = SearchSpace("tiny", "resnet", [[16, 12, 8, 4]] * 8)


def test_extracted_subnets_equal_the_supernet_at_their_configuration_with_one_trace(tmp_path):
    """Issue #5 acceptance (ResNet family): 20 random configurations, max |Δ| ≤ 1e-5, one tf.function trace."""
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
        expected = run(x, tf.constant(config, tf.int32)).numpy()
        assert np.max(np.abs(subnet(x).numpy() - expected)) <= 1e-5, config
        outputs.append(expected)
    assert len(traces) == 1
    assert np.max(np.abs(outputs[0] - outputs[1])) > 1e-3  # configurations really differ
    np.testing.assert_allclose(supernet(x).numpy(), outputs[0], atol=1e-6)  # config=None is the largest
    path = str(tmp_path / "subnet.keras")
    subnet.save(path)  # a plain zoo model: saves and loads without supernet code
    loaded = keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    np.testing.assert_allclose(loaded(x).numpy(), outputs[-1], atol=1e-5)


def test_supernet_taps_and_bad_configurations():
    supernet = SuperMobileResNetGenerator(ngf=8, n_blocks=3)
    out, taps = supernet(tf.zeros((1, 16, 16, 3)), (8, 4, 4, 8, 4, 8, 4, 8), return_taps=True)
    assert out.shape == (1, 16, 16, 3) and [t.shape[-1] for t in taps] == [16, 16, 16, 16]
    with pytest.raises(ValueError, match="exceeds the supernet's width 8"):
        supernet(tf.zeros((1, 16, 16, 3)), (16, 8, 8, 8, 8, 8, 8, 8))
    with pytest.raises(ValueError, match="8-entry"):
        extract_subnet(supernet, "8_8_8_8_8_8")


def test_elastic_layers_use_the_leading_slice_of_their_widest_kernel():
    conv = ElasticConv2D(6, 8, 3)
    x = tf.random.normal((1, 5, 5, 4))
    full = conv(tf.pad(x, [[0, 0], [0, 0], [0, 0], [0, 2]]))  # zero channels beyond the 4 used
    np.testing.assert_allclose(conv(x, 5).numpy(), full.numpy()[..., :5], atol=1e-5)
    up = ElasticConv2DTranspose(6, 8, 3, 2)
    y = up(x, 3)
    assert y.shape == (1, 10, 10, 3)
    plain = keras.layers.Conv2DTranspose(3, 3, strides=2)
    plain.build((None, 5, 5, 4))
    plain.set_weights([up.kernel.numpy()[:, :, :3, :4], up.bias.numpy()[:3]])
    np.testing.assert_allclose(plain(x).numpy()[:, 1:, 1:, :], y.numpy(), atol=1e-5)
