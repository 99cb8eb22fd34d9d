"""Run dirs: the one place that knows their files, shared by every stage.

A stage owns its task (a ``keras.Model`` with ``train_step``), its settings and its metrics; this module owns the
run dir mechanics: ``settings.json`` checks, per-epoch checkpoints that a rerun resumes from, atomic writes of the
generator(s) and JSON files, folder locks, reading a generator file back safely, sample grids, ``history.json``,
``metrics.json``, TensorBoard logs, learning-rate decay and the NaN stop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
import zipfile

import numpy as np

from tfgancomp.backend import custom_objects, keras, tf
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
    if isinstance(s.eval_every, bool) or not isinstance(s.eval_every, int) or s.eval_every < 0:
        raise ValueError(f"eval_every must be an integer >= 0 (epochs; 0: only at the end), got {s.eval_every!r}")
    for what in ("vgg_weights", "inception_weights"):
        path = getattr(s, what)
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{what} file {path} does not exist (weights are never downloaded)")


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names where, and the last good checkpoint."""


class RunDirInUse(RuntimeError):
    """Another command holds the folder's lock; the message names it."""


#: Files of a run dir that only a completed epoch writes: with no readable checkpoint beside them, the run cannot
#: resume, and training again would overwrite them.
RESULT_FILES = ("generator.keras", "generator_ba.keras", "history.json")
#: Everything a run writes (``--restart`` deletes exactly these; nothing else in the folder is touched).
RUN_FILES = (*RESULT_FILES, "settings.json", "metrics.json")
RUN_FOLDERS = ("checkpoints", "samples", "logs")
TEMP_PREFIX = ".tmp-"


def _temp_beside(path: str) -> str:
    """A new, uniquely named empty file in ``path``'s folder (``.tmp-XXXX-name``), for an atomic replace."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix="-" + os.path.basename(path), dir=folder)
    os.close(fd)
    return tmp


@contextlib.contextmanager
def _replacing(path: str):
    """Yield a uniquely named temporary path beside ``path``, which replaces ``path`` once the block wrote it.

    One rename: a kill leaves the previous file whole; a failure removes the temporary file.
    """
    tmp = _temp_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_json(path: str, data) -> None:
    """Write ``data`` as JSON atomically (a uniquely named temporary file, then rename)."""
    with _replacing(path) as tmp, open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")


def read_json(path: str):
    """The JSON content of ``path``, or ``None`` when it does not exist.

    Raises:
        ValueError: naming the file when it is not valid JSON.
    """
    if not os.path.exists(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not valid JSON ({err})") from None


def save_model(model, path: str) -> None:
    """Save a Keras model atomically (a kill leaves the previous file whole)."""
    with _replacing(path) as tmp:
        model.save(tmp)


@contextlib.contextmanager
def folder_lock(folder: str, lock_file: str | None = None):
    """Hold an exclusive lock for a folder while the block runs; the OS releases it if the process dies.

    The lock file (``folder/.lock`` unless given) records who holds it; a second command is refused with that.

    Raises:
        RunDirInUse: another process (or another open of the same folder) holds the lock.
        ValueError: ``folder`` is a file.
    """
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{folder} is a file, not a folder")
    lock_file = lock_file or os.path.join(folder, ".lock")
    os.makedirs(os.path.dirname(os.path.abspath(lock_file)), exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
        os.close(fd)
        raise RunDirInUse(f"{folder} is in use by {holder}; wait for it to end or use another folder") from None
    try:
        os.ftruncate(fd, 0)
        command = " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"pid {os.getpid()} ({command[:300]}, since {started})\n".encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # releases the lock


def remove_stale_temps(folder: str) -> None:
    """Delete the temporary files a killed command left in ``folder`` (call with the folder's lock held)."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if name.startswith(TEMP_PREFIX) and os.path.isfile(path):
            os.remove(path)


def _has_checkpoint(run_dir: str) -> bool:
    return tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")) is not None


def open_run_dir(run_dir: str, settings, resumable: tuple[str, ...] = (), restart: bool = False) -> None:
    """Check ``run_dir`` before a stage starts (call with its lock held): create it, clean what a killed command left.

    Nothing is written here: the stage writes ``settings.json`` (:func:`write_settings`) once every check of its
    own passed, so a corrected command can run in the same folder. A run with a checkpoint is resumed only with
    the same settings; results (generator, history) without a readable checkpoint are never trained over.

    Args:
        run_dir: The run dir.
        settings: A (resolved) settings dataclass.
        resumable: Fields that may differ from the stored run (e.g. ``epochs`` to train longer).
        restart: Delete the run's files (:data:`RUN_FILES`, :data:`RUN_FOLDERS`; nothing else) and start over.

    Raises:
        ValueError: naming every field that differs, or what is missing and how to start over.
    """
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"run dir {run_dir} is a file, not a folder")
    os.makedirs(run_dir, exist_ok=True)
    remove_stale_temps(run_dir)
    if restart:
        for name in RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(run_dir, name))
        for name in RUN_FOLDERS:
            shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)
        return
    if not _has_checkpoint(run_dir):
        results = [name for name in RESULT_FILES if os.path.exists(os.path.join(run_dir, name))]
        if results:
            raise ValueError(
                f"{run_dir} holds {', '.join(results)} but no readable checkpoint in "
                f"{os.path.join(run_dir, 'checkpoints')}: the run cannot resume, and training again would overwrite "
                "them. Run the same command with --restart to delete them and start over, or use a new run dir"
            )
        return  # nothing to resume: the settings of a failed first attempt may be replaced
    check_same_settings(run_dir, as_json(settings), resumable, "run dir (or --restart to delete that run)",
                        getattr(settings, "ADDED_FIELDS", None))  # fmt: skip


def as_json(settings) -> dict:
    """A settings dataclass as stored in ``settings.json`` (tuples as lists), without its ``stage``."""
    return json.loads(json.dumps(dataclasses.asdict(settings)))


def check_same_settings(folder: str, now: dict, resumable: tuple[str, ...] = (), how: str = "folder",
                        added: dict | None = None) -> None:  # fmt: skip
    """Refuse to continue the work stored in ``folder`` with other settings than its ``settings.json``'s.

    ``added`` maps fields added to the settings after runs were stored to the value that reproduces how a stored
    run without them trained (a settings class's ``ADDED_FIELDS``).

    Raises:
        ValueError: naming every field (outside ``resumable``) that differs.
    """
    previous = read_json(os.path.join(folder, "settings.json"))
    if previous is None:
        return
    previous = {**(added or {}), **previous}
    differ = [k for k in now if k not in resumable and previous.get(k) != now[k]]
    if differ:
        described = "; ".join(f"{k}: {previous.get(k)!r} in the run, {now[k]!r} now" for k in differ)
        raise ValueError(f"{folder} holds a run with other settings ({described}); use a new {how}")


#: What a run dir's ``settings.json`` names as its ``stage``: which command wrote the folder.
STAGES = ("teacher", "import", "distill", "finetune", "qat", "supernet", "search", "extract", "compress")


def write_settings(folder: str, settings, stage: str | None = None) -> None:
    """Write ``settings.json``: the settings (a dataclass or a dict) and the ``stage`` that wrote the folder.

    A stage writes it once its checks passed (before its first epoch), so that any later stage can tell what the
    folder holds without guessing. ``stage`` defaults to the settings' own ``stage`` attribute.
    """
    data = dict(settings) if isinstance(settings, dict) else as_json(settings)
    stage = stage or getattr(settings, "stage", None)
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    write_json(os.path.join(folder, "settings.json"), {"stage": stage, **data})


def stored_settings(settings: dict) -> dict:
    """A ``settings.json``'s content without its ``stage``: the fields of the stage's settings dataclass."""
    return {k: v for k, v in settings.items() if k != "stage"}


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
        restore_dir: The run dir whose latest checkpoint :meth:`restore` reads (default ``run_dir``): a
            multi-worker run's other workers resume from the chief's.
    """

    def __init__(self, run_dir: str, task, strategy, state: dict | None = None, log=print,
                 restore_dir: str | None = None):  # fmt: skip
        self.run_dir, self.task, self.log = run_dir, task, log
        self.restore_dir = restore_dir or run_dir
        with strategy.scope():
            self.epoch = tf.Variable(0, trainable=False, dtype=tf.int64, name="epoch")
        self.checkpoint = tf.train.Checkpoint(**(state or {"task": task}), epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, os.path.join(run_dir, "checkpoints"), max_to_keep=3)
        self.history_path = os.path.join(run_dir, "history.json")
        self.history = read_json(self.history_path) or []

    def restore(self, total_epochs: int) -> int:
        """Restore the latest checkpoint if there is one; returns the number of completed epochs (0 when fresh)."""
        latest = tf.train.latest_checkpoint(os.path.join(self.restore_dir, "checkpoints"))
        if not latest:
            self.history = []
            return 0
        try:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
        except Exception as err:  # noqa: BLE001 - a damaged file raises OpError, IndexError, AssertionError...
            detail = getattr(err, "message", None) or str(err)
            raise ValueError(f"checkpoint {latest} cannot be read ({detail.splitlines()[0] if detail else 'damaged'}); "
                             "run the same command with --restart to start over") from None  # fmt: skip
        done = int(self.epoch.numpy())
        self.history = [h for h in self.history if h["epoch"] <= done]
        self.log(f"resuming from {latest}: {done} of {total_epochs} epochs done")
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
            grid_title: str = "input | output | target", verbose: int = 1, evaluate=None,
            eval_every: int = 0) -> None:  # fmt: skip
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
            evaluate: ``evaluate() -> {name: value}`` (held-out scores) merged into the epoch's ``history.json``
                entry every ``eval_every`` epochs and after the last one.
            eval_every: Epochs between two ``evaluate`` calls (0: never).

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
            if evaluate is not None and eval_every and (done % eval_every == 0 or done == epochs):
                scores = {k: float(v) for k, v in evaluate().items()}
                self.history[-1].update(scores)
                self.log(f"epoch {done}: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
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


# ------------------------------------------------------------------------------------ generator files


def generator_file(path: str) -> str:
    """The ``.keras`` file of a saved generator: ``path`` itself, or the ``generator.keras`` of a folder."""
    return os.path.join(path, "generator.keras") if os.path.isdir(path) else path


def read_generator(path: str, what: str = "generator"):
    """A generator from a ``.keras`` file or a folder holding ``generator.keras`` (run dir, extract folder).

    Raises:
        ValueError: naming the file (and ``what`` it was meant to be) when it is missing or cannot be loaded.
    """
    source = generator_file(path)
    if not os.path.isfile(source):
        raise ValueError(f"{source} does not exist: give a run dir, an extract folder or a .keras file as the {what}")
    try:
        return load_model_file(source)
    except Exception as err:  # noqa: BLE001 - any loading failure is reported with the file name
        raise ValueError(f"cannot load the {what} {source}: {err}") from err


def is_qat_file(path: str) -> bool:
    """Whether a ``.keras`` file holds a quantization-aware model (checked without importing TFMOT)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "tfgancomp_qat.json" in archive.namelist()  # tfgancomp.quantize.qat.QAT_ENTRY (no TFMOT import)
    except (OSError, zipfile.BadZipFile):
        return False


def load_model_file(path: str):
    """A saved generator, loaded so that the file cannot run code; quantization-aware ones load inside TFMOT's scope.

    Only zip ``.keras`` archives are opened, with Keras' safe mode forced on (a ``Lambda`` layer's stored Python
    is refused). Keras would send an HDF5 file or a SavedModel folder — whatever its name — to its legacy loader,
    which rebuilds ``Lambda`` layers from stored bytecode and runs it; those are refused before Keras sees them.

    Raises:
        ValueError: naming the file when it is not a zip ``.keras`` archive.
    """
    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a zip .keras archive (only those are opened: an HDF5 or SavedModel file can "
                         "run code when loaded); save the model with model.save('generator.keras')")  # fmt: skip
    if is_qat_file(path):
        from tfgancomp.quantize import load_qat

        return load_qat(path)
    return keras.models.load_model(path, custom_objects=custom_objects(), compile=False, safe_mode=True)


def read_run(generator: str):
    """``(model, run settings or {}, run metrics or {})`` of a run dir (of any stage) or a ``.keras`` file."""
    model = read_generator(generator)
    folder = os.path.dirname(generator_file(generator))
    return model, read_json(os.path.join(folder, "settings.json")) or {}, read_json(
        os.path.join(folder, "metrics.json")) or {}  # fmt: skip


def load_generator(run_dir: str, which: str = "generator"):
    """The trained generator of a run dir of any stage (``which="generator_ba"`` for CycleGAN's B→A)."""
    path = os.path.join(run_dir, f"{which}.keras")
    if not os.path.exists(path):
        raise ValueError(f"{path} does not exist: {run_dir} is not a training run dir or has no completed epoch")
    return load_model_file(path)


def sample_batch(dataset, count: int, batch_size: int):
    """The first ``count`` ``(inputs, targets)`` of a batched dataset, as numpy arrays (the sample-grid batch)."""
    batches = [(x.numpy(), y.numpy()) for x, y in dataset.take(-(-count // batch_size))]
    return np.concatenate([x for x, _ in batches])[:count], np.concatenate([y for _, y in batches])[:count]


def record_run(metrics: dict, run, train, metrics_path: str) -> dict:
    """Add the run's completed epochs, training files and seconds to ``metrics`` and write ``metrics.json``."""
    metrics["epochs"] = run.completed_epochs
    metrics["train_files"] = train.summary.used
    metrics["train_seconds"] = run.train_seconds
    write_json(metrics_path, metrics)
    return metrics


# -------------------------------------------------------------------------------------------- samples


_PALETTE = np.array([[(37 * i) % 256, (91 * i + 60) % 256, (173 * i + 120) % 256] for i in range(256)], np.float32)


def show_inputs(inputs, task: str):
    """Inputs as RGB in [-1, 1] for sample grids (label maps get a fixed colour per class)."""
    x = np.asarray(inputs)
    if task != "gaugan":
        return x
    classes = x.shape[-1] - 1 if x.shape[-1] > 1 else 1
    labels = np.argmax(x[..., :classes], axis=-1) % 256
    return _PALETTE[labels] / 127.5 - 1.0
