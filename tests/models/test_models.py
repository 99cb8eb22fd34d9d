from __future__ import annotations

import numpy as np
import pytest

from tests.harness import GENERATOR_ARCHS, TINY, flatten, randomize, tiny_input, tiny_model
from tfgancomp.backend import custom_objects, keras
from tfgancomp.models import (
    ARCHITECTURES,
    PRESETS,
    SubMobileResNetGenerator,
    SubMobileSPADEGenerator,
    architecture,
    build_model,
    format_config,
    parse_config,
)

ALL_ARCHS = list(ARCHITECTURES)


@pytest.fixture(scope="module", params=ALL_ARCHS)
def arch_model(request):
    model = tiny_model(request.param)
    randomize(model)
    return request.param, model


def test_forward_pass_shapes(arch_model):
    arch, model = arch_model
    x = tiny_input(model, arch)
    outputs = model(x, training=False)
    _, (h, w) = TINY[arch]
    if arch in GENERATOR_ARCHS:
        assert outputs.shape == (2, h, w, 3)
        assert np.all(np.abs(outputs.numpy()) <= 1.0)  # tanh
    elif arch == "patchgan":
        assert outputs.shape[0] == 2 and outputs.shape[-1] == 1
    else:  # multiscale: per scale, every layer's features, the last being 1-channel logits
        assert len(outputs) == 2 and all(len(scale) == 4 for scale in outputs)
        assert outputs[0][-1].shape[-1] == 1 and outputs[1][0].shape[1] < outputs[0][0].shape[1]


def test_get_config_from_config_round_trip(arch_model):
    arch, model = arch_model
    config = model.get_config()
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    x = tiny_input(model, arch)
    for a, b in zip(flatten(clone(x, training=False)), flatten(model(x, training=False)), strict=True):
        np.testing.assert_array_equal(a, b)


def test_weights_and_whole_model_save_load(arch_model, tmp_path):
    arch, model = arch_model
    x = tiny_input(model, arch)
    expected = flatten(model(x, training=False))
    weights = tmp_path / "g.weights.h5"
    model.save_weights(weights)
    fresh = type(model).from_config(model.get_config())
    fresh.load_weights(weights)
    for a, b in zip(flatten(fresh(x, training=False)), expected, strict=True):
        np.testing.assert_array_equal(a, b)
    path = tmp_path / "g.keras"
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects=custom_objects())
    assert type(loaded) is type(model)
    for a, b in zip(flatten(loaded(x, training=False)), expected, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("arch", GENERATOR_ARCHS)
def test_distillation_taps_reachable_by_name(arch):
    model = tiny_model(arch)
    randomize(model, seed=4)
    taps = model.tap_layer_names()
    assert len(taps) == (3 if "spade" in arch else 4)  # a U-Net teacher's four pair with a ResNet student's four
    extractor = keras.Model(model.input, [model.get_layer(n).output for n in taps])
    x = tiny_input(model, arch)
    features = extractor(x)
    _, (h, w) = TINY[arch]
    sizes = [tuple(f.shape[1:3]) for f in features]
    if "spade" in arch:  # the reference: head_0 at h/32, an upsampling, G_middle_1, two more (up_0 between), up_1
        s = (h // 32, w // 32)
        assert sizes == [s, (2 * s[0], 2 * s[1]), (8 * s[0], 8 * s[1])]
    else:  # all at the residual trunk's resolution, after two stride-2 downsamplings
        assert sizes == [(h // 4, w // 4)] * len(taps)
    assert all(float(np.std(f)) > 0 for f in features)  # live activations, not constants
    for a, b in zip(features[:-1], features[1:], strict=True):  # distinct layers, not one read several times
        assert a.shape != b.shape or float(np.max(np.abs(a - b))) > 1e-3
    if "spade" in arch:
        assert [t.split("_generator_")[-1] for t in taps] == ["head_0_out", "G_middle_1_out", "up_1_out"]
    elif arch == "unet":
        assert [t.split("_generator_")[-1] for t in taps] == ["down2_norm", "down3_act", "up3_norm", "up2_act"]
    else:
        assert taps[0].endswith("_down2_act") and taps[-1].endswith("_block3_out")


def test_resnet_taps_follow_the_reference_for_nine_blocks():
    model = build_model("mobile_resnet", ngf=4)
    suffixes = [t.split("_generator_")[-1] for t in model.tap_layer_names()]
    assert suffixes == ["down2_act", "block3_out", "block6_out", "block9_out"]


def test_sub_mobile_resnet_widths_follow_the_config_string():
    g = SubMobileResNetGenerator("8_12_16_4_8_12_20_24", n_blocks=9, height=32, width=32)
    width = {layer.name.split("_generator_")[-1]: layer.output.shape[-1] for layer in g.layers}
    assert width["stem_conv"] == 8 and width["down1_conv"] == 24 and width["down2_conv"] == 64
    assert [width[f"block{i}_conv1"] for i in (1, 4, 7)] == [16, 32, 48]
    assert all(width[f"block{i}_out"] == 64 for i in range(1, 10))
    assert width["up1_conv"] == 40 and width["up2_conv"] == 24 and width["head_conv"] == 3
    legacy = SubMobileResNetGenerator("24_24_24_32_20_16")
    assert legacy.get_config()["config"] == "24_24_24_32_20_16"
    inner = {layer.name: layer.output.shape[-1] for layer in legacy.layers if layer.name.endswith("_conv1")}
    assert set(inner.values()) == {128}


def test_sub_mobile_spade_widths_follow_the_config_string():
    g = SubMobileSPADEGenerator("4_1_2_3_4_5_6_7", label_nc=3, height=64, width=64)
    width = {layer.name.split("_generator_")[-1]: layer.output.shape[-1] for layer in g.layers}
    assert width["fc"] == 64
    assert (width["head_0_conv_0"], width["head_0_conv_1"]) == (16, 64)
    assert (width["G_middle_1_conv_0"], width["G_middle_1_conv_1"]) == (48, 64)
    assert (width["up_0_conv_0"], width["up_0_conv_1"], width["up_0_conv_s"]) == (32, 32, 32)
    assert (width["up_3_conv_0"], width["up_3_conv_1"]) == (7, 7)
    assert g.get_layer("sub_mobile_spade_generator_up_2_norm_0").nhidden == 12


@pytest.mark.parametrize(
    "text,family,expected",
    [
        ("24_24_24_32_20_16", "resnet", (24, 24, 24, 32, 20, 16)),
        ("16_16_32_16_32_32_16_16", "resnet", (16, 16, 32, 16, 32, 32, 16, 16)),
        (" 8_8_8_8_8_8_8_8 ", "spade", (8,) * 8),
    ],
)
def test_parse_config(text, family, expected):
    assert parse_config(text, family) == expected
    assert parse_config(format_config(expected), family) == expected


@pytest.mark.parametrize(
    "text,family,fragment",
    [
        ("24_24_x_32_20_16", "resnet", "24_24_x_32_20_16"),
        ("24_24_24_32_20", "resnet", "5 entries"),
        ("24_24_24_32_20_16", "spade", "6 entries"),
        ("24_24_-24_32_20_16", "resnet", "-24"),
        ("24_24_0_32_20_16", "resnet", "non-positive"),
        ("", "resnet", "malformed"),
        ("8_8_8_8_8_8_8_8", "vgg", "vgg"),
    ],
)
def test_malformed_config_strings_raise_value_error(text, family, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_config(text, family)


@pytest.mark.parametrize(
    "arch,kwargs,fragment",
    [
        ("resnet", {"ngf": -4}, "-4"),
        ("resnet", {"height": 30, "width": 32}, "30 is not divisible by the network's stride 4"),
        ("mobile_resnet", {"n_blocks": 0}, "n_blocks"),
        ("sub_mobile_resnet", {"config": "4_4_4"}, "3 entries"),
        ("spade", {"height": 48, "width": 64}, "48 is not divisible by the network's stride 32"),
        ("spade", {"param_free_norm": "group"}, "group"),
        ("mobile_spade", {"num_upsampling_layers": "most"}, "most"),
        ("sub_mobile_spade", {"config": "4_4_4_4_4_4_4_-1"}, "-1"),
        ("patchgan", {"height": 8, "width": 32}, "8 is too small"),
        ("multiscale", {"ndf": 0}, "ndf"),
        ("resnet", {"bogus": 1}, "bogus"),
    ],
)
def test_bad_model_arguments_raise_value_error(arch, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        build_model(arch, **kwargs)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="'densenet'.*expected one of resnet"):
        architecture("densenet")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_runs_at_a_tiny_size_with_its_published_parameters(name):
    """Parameters do not depend on the resolution: each preset is built at 1/8 of its size and run once."""
    entry = PRESETS[name]
    assert entry["height"] % 4 == 0 and entry["width"] % 4 == 0
    h, w = entry["height"] // 8, entry["width"] // 8
    model = build_model(entry["arch"], **entry["kwargs"], height=h, width=w)
    assert type(model) is architecture(entry["arch"])
    channels = model.inputs[0].shape[-1]
    out = flatten(model(np.zeros((1, h, w, channels), np.float32), training=False))
    assert all(np.all(np.isfinite(o)) for o in out)
    if "params" in entry["published"]:  # the paper's figure, to its 3 significant digits
        assert model.count_params() == pytest.approx(entry["published"]["params"], rel=0.005), name
