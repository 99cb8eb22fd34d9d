"""Strategies by name; two worker processes on localhost train like one process on the same global batch."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.numerics import check_against_reordering
from tfgancomp import cli
from tfgancomp.data.synth import SynthSettings, synthesize
from tfgancomp.pipeline import distribute
from tfgancomp.pipeline.distribute import STRATEGIES, cluster_from_env, make_strategy

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# One script for the two workers (multi-worker strategy from TF_CONFIG) and for the one-process runs: a tiny pix2pix
# task, 2 epochs of global batches of 4 from an in-memory dataset sharded by example as the stages shard theirs.
TRAIN = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from tfgancomp.pipeline.distribute import make_strategy, shard_by_example, is_chief
    mode, out = sys.argv[1], sys.argv[2]
    strategy = make_strategy("multi-worker" if mode == "worker" else "default")  # before any other op
    from tfgancomp.backend import keras, tf
    from tfgancomp.models import PatchGANDiscriminator, ResNetGenerator
    from tfgancomp.train import Pix2PixTask

    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (8, 32, 32, 3)).astype("float32") for _ in range(2))

    def run(order=slice(None)):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            g = ResNetGenerator(ngf=4, n_blocks=2, height=32, width=32)
            d = PatchGANDiscriminator(6, 4, height=32, width=32)
            task = Pix2PixTask(g, d, "lsgan")
            task.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5))
        data = shard_by_example(tf.data.Dataset.from_tensor_slices((a[order], b[order])).batch(4))
        history = task.fit(data, epochs=2, verbose=0).history
        return history, g(a, training=False).numpy()

    if mode == "worker":
        history, output = run()
        if is_chief(strategy):
            np.save(out + ".npy", output)
            json.dump({"replicas": strategy.num_replicas_in_sync, "history": history}, open(out + ".json", "w"))
    else:
        single, out1 = run()
        # The same training with the examples of each batch in reverse order: the same losses but for float32
        # round-off, which training amplifies; the two-worker run may differ by a few times as much, no more.
        reordered, out3 = run(np.array([3, 2, 1, 0, 7, 6, 5, 4]))
        np.save(out + ".npy", out1)
        json.dump({"single": single, "reordered": reordered, "reorder_diff": float(np.max(np.abs(out1 - out3))),
                   "scale": float(np.max(np.abs(out1)))}, open(out + ".json", "w"))
    """
)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(command, ports, cwd=REPO):
    """Start ``command`` once per worker with its TF_CONFIG; returns the processes."""
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for index in range(len(ports)):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        procs.append(subprocess.Popen(command(index), cwd=cwd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    return procs


def finish(procs, timeout=300):
    outputs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, err[-3000:]
        outputs.append(out)
    return outputs


def test_two_worker_processes_give_the_one_process_losses_for_the_same_global_batch(tmp_path):
    one = str(tmp_path / "one")
    single = subprocess.run([sys.executable, "-c", TRAIN, "single", one], cwd=REPO, capture_output=True,
                            text=True, timeout=300)  # fmt: skip
    assert single.returncode == 0, single.stderr[-3000:]
    two = str(tmp_path / "two")
    finish(start_workers(lambda i: [sys.executable, "-c", TRAIN, "worker", two if i == 0 else two + "-w1"],
                         free_ports(2)))  # fmt: skip
    assert not os.path.exists(two + "-w1.json"), "worker 1 wrote the chief's results"
    workers, result = json.load(open(two + ".json")), json.load(open(one + ".json"))
    assert workers["replicas"] == 2
    result["mirrored"] = workers["history"]
    result["output_diff"] = float(np.max(np.abs(np.load(two + ".npy") - np.load(one + ".npy"))))
    check_against_reordering(result)


def test_train_teacher_on_two_workers_writes_one_run_dir(tmp_path):
    data, run = str(tmp_path / "data"), str(tmp_path / "run")
    synthesize(SynthSettings("edges2shapes", num_train=16, num_test=4, size=32, seed=3), data)
    argv = [sys.executable, "-m", "tfgancomp.cli", "train-teacher", "--task", "pix2pix", "--data", data, "--out",
            run, "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--size", "32", "--epochs", "2", "--batch-size", "4",
            "--quiet", "--strategy", "multi-worker"]  # fmt: skip
    outputs = finish(start_workers(lambda i: argv, free_ports(2)))
    assert "held-out PSNR" in outputs[0]
    history = json.load(open(os.path.join(run, "history.json")))
    assert [h["epoch"] for h in history] == [1, 2]
    worker = os.path.join(run, ".workers", "worker-1")
    assert sorted(os.listdir(os.path.join(worker, "checkpoints"))) == sorted(
        os.listdir(os.path.join(run, "checkpoints")))  # fmt: skip

    def losses(records):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in records]

    assert losses(json.load(open(os.path.join(worker, "history.json")))) == losses(history)  # in step, all-reduced
    # run again: both workers resume from the chief's checkpoint (2 of 2 epochs done) and agree
    outputs = finish(start_workers(lambda i: argv, free_ports(2)))
    assert "2 of 2 epochs done" in outputs[0] and "2 of 2 epochs done" in outputs[1]


def test_strategy_names_and_errors(monkeypatch):
    assert STRATEGIES == cli.STRATEGIES
    assert make_strategy("default") is make_strategy("default")
    with pytest.raises(ValueError, match="strategy must be one of default, mirrored, multi-worker, got 'tpu'"):
        make_strategy("tpu")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the cluster in the TF_CONFIG environment variable"):
        make_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{cluster")
    with pytest.raises(ValueError, match="TF_CONFIG is not valid JSON"):
        cluster_from_env()
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(ValueError, match="must hold a 'cluster' and a 'task'"):
        cluster_from_env()
    assert distribute.is_chief(make_strategy("default"))
    assert distribute.worker_dir("r", make_strategy("default")) == "r"
