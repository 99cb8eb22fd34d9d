from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tfgancomp.backend import tf
from tfgancomp.cli import main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.distill import DistillSettings, distill
from tfgancomp.search import extract_subnet, resnet_macs
from tfgancomp.search.runner import SupernetSettings, load_supernet, train_supernet
from tfgancomp.train import TeacherSettings, load_generator, train_teacher

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
    assert os.path.exists(os.path.join(out_search, "scatter.png"))

    supernet, settings = load_supernet(run)
    assert settings["space"] == space and settings["student_ngf"] == 8
    x = tf.random.uniform((2, 32, 32, 3), -1, 1)
    config = "8_4_8_4_4_8_4_8"
    out = str(tmp_path / "extract")
    assert main(["extract", "--supernet", run, "--config", config, "--out", out]) == 0
    assert "G MACs at 32x32" in capsys.readouterr().out
    extracted = load_generator(out)
    np.testing.assert_allclose(extracted(x).numpy(), supernet(x, config).numpy(), atol=1e-5)
    np.testing.assert_allclose(extract_subnet(supernet, config)(x).numpy(), extracted(x).numpy(), atol=1e-5)

    # fine-tune: distil the extracted subnet further, starting from its weights
    tuned = distill(DistillSettings(teacher, data, student_config=config, student_init=out, epochs=1, batch_size=2,
                                    num_samples=2), str(tmp_path / "finetune"), **QUIET)  # fmt: skip
    assert tuned["student_init"] == out
    from tfgancomp.distill import evaluate_student
    from tfgancomp.train import held_out_reader

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
