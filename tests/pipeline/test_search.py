from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

from tests.numerics import float32_budget
from tfgancomp.backend import tf
from tfgancomp.cli import main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.pipeline import (
    DistillSettings,
    SupernetSettings,
    TeacherSettings,
    distill,
    load_generator,
    load_supernet,
    student_architecture,
    train_supernet,
    train_teacher,
)
from tfgancomp.search import extract_subnet, resnet_macs, spade_macs

QUIET = dict(verbose=0, log=lambda *_: None)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("supernet")
    data = str(root / "e2s")
    synthesize(SynthSettings("edges2shapes", num_train=12, num_test=4, size=32, seed=2), data)
    teacher = str(root / "teacher")
    train_teacher(TeacherSettings("pix2pix", data, ngf=4, ndf=4, n_blocks=3, size=32, epochs=1, batch_size=2,
                                  num_samples=2), teacher, **QUIET)  # fmt: skip
    space = root / "space.json"
    space.write_text(json.dumps({"family": "resnet", "choices": [[8, 4]] * 8}))
    return data, teacher, str(space)


def test_supernet_run_resume_extract_and_finetune(setup, tmp_path, capsys):
    data, teacher, space = setup
    run = str(tmp_path / "supernet")
    base = dict(space=space, epochs=1, batch_size=2, num_samples=2)
    metrics = train_supernet(SupernetSettings(teacher, data, **base), run, **QUIET)
    assert metrics["epochs"] == 1 and metrics["final"]["images"] == 4 and "psnr_to_teacher" in metrics["final"]
    assert metrics["discriminator_from"].endswith("ckpt-1") and metrics["space"]["choices"] == [[8, 4]] * 8
    largest = load_generator(run)  # the largest subnet, a plain generator
    assert largest.get_config()["config"] == "8_8_8_8_8_8_8_8"
    messages = []
    train_supernet(SupernetSettings(teacher, data, **{**base, "epochs": 2}), run, verbose=0, log=messages.append)
    assert any("1 of 2 epochs" in m for m in messages)

    # search from the shared weights, under a budget, through the CLI; the same command resumes
    out_search = str(tmp_path / "search")
    budget = 0.6 * resnet_macs("8_8_8_8_8_8_8_8", 32, 32, 3)
    argv = ["search", "--supernet", run, "--budget-macs", str(budget), "--out", out_search, "--trials", "6",
            "--population", "4", "--images", "4"]  # fmt: skip
    assert main(argv) == 0
    assert "6 trials; best" in capsys.readouterr().out
    rows = json.load(open(os.path.join(out_search, "results.json")))["trials"]
    assert len(rows) == 6 and all(r["macs"] <= budget for r in rows) and rows[0]["score"] >= rows[-1]["score"]
    assert main([*argv[:-6], "--trials", "8", "--population", "4", "--images", "4"]) == 0
    assert len(json.load(open(os.path.join(out_search, "results.json")))["trials"]) == 8
    stored = json.load(open(os.path.join(out_search, "settings.json")))
    assert stored["stage"] == "search" and stored["supernet"] == run and stored["trials"] == 8
    assert stored["budget_macs"] == budget and stored["objective"] == "psnr"
    capsys.readouterr()  # the same folder with another budget would mix two searches: refused, nothing run
    other = [a if a != str(budget) else str(budget * 1.1) for a in argv]
    assert main(other) == 2 and "budget_macs" in capsys.readouterr().err
    assert json.load(open(os.path.join(out_search, "settings.json"))) == stored
    assert os.path.exists(os.path.join(out_search, "scatter.png"))
    trial = next(glob.iglob(os.path.join(out_search, "search", "trial_*", "trial.json")))
    with open(trial, "w") as f:
        f.write('{"trial_id": ')  # a damaged KerasTuner file is named in one line (issue 16)
    capsys.readouterr()
    assert main([*argv[:-6], "--trials", "9", "--population", "4", "--images", "4"]) == 2
    err = capsys.readouterr().err
    assert f"{trial} is not valid JSON" in err and len(err.strip().splitlines()) == 1

    supernet, settings = load_supernet(run)
    assert settings["space"] == space and settings["student_ngf"] == 8
    x = tf.random.uniform((2, 32, 32, 3), -1, 1)
    config = "8_4_8_4_4_8_4_8"
    out = str(tmp_path / "extract")
    assert main(["extract", "--supernet", run, "--config", config, "--out", out]) == 0
    assert "G MACs at 32x32" in capsys.readouterr().out
    extracted = load_generator(out)
    described = json.load(open(os.path.join(out, "settings.json")))  # self-describing for export / fine-tune
    assert described["stage"] == "extract" and described["config"] == config and described["supernet"] == run
    assert described["task"] == "pix2pix" and described["size"] == 32 and described["data"] == data
    macs = json.load(open(os.path.join(out, "metrics.json")))["costs"]["at_training_size"]["macs"]
    assert macs == resnet_macs(config, 32, 32, 3)
    assert json.load(open(os.path.join(run, "settings.json")))["stage"] == "supernet"
    budget = float32_budget(extracted, x)  # its float64 twin bounds every float32 path (tests/numerics.py)
    budget.check(supernet(x, config), "supernet at the extracted configuration")
    budget.check(extract_subnet(supernet, config)(x), "a dynamic-size extraction")

    # fine-tune: distil the extracted subnet further, starting from its weights (architecture read from the file)
    finetune = str(tmp_path / "finetune")
    argv = ["finetune", "--generator", out, "--teacher", teacher, "--data", data, "--out", finetune, "--epochs", "1",
            "--batch-size", "2", "--num-samples", "2", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "held-out PSNR to truth" in capsys.readouterr().out
    tuned = json.load(open(os.path.join(finetune, "metrics.json")))
    assert tuned["student_init"] == out and load_generator(finetune).get_config()["config"] == config
    assert json.load(open(os.path.join(finetune, "settings.json")))["stage"] == "finetune"
    from tfgancomp.pipeline import evaluate_student, held_out_reader

    reader = held_out_reader(DistillSettings(teacher, data, student_config=config).resolved())
    scores = evaluate_student(extracted, load_generator(teacher), reader)
    assert abs(tuned["untrained"]["psnr"] - scores["psnr"]) < 1e-3  # the fine-tune started from the extract


def test_supernet_settings_and_loading_errors(setup, tmp_path):
    data, teacher, space = setup
    with pytest.raises(ValueError, match="no student_config"):
        SupernetSettings(teacher, data, space=space, student_config="8_8_8_8_8_8_8_8")
    with pytest.raises(ValueError, match="sampling"):
        SupernetSettings(teacher, data, space=space, sampling="greedy")
    with pytest.raises(ValueError, match="unknown resnet search space"):
        SupernetSettings(teacher, data, space="channels-7")
    with pytest.raises(ValueError, match="not a supernet run dir"):
        load_supernet(teacher)
    with pytest.raises(ValueError, match="does not have the student's architecture"):
        distill(DistillSettings(teacher, data, student_ngf=4, student_init=teacher, epochs=1, batch_size=2),
                str(tmp_path / "bad"), **QUIET)  # fmt: skip
    assert not os.path.exists(tmp_path / "bad" / "generator.keras")
    with pytest.raises(ValueError, match="is a ResNetGenerator; a student is"):
        student_architecture(teacher)
    with pytest.raises(ValueError, match="unknown resnet search space 'channels-64'"):
        SupernetSettings(teacher, data, space="channels-64")  # a SPADE space, not one of the teacher's family


def test_gaugan_supernet_search_extract_and_finetune(tmp_path, capsys):
    """The SPADE family: batch-norm supernet, search (recalibrated per trial), extract.

    The teacher is a generator file (an untrained SPADE generator: the mechanics are under test, not quality).
    Distillation and reconstruction only, to keep the suite fast: the adversarial path of supernet training is
    the Distiller's, run by the ResNet test above; fine-tuning a SPADE student is covered in tests/distill.
    """
    from tfgancomp.models import SPADEGenerator

    data, teacher = str(tmp_path / "l2s"), str(tmp_path / "teacher.keras")
    synthesize(SynthSettings("labels2scenes", num_train=4, num_test=2, size=32, label_nc=3, seed=1), data)
    SPADEGenerator(label_nc=3, instance=True, ngf=2, nhidden=4, height=32, width=32, name="generator").save(teacher)
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"family": "spade", "choices": [[4, 2]] * 8}))
    run = str(tmp_path / "supernet")
    settings = SupernetSettings(teacher, data, space=str(space), task="gaugan", epochs=1, batch_size=2, num_samples=2,
                                lambda_gan=0.0, lambda_feat=0.0, lambda_recon=10.0)  # fmt: skip
    metrics = train_supernet(settings, run, **QUIET)
    assert metrics["final"]["images"] == 2 and metrics["taps"]["student"] == ["head_0_out", "G_middle_1_out",
                                                                                "up_1_out"]  # fmt: skip
    history = json.load(open(os.path.join(run, "history.json")))
    assert history[0]["g_recon"] > 0 and history[0]["g_distill"] > 0 and np.isfinite(history[0]["g_loss"])
    supernet, settings = load_supernet(run)
    assert type(supernet).__name__ == "SuperMobileSPADEGenerator" and settings["param_free_norm"] == "batch"
    assert float(tf.reduce_max(tf.abs(supernet.batch_norms()[0].moving_mean))) > 0  # trained statistics restored

    out_search = str(tmp_path / "search")
    budget = 0.7 * spade_macs("4_4_4_4_4_4_4_4", 32, 32, 3, True)
    assert main(["search", "--supernet", run, "--budget-macs", str(budget), "--out", out_search, "--trials", "3",
                 "--population", "2", "--images", "2"]) == 0  # fmt: skip
    rows = json.load(open(os.path.join(out_search, "results.json")))["trials"]
    assert len(rows) == 3 and all(r["macs"] <= budget for r in rows)
    out = str(tmp_path / "extract")
    assert main(["extract", "--supernet", run, "--config", rows[0]["config"], "--out", out, "--images", "2"]) == 0
    extracted = load_generator(out)
    described = json.load(open(os.path.join(out, "settings.json")))
    assert described["stage"] == "extract" and described["task"] == "gaugan" and described["label_nc"] == 3
    assert type(extracted).__name__ == "SubMobileSPADEGenerator"
    from tfgancomp.pipeline.supernet import scoring_batches

    # the extract carries the configuration's recalibrated statistics: it reproduces the search's score
    ((x, y),) = scoring_batches(settings, 2)
    from tfgancomp.metrics.quality import psnr

    assert abs(float(tf.reduce_mean(psnr(extracted(x), y))) - rows[0]["psnr"]) < 1e-3
    blocks = {k: v for k, v in extracted.get_config().items() if k == "n_blocks"}  # the ResNet family's
    assert student_architecture(out) == {"student_config": rows[0]["config"], **blocks}  # what `finetune` rebuilds


def test_a_layout_supernet_searched_under_a_latency_budget_and_extracted(setup, tmp_path, capsys):
    """Dense-or-separable blocks in the space; the search keeps every trial under the predicted ms budget."""
    from tests.search.test_latency import synthetic
    from tfgancomp.search import LatencyTable, SearchSpace

    data, teacher, _ = setup
    space = SearchSpace("layout", "resnet", [[8, 4]] * 8 + [[0, 1]] * 3 + [[1]] * 3)
    space_file = tmp_path / "layout.json"
    space_file.write_text(json.dumps(space.to_dict()))
    run = str(tmp_path / "supernet")
    train_supernet(SupernetSettings(teacher, data, space=str(space_file), epochs=1, batch_size=2, num_samples=2), run,
                   **QUIET)  # fmt: skip
    supernet, _ = load_supernet(run)
    assert supernet.dense and supernet.get_config()["dense"] is True
    table = synthetic(space)
    table_file = str(tmp_path / "table.json")
    table.save(table_file)
    budget = (table.predict(space.smallest(), 3) + table.predict(space.largest(), 3)) / 2
    out = str(tmp_path / "search")
    argv = ["search", "--supernet", run, "--budget-ms", str(budget), "--latency-table", table_file, "--out", out,
            "--trials", "6", "--population", "4", "--images", "4", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    assert "ms predicted" in capsys.readouterr().out
    results = json.load(open(os.path.join(out, "results.json")))
    rows = results["trials"]
    assert results["budget_ms"] == budget and len(rows) == 6
    for row in rows:
        assert row["predicted_ms"] <= budget and row["predicted_ms"] == table.predict(space.decode(row["config"]), 3)
        assert row["macs"] == resnet_macs(row["config"], 32, 32, 3)
    stored = json.load(open(os.path.join(out, "settings.json")))
    assert stored["budget_ms"] == budget and stored["budget_macs"] is None
    assert stored["latency_table"]["path"] == table_file and stored["latency_table"]["target"] == table.target
    assert "predicted_ms" in open(os.path.join(out, "results.csv")).readline()

    # extraction of a dense layout from the shared weights: a plain generator, equal to the supernet there
    config = "8_8_8_8dx1_4x1_8dx1_8_8"
    extracted_dir = str(tmp_path / "extract")
    assert main(["extract", "--supernet", run, "--config", config, "--out", extracted_dir]) == 0
    extracted = load_generator(extracted_dir)
    assert extracted.get_config()["config"] == config
    x = tf.random.uniform((2, 32, 32, 3), -1, 1)
    float32_budget(extracted, x).check(supernet(x, config), "layout supernet at the extracted configuration")
    capsys.readouterr()

    # tables that cannot predict this search are refused before any scoring, in one line naming why
    other_size = LatencyTable(**{**table.__dict__, "height": 64, "width": 64, "source": None})
    other_size.save(str(tmp_path / "t64.json"))
    separable_only = synthetic(SearchSpace("sep", "resnet", space.choices[:8]))
    separable_only.save(str(tmp_path / "sep.json"))
    broken = table.to_dict()
    del broken["target"]["device"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    for table_arg, message in [
        (str(tmp_path / "t64.json"), "was measured at 64x64; the search runs at 32x32"),
        (str(tmp_path / "sep.json"), "has no block_dense entry"),
        (str(tmp_path / "broken.json"), "key 'target.device' is missing"),
        (None, "no shipped latency table is measured at 32x32"),
    ]:
        bad = [*argv[:5], *(["--latency-table", table_arg] if table_arg else []), "--out", str(tmp_path / "s2"),
               "--trials", "2"]  # fmt: skip
        assert main(bad) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert (
        main([*argv[:3], "--budget-ms", "0.000001", "--latency-table", table_file, "--out", str(tmp_path / "s3")]) == 2
    )
    assert "is below the smallest configuration" in capsys.readouterr().err
