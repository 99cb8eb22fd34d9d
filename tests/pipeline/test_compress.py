"""``tfgancomp compress``: the whole job in one command, its refusals before any training, its rerun that skips."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tfgancomp.cli import main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.pipeline import TeacherSettings, train_teacher
from tfgancomp.pipeline.compress import STAGES, CompressSettings, derived_space, parse_ratio, settings_from_mapping

QUIET = dict(verbose=0, log=lambda *_: None)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("compress")
    data = str(root / "e2s")
    synthesize(SynthSettings("edges2shapes", num_train=8, num_test=4, size=32, seed=3), data)
    teacher = str(root / "teacher")
    train_teacher(TeacherSettings("pix2pix", data, ngf=8, ndf=4, n_blocks=3, size=32, epochs=1, batch_size=2,
                                  num_samples=2), teacher, **QUIET)  # fmt: skip
    return root, data, teacher


def _kill_when(command: list[str], ready, what: str) -> None:
    """Start ``command``, SIGKILL it as soon as ``ready()`` holds, and check that it was still running then."""
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not ready() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"compress finished (or failed) before it could be killed {what}"


def _temps(folder: str) -> list[str]:
    return [os.path.join(d, n) for d, _, names in os.walk(folder) for n in names if n.startswith(".tmp")]


def test_compress_killed_in_training_and_in_export_then_finishes_and_skips_every_stage(setup, tmp_path, capsys):
    """SIGKILL mid supernet training, then mid export; the same command completes, skipping finished stages."""
    _, data, teacher = setup
    out = str(tmp_path / "run")
    config = tmp_path / "compress.yaml"  # YAML here, TOML in the refusal tests below
    config.write_text(f"data: {data}\nteacher: {teacher}\nmacs_ratio: 1/8\nsupernet_epochs: 3\ntrials: 4\n"
                      "population: 2\nsearch_images: 4\nfinetune_epochs: 1\nbatch_size: 2\n"
                      "precisions: [float16, int8]\nqat_epochs: 0\nbenchmark_runs: 3\n")  # fmt: skip
    argv = ["compress", "--config", str(config), "--out", out, "--quiet"]
    command = [sys.executable, "-m", "tfgancomp.cli", *argv]
    stages_file = os.path.join(out, "stages.json")

    def stages():
        return json.load(open(stages_file)) if os.path.exists(stages_file) else {}

    # 1. killed once the supernet's first of three epochs is checkpointed
    _kill_when(command, lambda: os.path.exists(os.path.join(out, "supernet", "checkpoints", "checkpoint")),
               "during supernet training")  # fmt: skip
    assert "supernet" not in stages()
    # 2. the same command: resumes the supernet, searches, extracts, fine-tunes; killed as the export begins
    _kill_when(command, lambda: os.path.isdir(os.path.join(out, "export")), "during the export")
    assert "finetune" in stages() and "export" not in stages()
    # 3. the same command completes, every stage finished before is skipped
    assert main(argv) == 0
    printed = capsys.readouterr().out
    for name in ("teacher", "supernet", "search", "extract", "finetune"):
        assert f"{name}: done before, skipped" in printed
    assert "export: done before" not in printed and "[6/8] export: done in" in printed
    assert not _temps(out), _temps(out)
    supernet_history = json.load(open(os.path.join(out, "supernet", "history.json")))
    assert [h["epoch"] for h in supernet_history] == [1, 2, 3]  # resumed, not restarted
    assert "| teacher (float16) |" in printed and "| compressed int8 |" in printed and "report.html" in printed
    stages = json.load(open(os.path.join(out, "stages.json")))
    assert set(stages) == set(STAGES)
    settings = json.load(open(os.path.join(out, "settings.json")))
    assert settings["stage"] == "compress" and settings["macs_ratio"] == 0.125 and settings["teacher"] == teacher
    plan = json.load(open(os.path.join(out, "plan.json")))
    assert plan["space"]["choices"] == [[4, 3, 2]] * 8  # derived from the teacher's width (8)
    report = json.load(open(os.path.join(out, "report.json")))
    models = report["models"]
    assert set(models) == {"teacher_float16", "float16", "int8"}
    assert models["float16"]["macs"] <= plan["budget_macs"] and models["float16"]["macs_ratio"] >= 8
    assert models["float16"]["config"] == stages["search"]["config"] == report["chosen"]["config"]
    assert report["held_out_images"] == 4 and 0 < models["float16"]["psnr"] < 100
    assert models["float16"]["speedup"] > 0 and models["int8"]["median_ms"] > 0
    page = open(os.path.join(out, "report.html")).read()
    assert page.count("data:image/png;base64,") == 3 and "<table>" in page and "compressed float16" in page
    assert "## held-out examples" in open(os.path.join(out, "report.md")).read()

    # the same command again: every stage is skipped, nothing is rewritten
    generator = os.path.join(out, "finetune", "generator.keras")
    before = os.path.getmtime(generator)
    messages = []
    from tfgancomp.pipeline.compress import compress

    again = settings_from_mapping({k: v for k, v in settings.items() if k != "stage"})
    compress(again, out, log=messages.append, verbose=0)
    assert sum("done before, skipped" in m for m in messages) == len(STAGES)
    assert os.path.getmtime(generator) == before
    # other settings in the same folder are refused, naming what differs
    assert main([*argv, "--trials", "5"]) == 2
    assert "trials: 4 in the run, 5 now" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('data = "D"\nbudgets = 3\n', "unknown key 'budgets'"),
        ('data = "D"\ntrials = "many"\n', "trials must be an integer"),
        ('data = "D"\nmacs_ratio = "1/0"\n', "macs_ratio must be a fraction"),
        ('data = "D"\nmacs_ratio = "1/500"\n', "outside space"),
        ('data = "D"\nspace = "channels-32"\n', "heavier than the teacher"),
        ('data = "D"\nprecisions = ["int4"]\n', "precisions must be one of"),
        ("data = [\n", "is not valid TOML"),
    ],
)
def test_a_bad_config_fails_before_any_training(setup, tmp_path, capsys, text, fragment):
    _, data, teacher = setup
    config = tmp_path / "c.toml"
    config.write_text(text.replace('"D"', f'"{data}"') + ("" if text.startswith("data = [") else
                                                         f'teacher = "{teacher}"\n'))  # fmt: skip
    out = tmp_path / "run"
    assert main(["compress", "--config", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "teacher").exists() and not (out / "supernet").exists()  # nothing trained


def test_the_plan_leaves_the_teacher_cache_off_when_it_would_not_fit_in_memory(setup, tmp_path, monkeypatch):
    from tfgancomp.pipeline.compress import plan

    _, data, teacher = setup
    settings = CompressSettings(data, teacher=teacher, macs_ratio="1/8", cache_teacher=True)
    assert plan(settings, str(tmp_path))["teacher_cache"]["on"] is True
    import importlib

    monkeypatch.setattr(importlib.import_module("tfgancomp.distill.cache"), "physical_memory_bytes", lambda: 2**20)
    off = plan(settings, str(tmp_path))["teacher_cache"]
    assert (
        off["on"] is False
        and "would take" in off["why"]
        and "over the 0.0 GiB allowed (a third of the memory)" in off["why"]
    )
    from tfgancomp.pipeline.compress import _cache_plan
    from tfgancomp.pipeline.rundir import read_run

    model, run, _ = read_run(teacher)
    cropped = _cache_plan(settings, model, {**run, "load_size": 40}, "pix2pix", 32, 32)
    assert cropped == {"on": False, "why": "the teacher run crops load_size 40 to 32 at random"}
    assert plan(CompressSettings(data, teacher=teacher, macs_ratio="1/8", cache_teacher=False), str(tmp_path))[
        "teacher_cache"
    ] == {
        "on": False,
        "why": "cache_teacher is off",
    }


def test_settings_values():
    assert parse_ratio("1/16") == 0.0625 and parse_ratio(0.25) == 0.25
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        parse_ratio("3/2")
    assert derived_space(64, "resnet")["choices"][0] == [32, 24, 16]  # the paper's channels-32 for ngf 64
    with pytest.raises(ValueError, match="give one budget, not macs_ratio and budget_macs"):
        CompressSettings(".", macs_ratio=0.1, budget_macs=1e9)
    with pytest.raises(ValueError, match="qat_epochs must be an integer >= 0"):
        CompressSettings(".", qat_epochs=-1)
    assert CompressSettings(".").macs_ratio == 1 / 16


def test_compress_on_two_workers_trains_in_step_and_the_chief_finishes(setup, tmp_path):
    """``--strategy multi-worker``: both workers train supernet and fine-tune together; the chief does the rest."""
    from tests.pipeline.test_distribute import finish, free_ports, start_workers

    _, data, teacher = setup
    out = str(tmp_path / "run")
    argv = [sys.executable, "-m", "tfgancomp.cli", "compress", "--data", data, "--teacher", teacher, "--out", out,
            "--macs-ratio", "1/8", "--supernet-epochs", "1", "--trials", "2", "--population", "2", "--search-images",
            "2", "--finetune-epochs", "1", "--batch-size", "2", "--precisions", "float16", "--benchmark-runs", "2",
            "--quiet", "--strategy", "multi-worker"]  # fmt: skip
    chief, worker = finish(start_workers(lambda i: argv, free_ports(2)), timeout=600)
    assert "| compressed float16 |" in chief and "report:" in chief
    assert "training stages done" in worker and "| compressed float16 |" not in worker
    assert set(json.load(open(os.path.join(out, "stages.json")))) == set(STAGES)
    for stage in ("supernet", "finetune"):  # the other worker's checkpoints, one per epoch as the chief's
        mine = os.path.join(out, stage, ".workers", "worker-1", "checkpoints")
        assert sorted(os.listdir(mine)) == sorted(os.listdir(os.path.join(out, stage, "checkpoints")))
    assert sorted(os.listdir(out)) == sorted([".lock", ".workers", "plan.json", "settings.json", "space.json",
                                              "stages.json", *STAGES[1:6], "benchmark.json", "report", "report.json",
                                              "report.md", "report.html"])  # fmt: skip
    assert sorted(os.listdir(os.path.join(out, ".workers", "worker-1"))) == [".lock", "space.json"]  # its plan


def test_compress_under_a_latency_budget_searches_blocks_for_speed_and_reports_predicted_ms(setup, tmp_path, capsys):
    """``--budget-ms`` with a target's latency table: the derived space also chooses dense / separable blocks."""
    from tests.search.test_latency import synthetic
    from tfgancomp.search import LatencyTable, SearchSpace

    _, data, teacher = setup
    # the table of this "target": every stage of the derived layout space and of the teacher (ngf 8)
    covered = SearchSpace("covered", "resnet", [[8, 4, 3, 2]] * 8 + [[0, 1]] * 3 + [[1]] * 3)
    table = synthetic(covered)
    table_file = str(tmp_path / "target.json")
    table.save(table_file)
    space = SearchSpace(**derived_space(8, "resnet", 3))
    assert space.choices == ((4, 3, 2),) * 8 + ((0, 1),) * 3 + ((1,),) * 3
    low, high = table.predict(space.smallest(), 3), table.predict(space.largest(), 3)
    budget = low + 0.4 * (high - low)
    out = str(tmp_path / "run")
    argv = ["compress", "--data", data, "--teacher", teacher, "--out", out, "--budget-ms", str(budget),
            "--latency-table", table_file, "--supernet-epochs", "1", "--trials", "4", "--population", "2",
            "--search-images", "2", "--finetune-epochs", "1", "--batch-size", "2", "--precisions", "float16",
            "--benchmark-runs", "2", "--cache-teacher", "--eval-every", "1", "--no-teacher-discriminator",
            "--distill-norm", "teacher", "--lambda-gan", "0.25", "--quiet"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"budget {budget:.3f} ms predicted (test CPU)" in printed
    plan = json.load(open(os.path.join(out, "plan.json")))
    estimate = plan["teacher_cache"]  # the plan's estimate is the size the stages' caches then held
    assert estimate["on"] and estimate["training_examples"] == 8
    assert f"teacher cache: {estimate['estimated_mib']:.0f} MiB" in printed
    for stage in ("supernet", "finetune"):  # --cache-teacher, --eval-every, --no-teacher-discriminator reach them
        stage_settings = json.load(open(os.path.join(out, stage, "settings.json")))
        assert stage_settings["distill_norm"] == "teacher"
        assert stage_settings["lambda_gan"] == 0.25  # --lambda-gan reaches both (pix2pix's default is 1)
        stage_metrics = json.load(open(os.path.join(out, stage, "metrics.json")))
        assert stage_metrics["discriminator_from"] is None  # --no-teacher-discriminator: a fresh one
        held = stage_metrics["teacher_cache"]
        assert held["mirrored"] is True and held["examples"] == 8 and held["mib"] == estimate["estimated_mib"]
        assert "held_out_psnr" in json.load(open(os.path.join(out, stage, "history.json")))[-1]
    assert plan["budget_ms"] == budget and plan["budget_macs"] is None and plan["space"]["name"] == "derived-4-blocks"
    assert plan["latency_table"]["path"] == table_file and plan["space_range_ms"] == [low, high]
    assert plan["teacher_predicted_ms"] == table.predict((8,) * 8 + (1, 1, 1, 0, 0, 0), 3)
    trials = json.load(open(os.path.join(out, "search", "results.json")))["trials"]
    assert trials and all(t["predicted_ms"] <= budget for t in trials)
    report = json.load(open(os.path.join(out, "report.json")))
    chosen = report["chosen"]
    assert chosen["predicted_ms"] == table.predict(space.decode(chosen["config"]), 3) <= budget
    assert report["models"]["float16"]["config"] == chosen["config"]
    assert "ms predicted by the latency table of test CPU" in open(os.path.join(out, "report.md")).read()
    # refused before any training: a budget outside the space's predicted range, a table of another size, two budgets
    capsys.readouterr()
    other = LatencyTable(**{**table.__dict__, "height": 64, "width": 64, "source": None})
    other.save(str(tmp_path / "t64.json"))
    for args, message in [
        (["--budget-ms", str(low / 2), "--latency-table", table_file], "outside space 'derived-4-blocks''s predicted"),
        (["--budget-ms", "5", "--latency-table", str(tmp_path / "t64.json")], "was measured at 64x64"),
        (["--budget-ms", "5", "--macs-ratio", "1/8"], "give one budget, not macs_ratio and budget_ms"),
        (["--budget-ms", "5", "--latency-table", str(tmp_path / "none.json")], "none.json does not exist"),
        (["--distill-norm", "rms"], "distill_norm must be one of"),
        (["--lambda-gan", "-1"], "lambda_gan must be a finite number >= 0, got -1.0"),
        (["--lambda-gan", "nan"], "lambda_gan must be a finite number >= 0, got nan"),
    ]:
        fresh = str(tmp_path / "refused")
        assert main(["compress", "--data", data, "--teacher", teacher, "--out", fresh, *args]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
        assert not os.path.exists(os.path.join(fresh, "teacher"))
