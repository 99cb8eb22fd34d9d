from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.numerics import check_against_reordering
from tfgancomp.cli import main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.pipeline import (
    TeacherSettings,
    TrainingDiverged,
    evaluate,
    held_out_reader,
    load_generator,
    train_teacher,
)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    out = {}
    for task, kwargs in {
        "edges2shapes": dict(num_train=200, num_test=24, size=64),
        "shapes2zebra": dict(num_train=6, num_test=4, size=32),
        "labels2scenes": dict(num_train=6, num_test=4, size=32, label_nc=4),
    }.items():
        out[task] = str(root / task)
        synthesize(SynthSettings(task, seed=3, **kwargs), out[task])
    return out


def _tiny(task, data, **kw):
    base = dict(ngf=4, ndf=4, n_blocks=2, size=32, epochs=1, batch_size=2, num_samples=2)
    return TeacherSettings(task, data, **{**base, **kw})


def test_pix2pix_teacher_beats_the_untrained_network_by_a_wide_margin(datasets, tmp_path):
    """Acceptance: ResNet ngf 16 at 64×64 on edges2shapes, a few CPU minutes at most (~150 steps of 4)."""
    settings = TeacherSettings("pix2pix", datasets["edges2shapes"], ngf=16, ndf=16, size=64, epochs=3,
                               decay_epochs=0, batch_size=4, seed=0)  # fmt: skip
    metrics = train_teacher(settings, str(tmp_path / "run"), verbose=0, log=lambda *_: None)
    before, after = metrics["untrained"], metrics["final"]
    print(f"held-out PSNR untrained {before['psnr']:.2f} dB -> trained {after['psnr']:.2f} dB")
    assert after["images"] == 24
    assert after["psnr"] >= before["psnr"] + 8.0 and after["psnr"] >= 16.0
    assert after["ssim"] >= before["ssim"] + 0.3
    g = load_generator(str(tmp_path / "run"))  # the saved generator is the trained one: it scores what was recorded
    assert g.get_config()["ngf"] == 16 and g.count_params() == type(g).from_config(g.get_config()).count_params()
    again = evaluate(g, held_out_reader(settings))
    assert again["psnr"] == pytest.approx(after["psnr"], abs=1e-3) and again["images"] == after["images"]


def test_run_dir_of_each_task_and_resume_restores_optimizer_state(datasets, tmp_path):
    for task, data in (("cyclegan", "shapes2zebra"), ("gaugan", "labels2scenes")):
        run = str(tmp_path / task)
        messages = []
        metrics = train_teacher(_tiny(task, datasets[data]), run, verbose=0, log=messages.append)
        assert {"settings.json", "generator.keras", "checkpoints", "samples", "logs", "history.json",
                "metrics.json"} <= set(os.listdir(run))  # fmt: skip
        assert os.listdir(os.path.join(run, "samples")) == ["epoch_001.png"]
        events = [f for _, _, files in os.walk(os.path.join(run, "logs")) for f in files if "tfevents" in f]
        assert len(events) >= 2
        assert metrics["epochs"] == 1 and metrics["final"]["images"] == 4 and "untrained" in metrics
        settings = json.load(open(os.path.join(run, "settings.json")))
        assert settings["stage"] == "teacher" and settings["task"] == task
        if task == "gaugan":
            assert settings["label_nc"] == 4 and settings["instance"] is True and settings["gan_mode"] == "hinge"
            assert any("VGG perceptual loss is off" in m for m in messages)
            assert load_generator(run).input_shape == (None, 32, 32, 5)
        else:
            assert os.path.exists(os.path.join(run, "generator_ba.keras"))
            assert load_generator(run, "generator_ba").name == "generator_ba"
    # resuming to 2 epochs continues the optimizer: its step counter covers both epochs
    messages = []
    train_teacher(_tiny("cyclegan", datasets["shapes2zebra"], epochs=2), str(tmp_path / "cyclegan"), verbose=0,
                  log=messages.append)  # fmt: skip
    assert any("resuming" in m and "1 of 2 epochs" in m for m in messages)
    history = json.load(open(tmp_path / "cyclegan" / "history.json"))
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["lr"] < history[0]["lr"]
    from tfgancomp.backend import tf

    reader = tf.train.load_checkpoint(str(tmp_path / "cyclegan" / "checkpoints" / "ckpt-2"))
    steps = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if "iteration" in k]
    assert steps and all(int(s) == 6 for s in steps)  # 3 steps per epoch, 2 epochs, both optimizers


def test_other_settings_in_an_existing_run_dir_are_refused(datasets, tmp_path):
    run = str(tmp_path / "run")
    train_teacher(_tiny("pix2pix", datasets["edges2shapes"], size=32), run, verbose=0, log=lambda *_: None)
    with pytest.raises(ValueError, match="ngf: 4 in the run, 8 now"):
        train_teacher(_tiny("pix2pix", datasets["edges2shapes"], ngf=8), run, verbose=0, log=lambda *_: None)
    with pytest.raises(ValueError, match="not a training run dir"):
        load_generator(str(tmp_path))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(datasets, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train_teacher(_tiny("pix2pix", datasets["edges2shapes"], epochs=1), str(run), verbose=0, log=lambda *_: None)
    good = (run / "generator.keras").read_bytes()
    from tfgancomp.train import tasks

    original = tasks.l1
    monkeypatch.setattr(tasks, "l1", lambda a, b: original(a, b) * float("nan"))
    with pytest.raises(TrainingDiverged, match=r"g_loss became nan at epoch 2, batch 1.*ckpt-1 \(1 epochs\)"):
        train_teacher(_tiny("pix2pix", datasets["edges2shapes"], epochs=3), str(run), verbose=0,
                      log=lambda *_: None)  # fmt: skip
    assert (run / "generator.keras").read_bytes() == good
    state = (run / "checkpoints" / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-1"' in state and "ckpt-2" not in state
    monkeypatch.setattr(tasks, "l1", original)
    metrics = train_teacher(_tiny("pix2pix", datasets["edges2shapes"], epochs=2), str(run), verbose=0,
                            log=lambda *_: None)  # fmt: skip
    assert metrics["epochs"] == 2


def test_bad_teacher_settings():
    with pytest.raises(ValueError, match="task"):
        TeacherSettings("unet", "/data")
    with pytest.raises(ValueError, match="decay_epochs"):
        TeacherSettings("pix2pix", "/data", epochs=2, decay_epochs=3)
    with pytest.raises(ValueError, match="vgg_weights file /nowhere/vgg.h5 does not exist"):
        TeacherSettings("gaugan", "/data", vgg_weights="/nowhere/vgg.h5")


def test_discriminator_depth_sets_the_patch_each_output_judges(datasets):
    """n_layers_d: 3 stride-2 layers (the reference) judge 70-pixel patches, 2 x 2 of them at 32²; 1 layer, 16-pixel
    patches, 14 x 14 of them; GauGAN's multiscale discriminator takes it per scale."""
    from tfgancomp.pipeline.teacher import build_models

    for n_layers_d, cells in ((None, 2), (3, 2), (1, 14)):
        models = build_models(_tiny("cyclegan", datasets["shapes2zebra"], n_layers_d=n_layers_d).resolved())
        for role in ("discriminator_a", "discriminator_b"):
            assert tuple(models[role].output_shape) == (None, cells, cells, 1), (n_layers_d, role)
    pix2pix = build_models(_tiny("pix2pix", datasets["edges2shapes"], n_layers_d=1).resolved())["discriminator"]
    assert tuple(pix2pix.output_shape) == (None, 14, 14, 1)
    gaugan = _tiny("gaugan", datasets["labels2scenes"], n_layers_d=2).resolved()
    assert build_models(gaugan)["discriminator"].get_config()["n_layers"] == 2
    with pytest.raises(ValueError, match="n_layers_d"):
        TeacherSettings("cyclegan", "/data", n_layers_d=0)


def test_gaugan_needs_a_label_count(tmp_path):
    with pytest.raises(ValueError, match="label_nc"):
        TeacherSettings("gaugan", str(tmp_path)).resolved()


def _cli(run, data, epochs):
    return [sys.executable, "-m", "tfgancomp.cli", "train-teacher", "--task", "pix2pix", "--data", data, "--out", run,
            "--ngf", "4", "--ndf", "4", "--n-blocks", "2", "--size", "32", "--epochs", str(epochs),
            "--batch-size", "1", "--quiet"]  # fmt: skip


def test_sigkill_mid_run_then_the_same_command_resumes_and_finishes(datasets, tmp_path):
    run = str(tmp_path / "run")
    command = _cli(run, datasets["edges2shapes"], epochs=6)
    state = os.path.join(run, "checkpoints", "checkpoint")
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not os.path.exists(state) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # land the kill mid-epoch (an epoch is 200 steps)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "training finished before it could be killed"
    done = int(open(state).read().split('model_checkpoint_path: "ckpt-')[1].split('"')[0])
    assert 1 <= done < 6
    load_generator(run)  # the generator left by the killed run is whole
    resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{done} of 6 epochs done" in resumed.stdout
    metrics = json.load(open(os.path.join(run, "metrics.json")))
    assert metrics["epochs"] == 6 and metrics["final"]["psnr"] > metrics["untrained"]["psnr"]
    assert [h["epoch"] for h in json.load(open(os.path.join(run, "history.json")))] == list(range(1, 7))
    assert not [f for f in os.listdir(run) if f.startswith(".tmp") or f.endswith(".tmp")]


MIRRORED = textwrap.dedent(
    """
    import json, numpy as np
    from tfgancomp.backend import keras, tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfgancomp.models import PatchGANDiscriminator, ResNetGenerator
    from tfgancomp.train import Pix2PixTask

    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32") for _ in range(2))

    def run(strategy, weights=None, order=slice(None)):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            g = ResNetGenerator(ngf=4, n_blocks=2, height=32, width=32)
            d = PatchGANDiscriminator(6, 4, height=32, width=32)
            if weights:
                g.set_weights(weights[0]); d.set_weights(weights[1])
            task = Pix2PixTask(g, d, "lsgan")
            task.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        start = (g.get_weights(), d.get_weights())
        data = tf.data.Dataset.from_tensor_slices((a[order], b[order])).batch(4)
        history = task.fit(data, epochs=2, verbose=0).history
        return start, history, g(a, training=False).numpy()

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


def test_mirrored_strategy_gives_the_single_device_loss_for_the_same_global_batch():
    out = subprocess.run([sys.executable, "-c", MIRRORED], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    check_against_reordering(result)


def test_cli_train_teacher_reports_and_errors(datasets, tmp_path, capsys):
    run = str(tmp_path / "run")
    argv = ["train-teacher", "--task", "cyclegan", "--data", datasets["shapes2zebra"], "--out", run, "--ngf", "4",
            "--ndf", "4", "--n-blocks", "1", "--size", "32", "--epochs", "1", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "held-out PSNR" in out and "generator.keras" in out
    assert main(argv[:-1] + ["--gan-mode", "wgan"]) == 2
    assert "gan_mode" in capsys.readouterr().err
    assert main(["train-teacher", "--task", "pix2pix", "--data", str(tmp_path / "none"), "--out", run + "2"]) == 2
    assert "no such data folder" in capsys.readouterr().err


def test_eval_every_records_the_held_out_learning_curve(datasets, tmp_path):
    settings = _tiny("pix2pix", datasets["edges2shapes"], epochs=3, eval_every=2)
    messages = []
    metrics = train_teacher(settings, str(tmp_path / "run"), verbose=0, log=messages.append)
    history = json.load(open(tmp_path / "run" / "history.json"))
    scored = [h["epoch"] for h in history if "held_out_psnr" in h]
    assert scored == [2, 3]  # every 2nd epoch and the last
    # the last point is the final model's held-out score (the same generator, the same images)
    assert history[-1]["held_out_psnr"] == pytest.approx(metrics["final"]["psnr"], abs=1e-6)
    assert history[-1]["held_out_ssim"] == pytest.approx(metrics["final"]["ssim"], abs=1e-6)
    assert any(m.startswith("epoch 2: held_out_psnr") for m in messages)
    with pytest.raises(ValueError, match="eval_every must be an integer >= 0"):
        _tiny("pix2pix", datasets["edges2shapes"], eval_every=-1)
