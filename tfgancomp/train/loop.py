"""The resumable training run shared by every training stage (teachers, distillation).

A stage owns its task (a ``keras.Model`` with ``train_step``), its settings and its metrics; this module owns the
run dir mechanics: ``settings.json`` checks, per-epoch checkpoints that a rerun resumes from, atomic writes of the
generator(s), sample grids, ``history.json``, TensorBoard logs, learning-rate decay and the NaN stop.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

from tfgancomp.backend import keras, tf
from tfgancomp.train.callbacks import EpochCheckpoint, LinearDecay, NonFiniteStop, SampleGrid
from tfgancomp.train.losses import GAN_MODES
from tfgancomp.validation import check_choice, check_positive_int


def check_run_settings(settings) -> None:
    """The checks every training stage's settings share: schedule, batch, samples, GAN loss, weights files."""
    s = settings
    for what in ("epochs", "batch_size", "num_samples"):
        check_positive_int(what, getattr(s, what))
    if s.decay_epochs is not None and not 0 <= s.decay_epochs <= s.epochs:
        raise ValueError(f"decay_epochs must be between 0 and epochs ({s.epochs}), got {s.decay_epochs}")
    if s.gan_mode is not None:
        check_choice("gan_mode", s.gan_mode, GAN_MODES)
    if not s.lr > 0:
        raise ValueError(f"lr must be positive, got {s.lr}")
    for what in ("vgg_weights", "inception_weights"):
        path = getattr(s, what)
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{what} file {path} does not exist (weights are never downloaded)")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names where, and the last good checkpoint."""


def write_json(path: str, data) -> None:
    """Write ``data`` as JSON atomically (temporary file, then rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: str):
    """The JSON content of ``path``, or ``None`` when it does not exist."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def save_model(model, path: str) -> None:
    """Save a Keras model atomically (a kill leaves the previous file whole)."""
    tmp = os.path.join(os.path.dirname(path), ".tmp-" + os.path.basename(path))
    model.save(tmp)
    os.replace(tmp, path)


def open_run_dir(run_dir: str, settings, resumable: tuple[str, ...] = ()) -> None:
    """Create ``run_dir`` and write ``settings.json``; refuse a run dir that holds a run with other settings.

    Args:
        run_dir: The run dir.
        settings: A (resolved) settings dataclass.
        resumable: Fields that may differ from the stored run (e.g. ``epochs`` to train longer).

    Raises:
        ValueError: naming every field that differs.
    """
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, "settings.json")
    now = json.loads(json.dumps(dataclasses.asdict(settings)))  # tuples as lists, as stored
    previous = read_json(path)
    if previous is not None:
        differ = [k for k in now if k not in resumable and previous.get(k) != now[k]]
        if differ:
            described = "; ".join(f"{k}: {previous.get(k)!r} in the run, {now[k]!r} now" for k in differ)
            raise ValueError(f"{run_dir} holds a run with other settings ({described}); use a new run dir")
    write_json(path, now)


class ResumableRun:
    """Checkpointed ``fit()`` of a task in a run dir, resuming at the last completed epoch.

    Per completed epoch, in this order: the generators are saved (``{name}.keras``), the sample grid and
    ``history.json`` written, then the checkpoint (task state + completed epochs) saved last, so it is the run's
    source of truth: a run killed in between resumes from the previous checkpoint and redoes the epoch.

    Args:
        run_dir: The run dir (``checkpoints/``, ``samples/``, ``logs/``, ``history.json`` go there).
        task: The compiled task, built inside ``strategy``'s scope.
        strategy: The ``tf.distribute`` strategy the task was built under.
        state: What the checkpoint holds (default ``{"task": task}``); a task with frozen parts (a teacher)
            leaves them out.
        log: Where progress messages go.
    """

    def __init__(self, run_dir: str, task, strategy, state: dict | None = None, log=print):
        self.run_dir, self.task, self.log = run_dir, task, log
        with strategy.scope():
            self.epoch = tf.Variable(0, trainable=False, dtype=tf.int64, name="epoch")
        self.checkpoint = tf.train.Checkpoint(**(state or {"task": task}), epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, os.path.join(run_dir, "checkpoints"), max_to_keep=3)
        self.history_path = os.path.join(run_dir, "history.json")
        self.history = read_json(self.history_path) or []

    def restore(self, total_epochs: int) -> int:
        """Restore the latest checkpoint if there is one; returns the number of completed epochs (0 when fresh)."""
        if not self.manager.latest_checkpoint:
            self.history = []
            return 0
        self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        done = int(self.epoch.numpy())
        self.history = [h for h in self.history if h["epoch"] <= done]
        self.log(f"resuming from {self.manager.latest_checkpoint}: {done} of {total_epochs} epochs done")
        return done

    @property
    def completed_epochs(self) -> int:
        """Epochs completed (and checkpointed) so far."""
        return int(self.epoch.numpy())

    @property
    def train_seconds(self) -> float:
        """Training seconds summed over the completed epochs (across resumptions)."""
        return round(sum(h["seconds"] for h in self.history), 3)

    def save_generators(self, generators: dict) -> None:
        """Save each generator as ``{name}.keras`` in the run dir (atomically)."""
        for name, model in generators.items():
            save_model(model, os.path.join(self.run_dir, f"{name}.keras"))

    def fit(self, dataset, epochs: int, lr: float, decay_epochs: int, optimizers, generators: dict, render,
            grid_title: str = "input | output | target", verbose: int = 1) -> None:  # fmt: skip
        """Train from the completed epoch to ``epochs``.

        Args:
            dataset: The training ``tf.data.Dataset``.
            epochs: Total epochs of the run.
            lr: Base learning rate of the constant phase.
            decay_epochs: Final epochs of linear decay.
            optimizers: The optimizers whose learning rate the schedule drives.
            generators: ``{file name: model}`` saved after every epoch, or a callable returning it (called at each
                save, for generators derived from the task's current weights).
            render: Returns the sample grid's columns for the fixed sample batch.
            grid_title: TensorBoard title of the sample grid.
            verbose: ``fit`` verbosity.

        Raises:
            TrainingDiverged: A loss became NaN / Inf; nothing of that epoch is saved.
        """
        logs_dir = os.path.join(self.run_dir, "logs")
        samples = SampleGrid(render, os.path.join(self.run_dir, "samples"), tf.summary.create_file_writer(logs_dir),
                             title=f"samples ({grid_title})")  # fmt: skip
        timer = {"start": time.time()}

        def current() -> dict:
            return generators() if callable(generators) else generators

        def before_save(done: int, epoch_logs: dict) -> None:
            self.save_generators(current())
            samples.write(done)
            current_lr = float(optimizers[0].learning_rate.numpy())
            self.history.append({"epoch": done, "lr": current_lr, "seconds": round(time.time() - timer["start"], 3),
                                 **{k: float(v) for k, v in epoch_logs.items()}})  # fmt: skip
            write_json(self.history_path, self.history)
            timer["start"] = time.time()

        guard = NonFiniteStop()
        callbacks = [
            LinearDecay(list(optimizers), lr, epochs, decay_epochs),
            guard,
            EpochCheckpoint(self.manager, self.epoch, guard, before_save),
            keras.callbacks.TensorBoard(logs_dir, write_graph=False, profile_batch=0, update_freq="epoch"),
        ]
        start = self.completed_epochs
        if start < epochs:
            self.task.fit(dataset, epochs=epochs, initial_epoch=start, callbacks=callbacks, verbose=verbose)
        if guard.failure is not None:
            f = guard.failure
            last = self.manager.latest_checkpoint or "none (no epoch completed)"
            raise TrainingDiverged(
                f"loss {f['loss']} became {f['value']} at epoch {f['epoch']}, batch {f['batch']}; training stopped. "
                f"Last good checkpoint: {last} ({self.completed_epochs} epochs); lower the learning rate or check "
                "the data"
            )
        names = current()
        if not all(os.path.exists(os.path.join(self.run_dir, f"{n}.keras")) for n in names):
            self.save_generators(names)
