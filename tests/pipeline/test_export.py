from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mobile_export import metadata
from tests.numerics import float32_budget
from tfgancomp.backend import keras
from tfgancomp.cli import main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.models import SubMobileResNetGenerator, SubMobileSPADEGenerator
from tfgancomp.pipeline import read_generator


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    keras.utils.set_random_seed(0)  # the student's initial weights, so the QAT figures below are reproducible
    root = tmp_path_factory.mktemp("export")
    data = str(root / "e2s")
    synthesize(SynthSettings("edges2shapes", num_train=8, num_test=4, size=32, seed=4), data)
    folder = root / "extract"
    folder.mkdir()
    SubMobileResNetGenerator("8_8_8_8_8_8_8_8", n_blocks=3, height=32, width=32, name="student").save(
        str(folder / "generator.keras"))  # fmt: skip
    return str(folder), data


def _sample_apps(root):
    """Stand-ins for web_demo/ and android_demo/: the files that mark each app folder."""
    web, android = root / "web_demo", root / "android_demo"
    web.mkdir()
    (web / "package.json").write_text("{}")
    (web / "index.html").write_text("<html></html>")
    (android / "app" / "src" / "main").mkdir(parents=True)
    (android / "app" / "build.gradle.kts").write_text("")
    return web, android


def test_cli_export_float16_uint8_from_held_out_images_into_the_sample_apps(student, tmp_path, capsys):
    generator, data = student
    out = str(tmp_path / "bundle")
    web, android = _sample_apps(tmp_path)
    argv = ["export", "--generator", generator, "--precision", "float16", "--data", data, "--uint8-io",
            "--images", "3", "--out", out, "--android-demo", str(android), "--web-demo", str(web),
            "--web-name", "teacher"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "android demo:" in printed and "web demo: teacher bundle installed" in printed
    bundle = (tmp_path / "bundle" / "model.tflite").read_bytes()
    assert (android / "app/src/main/assets/model.tflite").read_bytes() == bundle
    assert (web / "public/models/teacher/model.tflite").read_bytes() == bundle
    assert [m["name"] for m in json.load(open(web / "public/models/index.json"))["models"]] == ["teacher"]
    assert "parity vs Keras PSNR" in printed and "3 held-out images" in printed and "fully compatible" in printed
    description = json.load(open(os.path.join(out, "model.json")))
    assert metadata.read(os.path.join(out, "model.tflite")) == description
    assert description["precision"] == "float16" and description["input"]["dtype"] == "uint8"
    assert description["model"]["config"] == "8_8_8_8_8_8_8_8" and description["model"]["macs"] > 0
    assert description["parity"]["psnr"] >= 40 and description["gpu_delegate"]["compatible"]
    for flag, folder, message in (("--web-demo", web / "public", "not the web demo app"),
                                  ("--android-demo", web, "not the Android demo app")):  # fmt: skip
        assert main([*argv[:-6], flag, str(folder), "--out", str(tmp_path / "refused")]) == 2  # before any work
        assert message in capsys.readouterr().err and not (tmp_path / "refused").exists()


def test_cli_export_int8_calibrates_on_the_data_and_refuses_without_it(student, tmp_path, capsys):
    generator, data = student
    out = str(tmp_path / "int8")
    assert main(["export", "--generator", generator, "--precision", "int8", "--out", out]) == 2
    assert "calibrates on real inputs: give the dataset (--data)" in capsys.readouterr().err
    assert not os.path.exists(out)
    argv = ["export", "--generator", generator, "--precision", "int8", "--data", data, "--out", out,
            "--calibration-images", "8"]  # fmt: skip
    assert main([*argv, "--min-psnr", "99"]) == 1  # post-training int8 of this untrained student is far from 99 dB
    err = capsys.readouterr().err
    assert "int8 export of 'student' is not faithful" in err and "below the required 99.0 dB" in err
    assert "--qat-epochs N" in err and "--min-psnr" in err and len(err.strip().splitlines()) == 1  # what to do
    assert not os.path.exists(os.path.join(out, "model.tflite"))


def test_cli_export_spade_generator_file_on_random_label_maps(tmp_path, capsys):
    path = str(tmp_path / "spade.keras")
    SubMobileSPADEGenerator("2_2_2_2_2_2_2_2", label_nc=4, instance=True, height=32, width=32).save(path)
    out = str(tmp_path / "bundle")
    assert main(["export", "--generator", path, "--out", out, "--images", "2"]) == 0
    description = json.load(open(os.path.join(out, "model.json")))
    assert description["input"]["channels"] == "one-hot labels (4) + instance edge"
    assert "random inputs" in description["model"]["parity_inputs"]
    generator = read_generator(path)  # the bound of its float64 twin on random label maps like the export's
    labels = np.eye(5, dtype=np.float32)[np.random.default_rng(1).integers(0, 5, (2, 32, 32))]
    assert description["parity"]["max_abs"] <= 2 * float32_budget(generator, labels).bound
    assert os.path.exists(os.path.join(out, "sample_input.png"))
    assert main(["export", "--generator", str(tmp_path / "none.keras"), "--out", out]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_export_int8_after_quantization_aware_training_towards_the_float_student(student, tmp_path, capsys):
    # The default QAT target: the float student (here an extract folder, no run settings) is its own teacher.
    generator, data = student
    out = str(tmp_path / "int8_qat")
    assert main(["export", "--generator", generator, "--precision", "int8", "--data", data, "--out", out,
                 "--qat-epochs", "1", "--images", "4", "--min-psnr", "24"]) == 0  # fmt: skip
    description = json.load(open(os.path.join(out, "model.json")))
    qat = description["model"]["quantization_aware_training"]
    assert qat["target"] == "float" and qat["teacher"] == "the float student" and qat["lr"] == 1e-4
    assert qat["run"] == os.path.abspath(os.path.join(out, "qat_run")) and qat["epochs"] == 1
    settings = json.load(open(os.path.join(out, "qat_run", "settings.json")))
    assert settings["quantize"] and settings["mode"] == "unpaired" and settings["lambda_gan"] == 0
    assert settings["lambda_distill"] == 0 and settings["teacher"].endswith("generator.keras")
    assert description["parity"]["against"].startswith("the quantization-aware")
    assert description["precision"] == "int8" and description["gpu_delegate"]["compatible"]
    # One QAT epoch keeps the copy close to the float student it started from (measured 30.5 dB, and 30.5 dB PSNR
    # to it on the held-out images); its int8 TFLite follows the QAT model (28.6 dB). ~4.5 dB below those: a QAT
    # copy with uncalibrated [-6, 6] ranges measured 23.5 dB, one that lost the float weights ~5 dB.
    assert qat["keras_qat_vs_float_psnr"] >= 26.0
    assert qat["held_out_quality"]["psnr_to_teacher"] >= 26.0 and qat["held_out_quality"]["images"] == 4


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--qat-epochs", "1", "--qat-target", "teacher"], "needs its run dir (--teacher)"),
        (["--qat-epochs", "1", "--teacher", "runs/t", "--qat-target", "float"], "guides --qat-target teacher only"),
        (["--qat-epochs", "0.5"], "invalid int value"),
        (["--qat-epochs", "1", "--qat-lr", "0"], "qat lr must be > 0"),
        (["--qat-epochs", "2", "--precision", "float16"], "quantization-aware training makes int8 models"),
    ],
)
def test_cli_export_quantization_aware_training_refuses_bad_settings(student, tmp_path, capsys, argv, message):
    generator, data = student
    out = str(tmp_path / "bundle")
    argv = ["export", "--generator", generator, "--data", data, "--out", out, *argv]
    if "--precision" not in argv:
        argv += ["--precision", "int8"]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own type errors
        code = exit_.code
    assert code == 2 and message in capsys.readouterr().err
    assert not os.path.exists(out)
