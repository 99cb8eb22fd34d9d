"""Safe by default: model files that cannot run code, run dirs that keep their results, locks, inputs checked first.

Each test reproduces a failure a clumsy user or an attacker met on the earlier code, then shows what happens now.
"""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from tfgancomp.backend import keras
from tfgancomp.cli import main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.models import ResNetGenerator
from tfgancomp.pipeline import TeacherSettings, load_generator, read_generator
from tfgancomp.pipeline.export import bundle_lock_file


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny edges2shapes dataset and a tiny teacher generator file (32×32)."""
    root = tmp_path_factory.mktemp("safety")
    data = str(root / "e2s")
    synthesize(SynthSettings("edges2shapes", num_train=4, num_test=2, size=32, seed=1), data)
    teacher = str(root / "teacher.keras")
    ResNetGenerator(ngf=4, n_blocks=2, height=32, width=32).save(teacher)
    return data, teacher


def _trojan_run_dir(folder, marker, data) -> str:
    """A teacher run dir whose ``generator.keras`` is an HDF5 file with a ``Lambda`` that writes ``marker``."""
    folder.mkdir()

    def payload(x, path=str(marker)):
        import pathlib

        pathlib.Path(path).write_text("code from the model file ran")
        return x

    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Lambda(payload)(inputs))
    model.save(str(folder / "trojan.h5"))  # the legacy HDF5 format stores the Lambda's bytecode
    os.replace(folder / "trojan.h5", folder / "generator.keras")
    marker.unlink()  # building the model above ran the payload once
    settings = TeacherSettings(task="pix2pix", data=data, ngf=4, n_blocks=2, size=32, epochs=1).resolved()
    (folder / "settings.json").write_text(json.dumps(dataclasses.asdict(settings)))
    return str(folder)


def test_a_model_file_that_would_run_code_is_refused_by_every_loader(tiny, tmp_path, capsys):
    data, teacher = tiny
    marker = tmp_path / "marker.txt"
    run_dir = _trojan_run_dir(tmp_path / "shared_run", marker, data)
    trojan = os.path.join(run_dir, "generator.keras")
    # the danger is real: Keras itself sends this file to the legacy loader, which runs the stored code
    keras.models.load_model(trojan, compile=False)
    assert marker.exists()
    marker.unlink()

    commands = {
        "export": ["export", "--generator", run_dir, "--out", str(tmp_path / "bundle")],
        "distill --teacher": ["distill", "--teacher", run_dir, "--data", data, "--student-ngf", "4",
                              "--out", str(tmp_path / "d1")],
        "distill --student-init": ["distill", "--teacher", teacher, "--task", "pix2pix", "--data", data,
                                   "--student-config", "4_4_4_4_4_4_4_4", "--student-init", run_dir,
                                   "--out", str(tmp_path / "d2")],
        "finetune": ["finetune", "--generator", run_dir, "--teacher", teacher, "--data", data,
                     "--out", str(tmp_path / "ft")],
        "train-supernet": ["train-supernet", "--teacher", run_dir, "--data", data, "--space", "channels-32",
                           "--out", str(tmp_path / "sn")],
    }  # fmt: skip
    for name, argv in commands.items():
        status = main(argv)
        err = capsys.readouterr().err
        assert status != 0, name
        assert "is not a zip .keras archive" in err and trojan in err, (name, err)
        assert len(err.strip().splitlines()) == 1, (name, err)
        assert not marker.exists(), f"{name} ran the model file's code"
    for load in (load_generator, read_generator):
        with pytest.raises(ValueError, match="is not a zip .keras archive"):
            load(run_dir)
    from tfgancomp.quantize import load_qat

    with pytest.raises(ValueError, match="is not a saved quantization-aware model"):
        load_qat(trojan)
    assert not marker.exists()
    # a zip .keras archive holding a Lambda is refused by Keras' safe mode, which every loader forces on
    inputs = keras.Input((32, 32, 3))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs)).save(str(tmp_path / "lambda.keras"))
    with pytest.raises(ValueError, match="(?i)lambda"):
        read_generator(str(tmp_path / "lambda.keras"))
    assert read_generator(teacher).count_params() > 0  # an honest file still loads


def _teacher_argv(data, out, *extra):
    return ["train-teacher", "--task", "pix2pix", "--data", data, "--out", out, "--ngf", "4", "--ndf", "4",
            "--n-blocks", "2", "--size", "32", "--epochs", "1", "--batch-size", "2", "--num-samples", "2",
            "--quiet", *extra]  # fmt: skip


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    return err


def test_run_dir_results_are_never_trained_over_and_a_failed_first_attempt_can_be_corrected(tiny, tmp_path, capsys):
    data, _ = tiny
    run = str(tmp_path / "run")
    # item 5: a typo in --data fails before anything is written; the corrected command runs in the same folder
    assert main(_teacher_argv(str(tmp_path / "no_such_data"), run)) == 2
    assert "no_such_data" in _error(capsys)
    assert not os.path.exists(os.path.join(run, "settings.json"))
    assert main(_teacher_argv(data, run)) == 0
    capsys.readouterr()
    generator = os.path.join(run, "generator.keras")
    finished = open(generator, "rb").read()
    index = os.path.join(run, "checkpoints", "checkpoint")
    saved_index = open(index).read()

    # item 2: an unreadable checkpoint index, then no checkpoints at all: refused, the results stay as they were
    open(index, "w").write("model_checkpoint_path: ckpt-1\x00{{{ not a checkpoint index")
    assert main(_teacher_argv(data, run, "--epochs", "2")) == 2
    err = _error(capsys)
    assert "holds generator.keras, history.json but no readable checkpoint" in err and "--restart" in err
    assert open(generator, "rb").read() == finished
    # item 7: a truncated checkpoint names itself in one line
    open(index, "w").write(saved_index)
    data_file = next(p for p in (tmp_path / "run" / "checkpoints").iterdir() if ".data-" in p.name)
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    assert main(_teacher_argv(data, run, "--epochs", "2")) == 2
    err = _error(capsys)
    assert "checkpoint" in err and "cannot be read" in err and "--restart" in err
    assert open(generator, "rb").read() == finished
    # item 7: malformed JSON names its file
    settings_json = os.path.join(run, "settings.json")
    good_settings = open(settings_json).read()
    open(settings_json, "w").write("{ truncated")
    assert main(_teacher_argv(data, run)) == 2
    assert f"{settings_json} is not valid JSON" in _error(capsys)
    open(settings_json, "w").write(good_settings)

    # --restart deletes exactly the run's files and trains from scratch
    (tmp_path / "run" / "notes.txt").write_text("mine")
    assert main(_teacher_argv(data, run, "--restart")) == 0
    capsys.readouterr()
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    assert [h["epoch"] for h in json.load(open(os.path.join(run, "history.json")))] == [1]
    assert load_generator(run).count_params() > 0
    assert not [f for f in os.listdir(run) if f.startswith(".tmp")]


def test_a_run_dir_in_use_is_refused_with_its_holder(tiny, tmp_path, capsys):
    from tfgancomp.pipeline.rundir import RunDirInUse, folder_lock

    data, teacher = tiny
    run = str(tmp_path / "busy")
    with folder_lock(run):
        assert main(_teacher_argv(data, run)) == 1
        err = _error(capsys)
        assert f"{run} is in use by pid {os.getpid()}" in err
        assert sorted(os.listdir(run)) == [".lock"]  # nothing else was written
        with pytest.raises(RunDirInUse):  # a second lock on the folder, even from this process
            with folder_lock(run):
                pass
    with folder_lock(run):  # released when the block ends
        pass
    bundle = str(tmp_path / "bundle")
    with folder_lock(bundle, bundle_lock_file(bundle)):  # a bundle folder's lock is beside it (it is swapped whole)
        assert main(["export", "--generator", teacher, "--out", bundle]) == 1
        assert f"{bundle} is in use by pid {os.getpid()}" in _error(capsys)
        assert not os.path.exists(bundle)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["search", "--supernet", "S", "--budget-macs", "1e6", "--out", "O", "--trials", "0"], "trials must be"),
        (["search", "--supernet", "S", "--budget-macs", "1e6", "--out", "O", "--images", "0"], "images must be"),
        (["search", "--supernet", "S", "--budget-macs", "nan", "--out", "O"], "budget_macs must be a finite"),
        (["search", "--supernet", "S", "--budget-macs", "-5", "--out", "O"], "budget_macs must be a finite"),
        (["search", "--supernet", "S", "--budget-macs", "1e6", "--out", "O", "--population", "0"], "population"),
        (["extract", "--supernet", "S", "--config", "4_4", "--out", "O", "--images", "0"], "images must be"),
        (["export", "--generator", "G", "--out", "O", "--images", "0"], "images must be"),
        (["export", "--generator", "G", "--out", "O", "--calibration-images", "-1"], "calibration_images must be"),
        (["export", "--generator", "G", "--out", "O", "--min-psnr", "nan"], "min_psnr must be a finite"),
    ],
)
def test_numeric_arguments_are_checked_before_any_work(argv, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert fragment in _error(capsys)
    assert os.listdir(tmp_path) == []  # refused before anything was created


def test_file_system_errors_are_one_line_naming_the_file(tiny, tmp_path, capsys):
    data, teacher = tiny
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(_teacher_argv(data, str(blocker / "run"))) == 1
    assert str(blocker) in _error(capsys)
    assert main(["export", "--generator", teacher, "--out", str(blocker)]) == 2
    assert f"bundle folder {blocker} is a file" in _error(capsys)


def test_a_bundle_is_swapped_whole_and_a_killed_swap_is_repaired(tiny, tmp_path, capsys):
    import subprocess
    import sys

    data, teacher = tiny
    out = tmp_path / "bundle"
    assert main(["export", "--generator", teacher, "--out", str(out), "--images", "2"]) == 0
    (out / "qat_run").mkdir()
    (out / "qat_run" / "history.json").write_text("[]")  # a run dir kept in the bundle folder travels along
    first = json.loads((out / "model.json").read_text())
    assert main(["export", "--generator", teacher, "--out", str(out), "--images", "2", "--precision", "float16"]) == 0
    capsys.readouterr()
    assert json.loads((out / "model.json").read_text())["precision"] == "float16"
    assert (out / "qat_run" / "history.json").read_text() == "[]"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".bundle-")]
    # a kill at each step of the swap leaves the old bundle or the new one, whole; the next export repairs it
    code = (
        "import os, sys; import mobile_export.files as f; from tfgancomp.cli import main\n"
        "step = int(sys.argv[1]); real = {'rename': os.rename, 'exchange': f._exchange}; calls = []\n"
        "def kill(name):\n"
        "    def wrapped(*a):\n"
        "        calls.append(name)\n"
        "        if len(calls) == step: os._exit(9)\n"
        "        return real[name](*a)\n"
        "    return wrapped\n"
        "f.os.rename = kill('rename'); f._exchange = kill('exchange')\n"
        f"main(['export', '--generator', {teacher!r}, '--out', {str(out)!r}, '--images', '2'])\n"
    )
    kills = 0
    for step in (2, 3):  # after the exchange (the old folder at the staging name), after retiring it (carry-over due)
        killed = subprocess.run([sys.executable, "-c", code, str(step)], capture_output=True, text=True)
        if killed.returncode != 9:
            assert killed.returncode == 0, killed.stderr[-2000:]
            break  # the swap took fewer steps on this system
        kills += 1
        description = json.loads((out / "model.json").read_text())
        assert description["precision"] in ("float16", "float32")
        assert description == json.loads(open(out / "model.json").read())
        from mobile_export import metadata

        assert metadata.read(str(out / "model.tflite"))["precision"] == description["precision"]
        assert main(["export", "--generator", teacher, "--out", str(out), "--images", "2", "--precision",
                     "float16"]) == 0  # fmt: skip
        capsys.readouterr()
        assert (out / "qat_run" / "history.json").read_text() == "[]", step
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".bundle-")], step
    assert first["precision"] == "float32"
    assert kills == 2, "the swap was not interrupted at both steps: the check above proved less than it says"


def test_what_the_scan_passes_the_pipeline_decodes_and_oversized_images_are_bad_files(tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    from tfgancomp.data import DataError, ReaderSettings, read_aligned

    folder = tmp_path / "train"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (16, 32, 3), dtype=np.uint8)).save(folder / f"good{i}.png")
    ab = Image.fromarray(rng.integers(0, 256, (16, 32, 3), dtype=np.uint8))
    # files Pillow opens but tf.io.decode_image (the training decoder) cannot: each crashed training mid-epoch
    huge = Image.fromarray(rng.integers(0, 256, (20, 40, 3), dtype=np.uint8))
    bad = {"tiff_named.png": lambda p: ab.save(p, format="TIFF"), "one_bit.bmp": lambda p: ab.convert("1").save(p),
           "ppm_named.jpg": lambda p: ab.save(p, format="PPM"), "huge.png": huge.save}  # fmt: skip
    for name, save in bad.items():
        save(str(folder / name))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 600)  # 16x32 = 512 passes, 20x40 = 800 is a "bomb"
    for name in bad:
        others = tmp_path / f"only_{name}"
        others.mkdir()
        for good in ("good0.png", "good1.png"):
            (others / good).write_bytes((folder / good).read_bytes())
        (others / name).write_bytes((folder / name).read_bytes())
        fragment = "decompression-bomb limit" if name == "huge.png" else "the training decoder"
        with pytest.raises(DataError, match=fragment) as err:
            read_aligned(str(others), ReaderSettings(16, batch_size=2), training=False)
        assert name in str(err.value)
    reader = read_aligned(str(folder), ReaderSettings(16, batch_size=1, on_error="skip"), training=True)
    assert sorted(os.path.basename(p) for p, _ in reader.summary.skipped) == sorted(bad)
    images = sum(int(x.shape[0]) for x, _ in reader.dataset)  # the whole epoch decodes
    assert images == 3
