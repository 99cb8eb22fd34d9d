from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mobile_export import BundleSettings, ExportError, export_bundle, metadata, parity, run, to_tflite
from mobile_export.convert import from_pixels, to_pixels
from tests.harness import randomize, tiny_model
from tests.numerics import float32_budget

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def student():
    model = tiny_model("sub_mobile_resnet", config="8_8_8_8_8_8_8_8")
    randomize(model, seed=5)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype(np.float32)
    return model, x


@pytest.fixture(scope="module")
def model_bytes(student):
    return metadata.embed(to_tflite(student[0]), {"precision": "float32", "nested": {"list": [1, 2.5, "x"]}})


def test_metadata_round_trip_and_clear_errors(model_bytes, tmp_path):
    written = {"precision": "float32", "nested": {"list": [1, 2.5, "x"]}}
    assert metadata.read(model_bytes) == written
    path = tmp_path / "m.tflite"
    path.write_bytes(model_bytes)
    assert metadata.read(path) == written
    assert {"tfgancomp", "min_runtime_version"} <= set(metadata.entries(path))
    again = metadata.embed(model_bytes, {"v": 2})  # replaces our entry, keeps the converter's
    assert metadata.read(again) == {"v": 2} and list(metadata.entries(again)).count("tfgancomp") == 1
    x = np.zeros((1, 32, 32, 3), np.float32)
    np.testing.assert_array_equal(run(again, x)[0], run(model_bytes, x)[0])  # the model itself is untouched
    plain = tmp_path / "plain.tflite"
    plain.write_bytes(to_tflite(tiny_model("sub_mobile_resnet")))
    with pytest.raises(metadata.MetadataError, match=r"plain.tflite has no 'tfgancomp' metadata.*min_runtime_version"):
        metadata.read(plain)
    png = tmp_path / "image.png"
    Image.new("RGB", (4, 4)).save(png)
    with pytest.raises(metadata.MetadataError, match=r"image.png is not a TFLite model"):
        metadata.read(png)
    with pytest.raises(metadata.MetadataError, match="does not exist"):
        metadata.read(tmp_path / "missing.tflite")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_metadata_reader_fuzz_raises_only_its_own_error(model_bytes, data):
    """Truncated, mutated and random bytes: the pure-Python reader raises MetadataError or returns, never else."""
    kind = data.draw(st.sampled_from(["truncate", "mutate", "random"]))
    if kind == "truncate":
        case = model_bytes[: data.draw(st.integers(0, len(model_bytes)))]
    elif kind == "mutate":
        case = bytearray(model_bytes)
        for _ in range(data.draw(st.integers(1, 16))):
            case[data.draw(st.integers(0, len(case) - 1))] = data.draw(st.integers(0, 255))
        case = bytes(case)
    else:
        case = data.draw(st.binary(max_size=2048))
        if data.draw(st.booleans()):
            case = case[:4].ljust(4, b"\0") + b"TFL3" + case[4:]
    try:
        metadata.read(case)
    except metadata.MetadataError:
        pass


def test_interpreter_fuzz_never_crashes_the_process(tmp_path):
    """Truncated / mutated / random models through the runtime in a child process: ValueError or success only.

    A child process, so that a native crash would fail the test instead of killing the test run. The model is a
    small conv net with our metadata (a generator's flatbuffer has the same structure, only more of it).
    """
    from tfgancomp.backend import keras

    inputs = keras.Input(batch_shape=(1, 8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(3, 1, activation="tanh")(keras.layers.DepthwiseConv2D(3, padding="same")(x))
    path = tmp_path / "m.tflite"
    path.write_bytes(metadata.embed(to_tflite(keras.Model(inputs, outputs)), {"fuzz": True}))
    script = textwrap.dedent(
        """
        import sys, numpy as np
        from mobile_export import make_interpreter, metadata, run
        content = open(sys.argv[1], "rb").read()
        rng = np.random.default_rng(0)
        cases = [content[:n] for n in rng.integers(0, len(content), 40)]
        for _ in range(60):
            b = bytearray(content)
            for p in rng.integers(0, len(b), rng.integers(1, 20)):
                b[p] = rng.integers(0, 256)
            cases.append(bytes(b))
        cases += [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 3, 8, 64, 4096)]
        ok = errors = 0
        for case in cases:
            try:
                interpreter = make_interpreter(case)
                detail = interpreter.get_input_details()[0]
                run(interpreter, np.zeros(detail["shape"], detail["dtype"]))
                ok += 1
            except ValueError:
                errors += 1
        print("outcomes", ok, errors)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, cwd=REPO,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ok, errors = (int(v) for v in proc.stdout.split("outcomes")[1].split())
    assert ok + errors == 105 and errors > 40


def test_export_bundle_float32_and_float16_with_uint8_io(student, tmp_path):
    model, x = student
    out = tmp_path / "f32"
    description = export_bundle(model, str(out), x, info={"macs": 123, "config": "8_8_8_8_8_8_8_8"})
    assert sorted(os.listdir(out)) == ["model.json", "model.tflite", "sample_input.png", "sample_output.png"]
    assert json.load(open(out / "model.json")) == description == metadata.read(out / "model.tflite")
    assert description["input"] == {"shape": [1, 32, 32, 3], "dtype": "float32", "layout": "NHWC",
                                     "range": [-1.0, 1.0], "channels": "RGB"}  # fmt: skip
    bound = float32_budget(model, x).bound  # from the model's float64 twin (tests/numerics.py)
    assert description["parity"]["max_abs"] <= 2 * bound and description["parity"]["samples"] == 4
    assert description["gpu_delegate"]["compatible"] and description["model"]["macs"] == 123
    sample_out = np.asarray(Image.open(out / "sample_output.png"))
    keras_out = to_pixels(np.asarray(model(x[:1]))[0])
    assert np.abs(sample_out.astype(int) - keras_out.astype(int)).max() <= 1

    out16 = tmp_path / "f16"
    description = export_bundle(model, str(out16), x, BundleSettings("float16", uint8_io=True))
    assert description["input"]["dtype"] == "uint8" and description["input"]["range"] == [0, 255]
    assert description["parity"]["psnr"] >= 40 and description["gpu_delegate"]["compatible"]
    content = (out16 / "model.tflite").read_bytes()
    pixels = run(content, to_pixels(x[:1]))[0]
    assert pixels.dtype == np.uint8
    assert np.abs(from_pixels(pixels) - np.asarray(model(from_pixels(to_pixels(x[:1]))))).max() < 0.05
    assert parity(model, content, x).psnr == pytest.approx(description["parity"]["psnr"])


def test_unfaithful_export_fails_loudly_and_writes_nothing(student, tmp_path):
    model, x = student
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "model.tflite").write_bytes(b"previous export")
    with pytest.raises(ExportError, match=r"dynamic export of .* is not faithful: PSNR .* below the required 99"):
        export_bundle(model, str(out), x, BundleSettings("dynamic", min_psnr=99.0))
    assert os.listdir(out) == ["model.tflite"] and (out / "model.tflite").read_bytes() == b"previous export"
    with pytest.raises(ValueError, match="representative_data"):
        to_tflite(model, "int8")


def test_quantized_precisions_shrink_the_weights(student):
    """int8 weights ≤ 0.3 × float32's for a student of ≥ 0.1 M parameters (issue #6's size target)."""
    _, x = student
    model = tiny_model("sub_mobile_resnet", config="32_32_32_32_32_32_32_32")
    sizes = {p: metadata.weight_bytes(to_tflite(model, p, representative_data=[x] if p == "int8" else None))
             for p in ("float32", "dynamic", "int8")}  # fmt: skip
    params = sum(int(np.prod(w.shape)) for w in model.weights)
    assert params >= 100_000
    assert abs(sizes["float32"] - 4 * params) < 0.02 * 4 * params  # the weights, as float32
    assert sizes["dynamic"] < 0.3 * sizes["float32"] and sizes["int8"] < 0.3 * sizes["float32"]
    assert parity(model, to_tflite(model, "dynamic"), x).psnr > 25


def test_int16x8_export_runs_and_beats_int8(student):
    """InstanceNorm lowers without SQUARED_DIFFERENCE (no int16 kernel), so int16-activation exports run."""
    model, x = student
    int16 = parity(model, to_tflite(model, "int16x8", representative_data=[x]), x)
    int8 = parity(model, to_tflite(model, "int8", representative_data=[x]), x)
    assert int16.psnr > int8.psnr + 6 and int16.psnr > 30, (int16, int8)  # measured 32.5 vs 22.3 dB
