from __future__ import annotations

import json

import numpy as np
import pytest

from tfgancomp.metrics import profile
from tfgancomp.models import SubMobileResNetGenerator
from tfgancomp.search import SPACES, SearchSpace, get_space, resnet_macs
from tfgancomp.search.space import resnet_macs_of_widths


def test_reference_spaces_sizes_and_extremes():
    assert get_space("channels-64-pix2pix").size == 7**8 == 5_764_801
    assert get_space("channels-64-cycleGAN").size == 5**8
    assert get_space("channels-32").size == 3**8
    assert get_space("channels-48").size == 2 * 2 * 3**4 * 4 * 4
    assert get_space("channels-48", "spade").size == 3**5 * 4**3
    assert get_space("channels-64", "spade").largest() == (64,) * 8
    assert get_space("channels-64-cycleGAN").smallest() == (16,) * 8
    assert {f for f, _ in SPACES} == {"resnet", "spade"}


def test_config_strings_encode_decode_and_sampling_stays_in_the_space():
    space = get_space("channels-48")
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = space.sample(rng)
        assert space.decode(space.encode(config)) == config and space.contains(config)
    with pytest.raises(ValueError, match="position 0 is 40, allowed \\[48, 32\\]"):
        space.decode("40_48_48_48_48_48_48_48")
    with pytest.raises(ValueError, match="uses 8"):
        space.decode("48_48_48_48_48_48")
    assert not space.contains("x_y")


def test_user_defined_spaces_in_code_and_json(tmp_path):
    space = SearchSpace("mine", "resnet", [[8, 4]] * 8)
    assert space.size == 256 and space.largest() == (8,) * 8
    path = tmp_path / "space.json"
    path.write_text(json.dumps({"family": "resnet", "choices": [[16, 8]] * 8}))
    assert get_space(str(path)).smallest() == (8,) * 8
    (tmp_path / "bad.json").write_text(json.dumps({"choices": []}))
    with pytest.raises(ValueError, match="'family' and 'choices'"):
        get_space(str(tmp_path / "bad.json"))
    with pytest.raises(ValueError, match="unknown resnet search space 'channels-99'"):
        get_space("channels-99")
    with pytest.raises(ValueError, match="has 3 positions; resnet configurations have 8 or 14"):
        SearchSpace("short", "resnet", [[8]] * 3)
    with pytest.raises(ValueError, match="distinct positive widths"):
        SearchSpace("zero", "resnet", [[8, 0]] * 8)


def test_closed_form_macs_equal_the_profiler_for_random_configurations():
    space = get_space("channels-64-pix2pix")
    rng = np.random.default_rng(1)
    configs = [space.sample(rng) for _ in range(6)]
    for config in configs:
        expected = profile(SubMobileResNetGenerator(config, height=32, width=64)).macs
        assert resnet_macs(config, 32, 64) == expected
    batch = resnet_macs_of_widths(np.array(configs), 32, 64)
    assert list(batch) == [resnet_macs(c, 32, 64) for c in configs]
    assert resnet_macs("24_24_24_32_20_16", 256, 256) == 2_670_067_712  # the published 2.67 G


def test_spade_macs_closed_form_equals_the_profiler():
    from tfgancomp.metrics import profile
    from tfgancomp.models import SubMobileSPADEGenerator
    from tfgancomp.search import spade_macs
    from tfgancomp.search.space import spade_macs_of_widths

    space, rng = get_space("channels-64", "spade"), np.random.default_rng(3)
    configs = [space.largest(), space.smallest(), space.sample(rng)]
    for config, (instance, norm) in zip(configs, [(True, "instance"), (False, "none"), (True, "instance")],
                                        strict=True):  # fmt: skip
        model = SubMobileSPADEGenerator(space.encode(config), label_nc=5, instance=instance, separable_norm=norm,
                                        height=64, width=128)  # fmt: skip
        assert spade_macs(config, 64, 128, 5, instance, separable_norm=norm) == profile(model).macs
    batch = spade_macs_of_widths(np.array(configs), 64, 128, 5, True)
    assert list(batch) == [spade_macs(c, 64, 128, 5, True) for c in configs]
