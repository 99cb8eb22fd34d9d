from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

from tfgancomp.backend import keras
from tfgancomp.search import SearchSpace, SuperMobileResNetGenerator, extract_subnet, resnet_macs
from tfgancomp.search.oracle import EvolutionOracle
from tfgancomp.search.tuner import SupernetTuner, write_results

SPACE = SearchSpace("tiny", "resnet", [[16, 12, 8, 4]] * 8)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cost(config):
    return resnet_macs(config, 32, 32, n_blocks=3)


class Interrupted(Exception):
    pass


@pytest.fixture(scope="module")
def parts():
    keras.utils.set_random_seed(0)
    supernet = SuperMobileResNetGenerator(ngf=16, n_blocks=3)
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32"),) * 2 for _ in range(2)]
    teacher = keras.Sequential([keras.layers.Conv2D(3, 1, input_shape=(32, 32, 3))])
    return supernet, batches, teacher


def _tuner(parts, directory, trials, **kw):
    supernet, batches, teacher = parts
    budget = 0.5 * cost(SPACE.largest())
    oracle = EvolutionOracle(SPACE, cost, budget, max_trials=trials, population_size=4, seed=1)
    tuner = SupernetTuner(oracle, supernet, batches, SPACE, cost, lambda c: resnet_macs(c, 256, 256, n_blocks=3),
                          teacher=teacher, directory=str(directory), project_name="search", **kw)  # fmt: skip
    tuner.oracle.verbose = 0
    return tuner, budget


def test_search_scores_from_shared_weights_and_writes_table_and_scatter(parts, tmp_path):
    tuner, budget = _tuner(parts, tmp_path, 10)
    tuner.search(verbose=0)
    rows = tuner.results()
    assert len(rows) == 10 and rows[0]["score"] >= rows[-1]["score"]
    assert all(r["macs"] <= budget for r in rows)
    assert {"psnr", "ssim", "psnr_to_teacher", "macs", "macs_256", "score"} <= set(rows[0])
    # the score is the extracted subnet's PSNR to truth: no retraining, shared weights
    supernet, batches, _ = parts
    subnet = extract_subnet(supernet, rows[0]["config"], 32, 32)
    from tfgancomp.metrics.quality import psnr

    expected = np.mean([float(v) for x, y in batches for v in psnr(subnet(x), y)])
    assert abs(rows[0]["psnr"] - expected) < 1e-3
    paths = write_results(rows, str(tmp_path / "out"), budget)
    table = json.load(open(paths["results.json"]))
    assert table["trials"][0]["config"] == rows[0]["config"] and table["budget_macs"] == budget
    assert open(paths["results.csv"]).readline().startswith("config,")
    assert Image.open(paths["scatter.png"]).size == (640, 480)


def test_an_interrupted_search_resumes_without_rescoring_finished_trials(parts, tmp_path):
    whole, _ = _tuner(parts, tmp_path / "whole", 12)
    whole.search(verbose=0)

    calls = []

    class Flaky(SupernetTuner):
        def run_trial(self, trial, *args, **kwargs):
            calls.append(trial.trial_id)
            if len(calls) == 6 and stop["now"]:
                raise KeyboardInterrupt  # the user stops the search mid-trial
            return super().run_trial(trial, *args, **kwargs)

    stop = {"now": True}
    supernet, batches, teacher = parts

    def make():
        budget = 0.5 * cost(SPACE.largest())
        oracle = EvolutionOracle(SPACE, cost, budget, max_trials=12, population_size=4, seed=1)
        tuner = Flaky(oracle, supernet, batches, SPACE, cost, teacher=teacher, directory=str(tmp_path / "cut"),
                      project_name="search")  # fmt: skip
        tuner.oracle.verbose = 0
        return tuner

    with pytest.raises(KeyboardInterrupt):
        make().search(verbose=0)
    finished = list(calls[:5])
    stop["now"] = False
    calls.clear()
    resumed = make()
    resumed.search(verbose=0)
    assert not set(calls) & set(finished), "finished trials were scored again"
    assert len(resumed.results()) == len(whole.results()) == 12
    assert [r["config"] for r in sorted(resumed.results(), key=lambda r: r["trial"])] == [
        r["config"] for r in sorted(whole.results(), key=lambda r: r["trial"])
    ]
    assert os.path.exists(tmp_path / "cut" / "search" / "oracle.json")


def test_tuner_rejects_bad_arguments(parts, tmp_path):
    supernet, batches, _ = parts
    oracle = EvolutionOracle(SPACE, cost, cost(SPACE.largest()), max_trials=2)
    with pytest.raises(ValueError, match="needs the teacher"):
        SupernetTuner(oracle, supernet, batches, SPACE, cost, objective="psnr_to_teacher", directory=str(tmp_path))
    with pytest.raises(ValueError, match="at least one"):
        SupernetTuner(oracle, supernet, [], SPACE, cost, directory=str(tmp_path))


DISTRIBUTED = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from tfgancomp.backend import keras
    from tfgancomp.search import SearchSpace, SuperMobileResNetGenerator, resnet_macs
    from tfgancomp.search.oracle import EvolutionOracle
    from tfgancomp.search.tuner import SupernetTuner

    space = SearchSpace("tiny", "resnet", [[8, 4]] * 8)

    def cost(config):
        return resnet_macs(config, 32, 32, 3)

    keras.utils.set_random_seed(0)
    supernet = SuperMobileResNetGenerator(ngf=8, n_blocks=3)
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32"),) * 2]
    oracle = EvolutionOracle(space, cost, 0.7 * cost(space.largest()), max_trials=8, population_size=4, seed=0)
    tuner = SupernetTuner(oracle, supernet, batches, space, cost, directory=sys.argv[1], project_name="search")
    tuner.search(verbose=0)
    """
)


def test_chief_and_workers_share_one_search(tmp_path):
    """KerasTuner's chief/worker mode: the chief holds the oracle, two worker processes score the trials."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": str(port)}
    script = tmp_path / "search.py"
    script.write_text(DISTRIBUTED)

    def start(name):
        log = open(tmp_path / f"{name}.log", "w")
        return subprocess.Popen([sys.executable, str(script), str(tmp_path / name)], cwd=REPO, stderr=log,
                                env={**env, "KERASTUNER_TUNER_ID": name})  # fmt: skip

    chief = start("chief")
    time.sleep(3)
    workers = [start(name) for name in ("tuner0", "tuner1")]
    for name, proc in (("tuner0", workers[0]), ("tuner1", workers[1]), ("chief", chief)):
        assert proc.wait(timeout=300) == 0, (tmp_path / f"{name}.log").read_text()[-2000:]
    trials = [json.load(open(tmp_path / "chief" / "search" / d / "trial.json"))
              for d in os.listdir(tmp_path / "chief" / "search") if d.startswith("trial_")]  # fmt: skip
    assert len(trials) == 8 and all(t["status"] == "COMPLETED" for t in trials)


def test_fid_and_kid_objectives_with_a_feature_extractor(parts, tmp_path):
    """FID / KID of each trial against the slice's truth images; lower is better, so the score is negated."""
    from tfgancomp.metrics.quality import fid_from_features

    projection = np.random.default_rng(0).normal(size=(3 * 8 * 8, 6))

    def features(images):  # a stand-in for Inception: a fixed projection of 8×8 average-pooled images
        pooled = np.asarray(images).reshape(-1, 8, 4, 8, 4, 3).mean(axis=(2, 4))
        return pooled.reshape(len(pooled), -1) @ projection

    with pytest.raises(ValueError, match="needs Inception features"):
        _tuner(parts, tmp_path / "none", 2, objective="kid")
    tuner, _ = _tuner(parts, tmp_path / "fid", 4, objective="fid", features=features)
    tuner.search(verbose=0)
    rows = tuner.results()
    assert all(r["score"] == -r["fid"] and r["fid"] > 0 and "kid" in r for r in rows)
    assert rows[0]["fid"] == min(r["fid"] for r in rows)
    supernet, batches, _ = parts
    fake = supernet(np.concatenate([x for x, _ in batches]), rows[0]["config"]).numpy()
    real = np.concatenate([y for _, y in batches])
    assert abs(fid_from_features(features(real), features(fake)) - rows[0]["fid"]) < 1e-3 * rows[0]["fid"]
