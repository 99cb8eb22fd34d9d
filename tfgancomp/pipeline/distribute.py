"""``tf.distribute`` strategies by name, and where each worker of a multi-worker run writes.

``"default"`` is the current strategy (one device); ``"mirrored"`` a :class:`tf.distribute.MirroredStrategy` over the
GPUs of this host (or its CPU); ``"multi-worker"`` a :class:`tf.distribute.MultiWorkerMirroredStrategy` whose
cluster comes from the ``TF_CONFIG`` environment variable, the same command started once per worker. Every stage
takes ``batch_size`` as the global batch: each step splits it over the replicas and sums their gradients, so the
losses are those of one device on the same global batch.

In a multi-worker run the folders are shared (one file system): the chief writes the run dir; every other worker
trains in step with it, writes its own checkpoints into ``RUN_DIR/.workers/<type>-<index>`` (nothing else of the
run dir), and resumes from the chief's latest checkpoint, so that all workers restart at the same epoch.
"""

from __future__ import annotations

import json
import os

from tfgancomp.backend import tf

#: The strategy names every training stage and ``compress`` accept.
STRATEGIES = ("default", "mirrored", "multi-worker")

_MADE: dict = {}  # one strategy per name and process: TensorFlow allows one multi-worker strategy per program


def cluster_from_env() -> dict:
    """The parsed ``TF_CONFIG`` (``cluster`` and ``task``) of a multi-worker run.

    Raises:
        ValueError: ``TF_CONFIG`` is unset, not JSON, or lacks ``cluster`` / ``task``; the message shows the form.
    """
    form = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", '
            '"index": 0}}\'')  # fmt: skip
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ValueError(f"strategy multi-worker needs the cluster in the TF_CONFIG environment variable, e.g. {form}")
    try:
        config = json.loads(text)
    except ValueError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON ({err}); expected e.g. {form}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict) or not isinstance(
            config.get("task"), dict):  # fmt: skip
        raise ValueError(f"TF_CONFIG must hold a 'cluster' and a 'task' object, e.g. {form}")
    return config


def make_strategy(name: str):
    """The strategy called ``name`` (one of :data:`STRATEGIES`); the same object for the same name in a process.

    Raises:
        ValueError: an unknown name, or ``multi-worker`` without a valid ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name not in _MADE:
        if name == "mirrored":
            _MADE[name] = tf.distribute.MirroredStrategy()
        else:
            cluster_from_env()
            _MADE[name] = tf.distribute.MultiWorkerMirroredStrategy()
    return _MADE[name]


def resolve_strategy(strategy):
    """A strategy object from ``None`` (the current strategy), a name of :data:`STRATEGIES`, or a strategy."""
    if strategy is None:
        return tf.distribute.get_strategy()
    if isinstance(strategy, str):
        return make_strategy(strategy)
    return strategy


def worker_role(strategy) -> tuple[str, int] | None:
    """``(task type, index)`` of this worker in a multi-worker strategy; ``None`` for a one-process strategy."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return None
    return resolver.task_type, int(resolver.task_id or 0)


def is_chief(strategy) -> bool:
    """Whether this process writes the run dirs: a one-process run, the ``chief`` task, or worker 0 without one."""
    role = worker_role(strategy)
    if role is None:
        return True
    task_type, index = role
    if task_type == "chief":
        return True
    has_chief = "chief" in strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "worker" and index == 0 and not has_chief


def worker_dir(run_dir: str, strategy) -> str:
    """Where this process writes: ``run_dir`` for the chief, ``run_dir/.workers/<type>-<index>`` for the others."""
    if is_chief(strategy):
        return run_dir
    task_type, index = worker_role(strategy)
    return os.path.join(run_dir, ".workers", f"{task_type}-{index}")


def shard_by_example(dataset):
    """``dataset`` with tf.data auto-sharding by example (not by file) for a multi-worker strategy.

    Every worker reads the same (seeded) order and keeps its part of each global batch, so that a step sees the
    examples one device would see; sharding by file would give each worker other files.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
