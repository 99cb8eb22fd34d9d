"""mobile_export.android_assets: a bundle is validated, then swapped into the app's assets whole, or not at all.

(The module belongs to mobile_export; its tests live here, beside the app they install into.)
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mobile_export import metadata
from mobile_export.android_assets import ASSETS_DIR, install_bundle, validate_bundle

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = os.path.join(REPO, "android_demo", ASSETS_DIR)


@pytest.fixture
def bundle(tmp_path):
    """A bundle folder as `tfgancomp export` writes it (made from the one the app ships)."""
    out = tmp_path / "bundle"
    out.mkdir()
    for name in ("model.tflite", "model.json", "sample_output.png"):
        shutil.copy(os.path.join(SHIPPED, name), out / name)
    shutil.copy(os.path.join(SHIPPED, "examples", "sample_input.png"), out / "sample_input.png")
    return out


@pytest.fixture
def app(tmp_path):
    out = tmp_path / "android_demo"
    (out / "app").mkdir(parents=True)
    (out / "app" / "build.gradle.kts").write_text("plugins {}\n")
    return out


def _assets(app) -> dict[str, bytes]:
    root = app / ASSETS_DIR
    return {
        os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
        for d, _, files in os.walk(root)
        for f in files
    }


def test_install_copies_the_bundle_and_examples_and_keeps_other_assets(bundle, app):
    (app / ASSETS_DIR / "examples").mkdir(parents=True)
    (app / ASSETS_DIR / "examples" / "stale.png").write_bytes(b"old")
    (app / ASSETS_DIR / "font.ttf").write_bytes(b"not ours")
    sketch = np.zeros((64, 64, 3), np.uint8)
    sketch[10:20, 10:50] = 255
    written = install_bundle(str(bundle), str(app), examples=[sketch, bundle / "sample_input.png"])
    assets = app / ASSETS_DIR
    assert written == sorted(
        str(assets / name)
        for name in ("model.tflite", "model.json", "sample_output.png", "examples/sample_input.png",
                     "examples/example_00.png", "examples/example_01.png")
    )  # fmt: skip
    for name in ("model.tflite", "model.json", "sample_output.png"):
        assert (assets / name).read_bytes() == (bundle / name).read_bytes()
    assert np.array_equal(np.asarray(Image.open(assets / "examples" / "example_00.png")), sketch)
    assert (assets / "font.ttf").read_bytes() == b"not ours"
    assert not (assets / "examples" / "stale.png").exists()  # examples/ is the bundle's, replaced whole
    assert sorted(os.listdir(assets.parent)) == ["assets"]  # no staging or retired folder left behind
    assert oct(os.stat(assets).st_mode & 0o777) != oct(0o700)


def _assert_refused(bundle, app, *words, examples=()):
    before = _assets(app)
    with pytest.raises(ValueError) as err:
        install_bundle(str(bundle), str(app), examples=examples)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    assert _assets(app) == before  # the previous assets are untouched
    assert sorted(os.listdir(app / ASSETS_DIR / "..")) == ["assets"]
    return message


def test_a_broken_bundle_is_refused_naming_the_file_and_leaves_the_assets_alone(bundle, app):
    install_bundle(str(bundle), str(app))
    description = json.loads((bundle / "model.json").read_text())

    _assert_refused(bundle, app, "not a readable image", examples=[bundle / "model.json"])
    _assert_refused(bundle, app, "uint8", examples=[np.zeros((4, 4, 3), np.float32)])

    changed = dict(description, precision="int8")
    (bundle / "model.json").write_text(json.dumps(changed))
    _assert_refused(bundle, app, str(bundle / "model.json"), "differs from the metadata", "precision")

    (bundle / "model.json").write_text("{not json")
    _assert_refused(bundle, app, str(bundle / "model.json"), "not valid JSON")

    (bundle / "model.json").unlink()
    _assert_refused(bundle, app, str(bundle / "model.json"), "missing")

    (bundle / "model.json").write_text(json.dumps(description))
    (bundle / "model.tflite").write_bytes(b"\0" * 64)
    _assert_refused(bundle, app, str(bundle / "model.tflite"), "not a TFLite model")

    with pytest.raises(ValueError, match="not the Android demo app"):
        install_bundle(str(bundle), str(app / "app"))
    with pytest.raises(ValueError, match="not a folder"):
        install_bundle(str(bundle / "nope"), str(app))


@pytest.fixture(scope="module")
def reembed():
    """Writes a bundle whose model carries ``description`` as its metadata (needs TensorFlow's schema)."""
    with open(os.path.join(SHIPPED, "model.tflite"), "rb") as f:
        content = f.read()

    def write(folder, description):
        (folder / "model.tflite").write_bytes(metadata.embed(content, description))
        (folder / "model.json").write_text(json.dumps(description))

    return write


def test_a_description_that_does_not_fit_the_model_or_the_app_is_refused(bundle, app, reembed):
    install_bundle(str(bundle), str(app))
    description = json.loads((bundle / "model.json").read_text())

    wrong_size = copy.deepcopy(description)
    wrong_size["input"]["shape"] = [1, 32, 32, 3]
    reembed(bundle, wrong_size)
    message = _assert_refused(bundle, app, "model.json", "input is [1, 32, 32, 3] float32", "[1, 64, 64, 3]")
    assert "model.tflite has" in message

    wrong_type = copy.deepcopy(description)
    wrong_type["output"]["dtype"], wrong_type["output"]["range"] = "uint8", [0, 255]
    reembed(bundle, wrong_type)
    _assert_refused(bundle, app, "output is [1, 64, 64, 3] uint8", "float32")

    for field, value, words in [
        ("range", [1.0, -1.0], ("input.range",)),
        ("dtype", "int8", ("input.dtype", "int8")),
        ("layout", "NCHW", ("input.layout", "NCHW")),
        ("shape", [2, 64, 64, 3], ("batch 2",)),
        ("shape", [1, 64, 64, 36], ("36 channels", "no input.palette")),
    ]:
        bad = copy.deepcopy(description)
        bad["input"][field] = value
        reembed(bundle, bad)
        _assert_refused(bundle, app, *words)

    uint8_range = copy.deepcopy(description)
    uint8_range["input"]["dtype"], uint8_range["input"]["range"] = "uint8", [-1.0, 1.0]
    reembed(bundle, uint8_range)
    _assert_refused(bundle, app, "does not fit uint8")

    palette = copy.deepcopy(description)
    palette["input"]["palette"] = [[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]  # 3 channels: 2 or 3 labels
    reembed(bundle, palette)
    _assert_refused(bundle, app, "palette has 4 colours for an input of 3 channels")
    palette["input"]["palette"] = [[0, 0, 0], [255, 0, 256]]
    reembed(bundle, palette)
    _assert_refused(bundle, app, "input.palette is not")

    reembed(bundle, dict(description, format_version=2))
    _assert_refused(bundle, app, "format_version 2")

    reembed(bundle, description)  # the same description re-embedded is fine again
    assert validate_bundle(str(bundle)) == description


def test_importing_it_needs_neither_tensorflow_nor_tfgancomp():
    code = (
        "import sys, mobile_export.android_assets; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tfgancomp', 'tf_keras')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_command_line_installs_or_says_why_not_in_one_line(bundle, app):
    command = [sys.executable, "-m", "mobile_export.android_assets"]
    ok = subprocess.run([*command, str(bundle), str(app)], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert str(app / ASSETS_DIR / "model.tflite") in ok.stdout.splitlines()
    (bundle / "model.json").unlink()
    bad = subprocess.run([*command, str(bundle), str(app)], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith(f"android_assets: {bundle / 'model.json'}: missing")
    usage = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr.startswith("usage:")
