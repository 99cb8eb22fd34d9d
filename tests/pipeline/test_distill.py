from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from tests.numerics import check_against_reordering
from tfgancomp.cli import main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.models import MobileResNetGenerator, SubMobileSPADEGenerator
from tfgancomp.pipeline import (
    DistillSettings,
    TeacherSettings,
    TrainingDiverged,
    distill,
    load_generator,
    train_teacher,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIET = dict(verbose=0, log=lambda *_: None)


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """A tiny trained teacher run per task, with its dataset."""
    root = tmp_path_factory.mktemp("teachers")
    out = {}
    for task, name, kwargs in (
        ("pix2pix", "edges2shapes", dict(num_train=24, num_test=6, size=32)),
        ("cyclegan", "shapes2zebra", dict(num_train=6, num_test=4, size=32)),
        ("gaugan", "labels2scenes", dict(num_train=4, num_test=2, size=32, label_nc=4)),
    ):
        data = str(root / name)
        synthesize(SynthSettings(name, seed=3, **kwargs), data)
        run = str(root / f"teacher_{task}")
        settings = TeacherSettings(task, data, ngf=4, ndf=4, n_blocks=3, size=32, epochs=1, batch_size=2,
                                   num_samples=2)  # fmt: skip
        train_teacher(settings, run, **QUIET)
        out[task] = (run, data)
    return out


def _settings(teachers, task, **kw):
    run, data = teachers[task]
    base = dict(student_ngf=4, epochs=1, batch_size=2, num_samples=2)
    return DistillSettings(run, data, **{**base, **kw})


def test_pix2pix_distillation_run_dir_metrics_and_resume(teachers, tmp_path):
    run = str(tmp_path / "run")
    messages = []
    metrics = distill(_settings(teachers, "pix2pix"), run, verbose=0, log=messages.append)
    assert {"settings.json", "generator.keras", "checkpoints", "samples", "logs", "history.json",
            "metrics.json"} <= set(os.listdir(run))  # fmt: skip
    settings = json.load(open(os.path.join(run, "settings.json")))
    assert settings["task"] == "pix2pix" and settings["mode"] == "paired" and settings["lambda_recon"] == 100.0
    assert settings["stage"] == "distill"
    assert settings["size"] == 32 and settings["n_blocks"] == 3 and settings["lambda_distill"] == 1.0
    student = load_generator(run)
    assert isinstance(student, MobileResNetGenerator) and student.get_config()["ngf"] == 4
    for key in ("untrained", "final"):
        assert {"psnr", "ssim", "psnr_to_teacher", "ssim_to_teacher"} <= set(metrics[key])
        assert metrics[key]["images"] == 6
    assert metrics["teacher"]["images"] == 6 and metrics["epochs"] == 1
    cost = metrics["costs"]["at_training_size"]
    assert cost["teacher_macs"] > cost["student_macs"] > 0 and metrics["costs"]["at_256"]["height"] == 256
    assert metrics["discriminator_from"].endswith("ckpt-1")  # the teacher run's discriminator
    assert metrics["taps"]["teacher"] == ["generator_down2_act", "generator_block1_out", "generator_block2_out",
                                          "generator_block3_out"]  # fmt: skip
    grid = Image.open(os.path.join(run, "samples", "epoch_001.png"))
    assert grid.size == (4 * 32, 2 * 32)  # input | teacher | student | truth
    # the same settings again, one more epoch: resumes with optimizer state
    messages = []
    distill(_settings(teachers, "pix2pix", epochs=2), run, verbose=0, log=messages.append)
    assert any("resuming" in m and "1 of 2 epochs" in m for m in messages)
    history = json.load(open(os.path.join(run, "history.json")))
    assert [h["epoch"] for h in history] == [1, 2] and {"g_distill", "g_recon", "g_gan", "d_loss"} <= set(history[0])
    from tfgancomp.backend import tf

    reader = tf.train.load_checkpoint(os.path.join(run, "checkpoints", "ckpt-2"))
    steps = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "iteration" in k]
    assert steps and all(int(s) == 24 for s in steps)  # 12 steps per epoch, 2 epochs, both optimizers
    assert not any(k.startswith("teacher") for k in reader.get_variable_to_shape_map())
    with pytest.raises(ValueError, match="lambda_distill: 1.0 in the run, 0.0 now"):
        distill(_settings(teachers, "pix2pix", epochs=2, lambda_distill=0.0), run, **QUIET)
    # a run stored before distill_norm existed trained with plain MSE: it resumes as "none", not as "teacher"
    assert settings["distill_norm"] == "none"
    stored = json.load(open(os.path.join(run, "settings.json")))
    del stored["distill_norm"]
    json.dump(stored, open(os.path.join(run, "settings.json"), "w"))
    with pytest.raises(ValueError, match="distill_norm: 'none' in the run, 'teacher' now"):
        distill(_settings(teachers, "pix2pix", epochs=3, distill_norm="teacher"), run, **QUIET)
    messages = []
    distill(_settings(teachers, "pix2pix", epochs=3), run, verbose=0, log=messages.append)
    assert any("resuming" in m and "2 of 3 epochs" in m for m in messages)


def test_student_config_and_init_from_teacher(teachers, tmp_path):
    s = _settings(teachers, "pix2pix", student_ngf=None, student_config="4_4_4_2_2_2_4_4", init_from_teacher=True,
                  lambda_gan=0.0)  # fmt: skip
    metrics = distill(s, str(tmp_path / "run"), **QUIET)
    assert "student_stem_conv" in metrics["student_layers_from_teacher"]
    assert metrics["discriminator_from"] is None  # no adversarial loss: no discriminator at all
    assert load_generator(str(tmp_path / "run")).get_config()["config"] == "4_4_4_2_2_2_4_4"


def test_unpaired_mode_on_shapes2zebra_with_a_cyclegan_teacher(teachers, tmp_path):
    run = str(tmp_path / "run")
    metrics = distill(_settings(teachers, "cyclegan"), run, **QUIET)
    settings = json.load(open(os.path.join(run, "settings.json")))
    assert settings["mode"] == "unpaired" and settings["lambda_recon"] == 10.0 and settings["lambda_distill"] == 0.01
    assert settings["gan_mode"] == "lsgan"
    assert metrics["discriminator_from"].endswith("ckpt-1")  # the teacher's discriminator of domain B
    assert metrics["final"]["images"] == 4 and "psnr_to_teacher" in metrics["final"]
    history = json.load(open(os.path.join(run, "history.json")))
    assert history[0]["g_recon"] > 0 and history[0]["g_gan"] > 0 and history[0]["g_distill"] > 0


def test_students_take_the_teachers_discriminator_depth(teachers, tmp_path):
    """A teacher trained with a shallower discriminator (n_layers_d) hands its depth and weights to the students'
    discriminator; a student asked for another depth starts a fresh one."""
    _, data = teachers["cyclegan"]
    run = str(tmp_path / "teacher")
    train_teacher(TeacherSettings("cyclegan", data, ngf=4, ndf=4, n_blocks=3, size=32, epochs=1, batch_size=2,
                                  num_samples=2, n_layers_d=1), run, **QUIET)  # fmt: skip
    base = dict(student_ngf=4, epochs=1, batch_size=2, num_samples=2)
    metrics = distill(DistillSettings(run, data, **base), str(tmp_path / "same"), **QUIET)
    assert json.load(open(tmp_path / "same" / "settings.json"))["n_layers_d"] == 1
    assert metrics["discriminator_from"].endswith("ckpt-1")  # restored: the depths match
    messages = []
    metrics = distill(DistillSettings(run, data, n_layers_d=2, **base), str(tmp_path / "other"), verbose=0,
                      log=messages.append)  # fmt: skip
    assert metrics["discriminator_from"] is None
    assert any("another input, width or depth" in m for m in messages)
    # the reference depth asked for explicitly is the depth of a teacher trained without n_layers_d
    metrics = distill(_settings(teachers, "cyclegan", n_layers_d=3), str(tmp_path / "explicit"), **QUIET)
    assert metrics["discriminator_from"].endswith("ckpt-1")


def test_gaugan_mode_on_labels2scenes(teachers, tmp_path):
    run = str(tmp_path / "run")
    messages = []
    s = _settings(teachers, "gaugan", student_ngf=None, student_config="2_2_2_2_2_2_2_2")
    metrics = distill(s, run, verbose=0, log=messages.append)
    assert any("VGG perceptual loss is off" in m for m in messages)
    student = load_generator(run)
    assert isinstance(student, SubMobileSPADEGenerator) and student.input_shape == (None, 32, 32, 5)
    history = json.load(open(os.path.join(run, "history.json")))
    assert history[0]["g_feat"] > 0 and history[0]["g_distill"] > 0 and np.isfinite(history[0]["g_loss"])
    assert metrics["taps"]["student"] == ["student_head_0_out", "student_G_middle_1_out", "student_up_1_out"]


def test_nan_loss_stops_and_keeps_the_last_good_student(teachers, tmp_path, monkeypatch):
    run = tmp_path / "run"
    distill(_settings(teachers, "pix2pix"), str(run), **QUIET)
    good = (run / "generator.keras").read_bytes()
    from tfgancomp.distill import distiller

    original = distiller.l1
    monkeypatch.setattr(distiller, "l1", lambda a, b: original(a, b) * float("nan"))
    with pytest.raises(TrainingDiverged, match=r"g_loss became nan at epoch 2, batch 1.*ckpt-1 \(1 epochs\)"):
        distill(_settings(teachers, "pix2pix", epochs=2), str(run), **QUIET)
    assert (run / "generator.keras").read_bytes() == good


def test_bad_distill_settings(teachers, tmp_path):
    run, data = teachers["pix2pix"]
    with pytest.raises(ValueError, match="exactly one of student_ngf"):
        DistillSettings(run, data)
    with pytest.raises(ValueError, match="exactly one of student_ngf"):
        DistillSettings(run, data, student_ngf=4, student_config="4_4_4_4_4_4")
    with pytest.raises(ValueError, match="teacher /nowhere does not exist"):
        DistillSettings("/nowhere", data, student_ngf=4)
    with pytest.raises(ValueError, match="malformed channel configuration"):
        DistillSettings(run, data, student_config="4_x").resolved()
    with pytest.raises(ValueError, match="generator file: give the task"):
        DistillSettings(os.path.join(run, "generator.keras"), data, student_ngf=4).resolved()
    with pytest.raises(ValueError, match="differs from the teacher run's task 'pix2pix'"):
        DistillSettings(run, data, student_ngf=4, task="cyclegan").resolved()
    with pytest.raises(ValueError, match="no settings.json"):
        DistillSettings(str(tmp_path), data, student_ngf=4).resolved()
    with pytest.raises(ValueError, match="lambda_gan must be >= 0"):
        DistillSettings(run, data, student_ngf=4, lambda_gan=-1.0)
    with pytest.raises(ValueError, match="distill_norm must be one of 'none', 'teacher'; got 'l2'"):
        DistillSettings(run, data, student_ngf=4, distill_norm="l2")


def test_a_generator_file_as_teacher_at_another_size(teachers, tmp_path):
    run, data = teachers["pix2pix"]
    s = DistillSettings(os.path.join(run, "generator.keras"), data, student_ngf=4, task="pix2pix", size=64,
                        epochs=1, batch_size=2, num_samples=2)  # fmt: skip
    metrics = distill(s, str(tmp_path / "run"), **QUIET)
    assert metrics["discriminator_from"] is None and metrics["costs"]["at_training_size"]["height"] == 64
    assert load_generator(str(tmp_path / "run")).input_shape == (None, 64, 64, 3)


def _cli(run, teacher, data, epochs):
    return [sys.executable, "-m", "tfgancomp.cli", "distill", "--teacher", teacher, "--data", data, "--out", run,
            "--student-ngf", "4", "--epochs", str(epochs), "--batch-size", "1", "--quiet"]  # fmt: skip


def test_sigkill_mid_run_then_the_same_command_resumes_and_finishes(teachers, tmp_path):
    run = str(tmp_path / "run")
    command = _cli(run, *teachers["pix2pix"], epochs=8)
    state = os.path.join(run, "checkpoints", "checkpoint")
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not os.path.exists(state) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # land the kill mid-epoch
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    done = int(open(state).read().split('model_checkpoint_path: "ckpt-')[1].split('"')[0])
    assert 1 <= done < 8
    load_generator(run)
    resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{done} of 8 epochs done" in resumed.stdout
    assert "held-out PSNR to truth" in resumed.stdout and "fewer MACs than the teacher" in resumed.stdout
    assert [h["epoch"] for h in json.load(open(os.path.join(run, "history.json")))] == list(range(1, 9))
    assert not [f for f in os.listdir(run) if f.startswith(".tmp") or f.endswith(".tmp")]


def test_cli_distill_errors(teachers, tmp_path, capsys):
    run, data = teachers["pix2pix"]
    argv = ["distill", "--teacher", run, "--data", data, "--out", str(tmp_path / "out")]
    assert main(argv) == 2  # neither --student-ngf nor --student-config: one line from the settings
    assert "give exactly one of student_ngf (--student-ngf) and student_config" in capsys.readouterr().err
    assert main([*argv, "--student-ngf", "4", "--gan-mode", "wgan"]) == 2
    assert "gan_mode" in capsys.readouterr().err
    assert main([*argv, "--student-ngf", "4", "--student-taps", "student_nothing", "--teacher-taps",
                 "generator_block1_out", "--epochs", "1"]) == 2  # fmt: skip
    assert "no layer named 'student_nothing'" in capsys.readouterr().err


MIRRORED = textwrap.dedent(
    """
    import json, numpy as np
    from tfgancomp.backend import keras, tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfgancomp.models import MobileResNetGenerator, PatchGANDiscriminator, ResNetGenerator
    from tfgancomp.distill import Distiller

    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32") for _ in range(2))
    keras.utils.set_random_seed(1)
    teacher = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
    teacher_weights = teacher.get_weights()

    def run(strategy, weights=None, order=slice(None)):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            t = ResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="generator")
            t.set_weights(teacher_weights)
            s = MobileResNetGenerator(ngf=4, n_blocks=3, height=32, width=32, name="student")
            d = PatchGANDiscriminator(6, 4, height=32, width=32)
            task = Distiller(s, t, d, gan_mode="lsgan")
            if weights:
                s.set_weights(weights[0]); d.set_weights(weights[1])
                for m, w in zip(task.mappings, weights[2]):
                    m.set_weights(w)
            task.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        start = (s.get_weights(), d.get_weights(), [m.get_weights() for m in task.mappings])
        data = tf.data.Dataset.from_tensor_slices((a[order], b[order])).batch(4)
        history = task.fit(data, epochs=2, verbose=0).history
        return start, history, s(a, training=False).numpy()

    start, single, out1 = run(tf.distribute.get_strategy())
    mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    _, mirrored, out2 = run(mirrored_strategy, start)
    # The same single-device training with the examples of each batch in reverse order: mathematically the same
    # losses and weights, so its differences are the float32 round-off this training amplifies (Adam turns
    # round-off gradients into steps of +-lr); the mirrored run may differ by a few times as much, no more.
    _, reordered, out3 = run(tf.distribute.get_strategy(), start, np.array([3, 2, 1, 0, 7, 6, 5, 4]))
    print(json.dumps({"replicas": mirrored_strategy.num_replicas_in_sync, "single": single,
                      "mirrored": mirrored, "reordered": reordered,
                      "output_diff": float(np.max(np.abs(out1 - out2))),
                      "reorder_diff": float(np.max(np.abs(out1 - out3))), "scale": float(np.max(np.abs(out1)))}))
    """
)


def test_mirrored_strategy_gives_the_single_device_losses_for_the_same_global_batch():
    out = subprocess.run([sys.executable, "-c", MIRRORED], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    check_against_reordering(result)


def test_cache_teacher_trains_from_the_cache_and_records_the_learning_curve(teachers, tmp_path):
    run = str(tmp_path / "run")
    messages = []
    metrics = distill(_settings(teachers, "pix2pix", epochs=2, cache_teacher=True, eval_every=1), run, verbose=0,
                      log=messages.append)  # fmt: skip
    assert metrics["teacher_cache"]["examples"] == 24 and metrics["teacher_cache"]["mirrored"] is True
    assert any(m.startswith("teacher cache: 24 examples and their mirror images") for m in messages)
    history = json.load(open(os.path.join(run, "history.json")))
    assert [h["epoch"] for h in history if "held_out_psnr" in h] == [1, 2]
    assert history[-1]["held_out_psnr"] == pytest.approx(metrics["final"]["psnr"], abs=1e-6)
    assert history[-1]["g_distill"] > 0 and np.isfinite(history[-1]["g_loss"])
    from tfgancomp.backend import tf

    reader = tf.train.load_checkpoint(os.path.join(run, "checkpoints", "ckpt-2"))
    steps = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "iteration" in k]
    assert steps and all(int(s) == 24 for s in steps)  # the same 12 steps per epoch as the readers give
    # unpaired (CycleGAN): the cache holds domain A and its teacher outputs, domain B comes from the reader
    metrics = distill(_settings(teachers, "cyclegan", cache_teacher=True, flip=False), str(tmp_path / "cyc"),
                      **QUIET)  # fmt: skip
    assert metrics["teacher_cache"]["mirrored"] is False and metrics["final"]["images"] == 4
    with pytest.raises(ValueError, match="cache_teacher needs uncropped training images: load_size 40"):
        distill(_settings(teachers, "pix2pix", cache_teacher=True, load_size=40), str(tmp_path / "crop"), **QUIET)
    assert not os.path.exists(tmp_path / "crop" / "checkpoints")


def test_fields_added_since_a_run_was_stored_compare_as_the_value_that_run_trained_with(tmp_path):
    from tfgancomp.pipeline.compress import CompressSettings
    from tfgancomp.pipeline.rundir import check_same_settings

    (tmp_path / "settings.json").write_text(json.dumps({"stage": "distill", "epochs": 2}))
    added = DistillSettings.ADDED_FIELDS
    check_same_settings(str(tmp_path), {"epochs": 2, "distill_norm": "none"}, added=added)
    with pytest.raises(ValueError, match="distill_norm: 'none' in the run, 'teacher' now"):
        check_same_settings(str(tmp_path), {"epochs": 2, "distill_norm": "teacher"}, added=added)
    # compress keeps None ("the task's default") and declares nothing: a compress folder stored before it resumes
    assert not hasattr(CompressSettings, "ADDED_FIELDS")
    check_same_settings(str(tmp_path), {"epochs": 2, "distill_norm": None})
