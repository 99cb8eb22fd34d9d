"""The bundle shipped in the app's assets: model.json says exactly what model.tflite is."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from mobile_export import metadata
from mobile_export.android_assets import validate_bundle
from mobile_export.runtime import make_interpreter, run

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "android_demo")
ASSETS = os.path.join(APP, "app", "src", "main", "assets")
MODEL = os.path.join(ASSETS, "model.tflite")


@pytest.fixture(scope="module")
def description():
    with open(os.path.join(ASSETS, "model.json"), encoding="utf-8") as f:
        return json.load(f)


def test_model_json_is_the_metadata_embedded_in_the_model(description):
    assert metadata.read(MODEL) == description


def test_model_json_describes_the_interpreters_tensors(description):
    interpreter = make_interpreter(MODEL)
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    for key, detail in (("input", inp), ("output", out)):
        tensor = description[key]
        assert tensor["layout"] == "NHWC"
        assert tensor["shape"] == [int(d) for d in detail["shape"]]
        assert tensor["dtype"] == np.dtype(detail["dtype"]).name
        assert tensor["range"] == ([0, 255] if tensor["dtype"] == "uint8" else [-1.0, 1.0])


def test_the_shipped_bundle_is_the_small_float16_one_and_passes_the_installers_checks(description):
    assert description["precision"] == "float16"
    assert description["gpu_delegate"]["compatible"] is True
    assert os.path.getsize(MODEL) < 2 * 1024 * 1024
    assert validate_bundle(ASSETS) == description  # the assets folder is itself a valid bundle


def _run_as_the_app_does(description, pixels, input_range=None):
    """The app's conversion (TensorCodec): pixels → the input range, run, output range → rounded pixels."""
    low, high = input_range or description["input"]["range"]
    x = (low + pixels.astype(np.float32) / 255 * (high - low))[None]
    y = run(MODEL, x)[0][0]
    out_low, out_high = description["output"]["range"]
    return np.clip(np.round((y - out_low) / (out_high - out_low) * 255), 0, 255).astype(np.uint8)


def test_converting_as_the_app_does_reproduces_the_bundles_sample_output(description):
    """model.json's ranges are the model's own: the sample input converted with them gives the export's output."""
    pixels = np.asarray(Image.open(os.path.join(ASSETS, "examples", "sample_input.png")).convert("RGB"))
    expected = np.asarray(Image.open(os.path.join(ASSETS, "sample_output.png")).convert("RGB")).astype(int)
    assert list(pixels.shape) == description["input"]["shape"][1:]
    got = _run_as_the_app_does(description, pixels).astype(int)
    # The same float16 model on the same runtime; only 8-bit rounding of nearly tied values may differ.
    assert np.abs(got - expected).max() <= 1
    assert expected.std() > 10  # the sample output is an image, not a flat colour
    # A wrong range is caught (an affine one of the same sign is not: the instance norms cancel it; a flipped
    # one changes the picture).
    (low, high) = description["input"]["range"]
    wrong = _run_as_the_app_does(description, pixels, (high, low)).astype(int)
    assert np.abs(wrong - expected).mean() > 10


def test_examples_are_images_of_the_input_size(description):
    names = sorted(os.listdir(os.path.join(ASSETS, "examples")))
    assert "sample_input.png" in names and len(names) >= 3
    for name in names:
        with Image.open(os.path.join(ASSETS, "examples", name)) as image:
            assert image.size == tuple(description["input"]["shape"][2:0:-1]), name


def test_the_readme_describes_the_shipped_bundle(description):
    """The figures android_demo/README.md quotes for the shipped bundle are its model.json's and its file's."""
    with open(os.path.join(APP, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## The shipped bundle") :]
    section = " ".join(section[: section.index("\n## ", 3)].split())
    model, quality = description["model"], description["model"]["held_out_quality"]
    assert f"`{model['config']}`" in section
    assert f"{model['macs'] / 1e9:.3f} G MACs" in section
    assert f"{model['params']:,} parameters" in section
    assert f"`model.tflite` {os.path.getsize(MODEL) / 1e3:.0f} kB" in section
    assert f"On the {quality['images']} held-out images" in section
    assert f"PSNR to the truth is {quality['psnr']:.2f} dB" in section
    assert f"teacher's output {quality['psnr_to_teacher']:.2f} dB" in section
    assert f"SSIM {quality['ssim']:.3f}" in section
    assert ("GPU delegate fully compatible" in section) == description["gpu_delegate"]["compatible"]
