"""Block layouts for speed: dense residual blocks and fewer blocks per group, through strings, models, MACs, spaces,
the supernet, extraction, saving and TFLite export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.numerics import float32_budget
from tfgancomp.backend import custom_objects, keras, tf
from tfgancomp.metrics import profile
from tfgancomp.models import SubMobileResNetGenerator
from tfgancomp.models.config import format_config, parse_config, split_layout
from tfgancomp.search import SearchSpace, get_space, resnet_macs
from tfgancomp.search.oracle import ORACLES, config_of, space_hyperparameters
from tfgancomp.search.space import resnet_macs_of_widths
from tfgancomp.search.supernet import SuperMobileResNetGenerator, extract_subnet

LAYOUT_SPACE = SearchSpace("tiny-layout", "resnet", [[8, 4]] * 8 + [[0, 1]] * 3 + [[2, 1]] * 3)


def test_layout_strings_parse_format_and_refuse_what_is_malformed():
    config = parse_config("32_32_32_24dx2_16_16x1_24_24")
    assert config == (32, 32, 32, 24, 16, 16, 24, 24, 1, 0, 0, 2, 0, 1)
    assert format_config(config) == "32_32_32_24dx2_16_16x1_24_24"
    assert split_layout(config) == ((32, 32, 32, 24, 16, 16, 24, 24), (1, 0, 0), (2, 0, 1))
    assert split_layout(parse_config("1_2_3_4_5_6")) == ((1, 2, 3, 4, 4, 4, 5, 6), (0, 0, 0), (0, 0, 0))
    assert parse_config("8_8_8_8s_8_8_8_8") == (8,) * 8 + (0,) * 6  # "s" is the default kind, written or not
    assert parse_config(np.array([1, 2, 3, 4, 5, 6, 7, 8])) == (1, 2, 3, 4, 5, 6, 7, 8)  # numpy ints are ints
    for bad in ("8_8_8_8q_8_8_8_8", "8_8_8_8x0_8_8_8_8", "8d_8_8_8_8_8_8_8", "8_8_8_8dd_8_8_8_8"):
        with pytest.raises(ValueError, match="malformed channel configuration"):
            parse_config(bad)
    with pytest.raises(ValueError, match="block kinds"):
        parse_config([8] * 8 + [2, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="must hold integers"):
        parse_config([1.5] * 8)
    with pytest.raises(ValueError, match="asks for \\[4, 3, 3\\] blocks per group; with n_blocks=9"):
        SubMobileResNetGenerator("8_8_8_8x4_8_8_8_8")


def test_layout_models_count_blocks_save_load_and_closed_form_macs_match_the_profiler(tmp_path):
    model = SubMobileResNetGenerator("8_8_8_8dx2_4_4x1_8_8", n_blocks=6, height=32, width=32)
    assert model.block_groups() == (2, 2, 1) and model.n_blocks == 6
    assert [layer.name for layer in model.layers if layer.name.endswith("_out")] == [
        f"{model.name}_block{i}_out" for i in range(1, 6)
    ]
    assert model.tap_layer_names()[1:] == [f"{model.name}_block{b}_out" for b in (2, 4, 5)]
    dense = model.get_layer(f"{model.name}_block1_conv1")
    separable = model.get_layer(f"{model.name}_block3_conv1")
    assert type(dense) is keras.layers.Conv2D and dense.kernel.shape == (3, 3, 32, 32)
    assert type(separable).__name__ == "SeparableConv"
    path = str(tmp_path / "layout.keras")
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects(), compile=False)
    assert loaded.config_string == "8_8_8_8dx2_4_4x1_8_8" and loaded.block_groups() == (2, 2, 1)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    rng = np.random.default_rng(3)
    configs = [LAYOUT_SPACE.sample(rng) for _ in range(5)] + [LAYOUT_SPACE.largest(), LAYOUT_SPACE.smallest()]
    for config in configs:
        expected = profile(SubMobileResNetGenerator(config, n_blocks=6, height=32, width=64)).macs
        assert resnet_macs(config, 32, 64, 6) == expected, format_config(config)
    assert list(resnet_macs_of_widths(np.array(configs), 32, 64, 6)) == [resnet_macs(c, 32, 64, 6) for c in configs]
    # what the layout buys in MACs: dense blocks cost more, fewer blocks less, a plain string equals "whole groups"
    plain = resnet_macs("8_8_8_8_8_8_8_8", 32, 32, 6)
    assert resnet_macs("8_8_8_8x2_8x2_8x2_8_8", 32, 32, 6) == plain
    assert resnet_macs("8_8_8_8d_8_8_8_8", 32, 32, 6) > plain > resnet_macs("8_8_8_8x1_8_8_8_8", 32, 32, 6)


def test_layout_spaces_in_code_json_and_the_oracles(tmp_path):
    space = get_space("blocks-64-pix2pix")
    assert space.has_layout and space.size == 7**8 * 2**3 * 3**3 and space.ngf == 64
    assert space.largest()[8:] == (1, 1, 1, 3, 3, 3) and space.smallest()[8:] == (0, 0, 0, 1, 1, 1)
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = space.sample(rng)
        assert space.decode(space.encode(config)) == config
    with pytest.raises(ValueError, match="uses 14 \\(write each residual entry's kind and count"):
        space.decode("64_64_64_64_64_64_64_64")
    path = tmp_path / "space.json"
    path.write_text(json.dumps(LAYOUT_SPACE.to_dict()))
    assert get_space(str(path)).choices == LAYOUT_SPACE.choices
    bad = {**LAYOUT_SPACE.to_dict(), "kinds": [["separable", "wide"]] * 3}
    path.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="unknown block kinds \\['wide'\\]"):
        get_space(str(path))
    path.write_text(json.dumps({k: v for k, v in LAYOUT_SPACE.to_dict().items() if k != "depths"}))
    with pytest.raises(ValueError, match="needs both 'kinds' and 'depths'"):
        get_space(str(path))
    with pytest.raises(ValueError, match="block kinds by code"):
        SearchSpace("k", "resnet", [[8]] * 8 + [[0, 2]] * 3 + [[1]] * 3)
    with pytest.raises(ValueError, match="spade configurations have 8"):
        SearchSpace("s", "spade", [[8]] * 14)
    hp = space_hyperparameters(LAYOUT_SPACE)
    assert sorted(hp.values) == sorted(f"c{i}" for i in range(14))
    # every oracle proposes layouts of the space under the budget
    budget = resnet_macs_of_widths(np.array(LAYOUT_SPACE.largest()), 32, 32, 6) * 0.8
    for name, oracle_class in ORACLES.items():
        oracle = oracle_class(LAYOUT_SPACE, lambda c: resnet_macs(c, 32, 32, 6), budget, max_trials=6, seed=1)
        oracle._set_project_dir(str(tmp_path / name), "o")
        for i in range(6):
            trial = oracle.create_trial(f"t{i}")
            if trial.status != "RUNNING":
                break
            config = config_of(trial.hyperparameters.values)
            assert len(config) == 14 and LAYOUT_SPACE.contains(config) and resnet_macs(config, 32, 32, 6) <= budget
            oracle.update_trial(trial.trial_id, {"score": float(sum(config))})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)


def test_layout_supernet_equals_its_extracted_subnets_in_one_trace_and_exports(tmp_path):
    """The dense / separable switch and the skipped blocks are tf.cond on the configuration tensor: one trace.

    Each extracted subnet is a plain zoo model whose float64 twin bounds the supernet's output (tests/numerics.py).
    A wrong block mapping (the separable weights where the configuration says dense) is caught far outside it.
    """
    keras.utils.set_random_seed(0)
    supernet = SuperMobileResNetGenerator(ngf=8, n_blocks=6, dense=True)
    x = tf.random.uniform((2, 32, 32, 3), -1, 1)
    traces = []

    @tf.function
    def run(inputs, config):
        traces.append(1)
        return supernet(inputs, config)

    rng = np.random.default_rng(2)
    configs = [LAYOUT_SPACE.largest(), LAYOUT_SPACE.smallest()] + [LAYOUT_SPACE.sample(rng) for _ in range(6)]
    for config in configs:
        subnet = extract_subnet(supernet, config, 32, 32)
        assert subnet.config_string == LAYOUT_SPACE.encode(config)
        budget = float32_budget(subnet, x)
        budget.check(run(x, tf.constant(config, tf.int32)), f"traced supernet at {subnet.config_string}")
    assert len(traces) == 1
    # 8-int configurations still mean separable blocks, every group whole
    float32_budget(extract_subnet(supernet, "8_4_8_4_8_4_8_4", 32, 32), x).check(
        supernet(x, "8_4_8_4_8_4_8_4"), "8-entry configuration"
    )
    dense = "8_8_8_8dx2_8d_8dx1_8_8"
    budget = float32_budget(extract_subnet(supernet, dense, 32, 32), x)
    budget.check(supernet(x, dense), dense)
    assert budget.error(extract_subnet(supernet, "8_8_8_8x2_8_8x1_8_8", 32, 32)(x)) > 10 * budget.bound
    with pytest.raises(ValueError, match="has dense blocks; this supernet holds separable ones only"):
        SuperMobileResNetGenerator(ngf=8, n_blocks=6).check_config(dense)
    with pytest.raises(ValueError, match="blocks per group"):
        supernet.check_config("8_8_8_8x3_8_8_8_8")
    # the extracted layout model exports to TFLite like any zoo model and keeps its output
    from mobile_export.convert import to_tflite
    from mobile_export.runtime import run as run_tflite

    subnet = extract_subnet(supernet, dense, 32, 32)
    flatbuffer = to_tflite(subnet)
    out = run_tflite(flatbuffer, [x.numpy()[:1]])[0]
    float32_budget(subnet, x[:1]).check(out, "TFLite float32 export of a layout subnet")
