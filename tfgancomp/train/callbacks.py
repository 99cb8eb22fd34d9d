"""Callbacks of teacher training (learning-rate decay, per-epoch checkpoints, NaN stop) and sample grids."""

from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from tfgancomp.backend import keras, tf


def linear_decay_factor(epoch: int, epochs: int, decay_epochs: int) -> float:
    """pix2pix's schedule: factor 1 for ``epochs - decay_epochs`` epochs, then linearly towards 0 (0-based epoch)."""
    constant = epochs - decay_epochs
    return 1.0 - max(0, epoch + 1 - constant) / float(decay_epochs + 1)


class LinearDecay(keras.callbacks.Callback):
    """Sets every optimizer's learning rate to ``base_lr · linear_decay_factor(epoch)`` at each epoch start.

    Args:
        optimizers: The optimizers to drive.
        base_lr: Learning rate of the constant phase.
        epochs: Total epochs.
        decay_epochs: Final epochs over which the rate decays linearly.
    """

    def __init__(self, optimizers, base_lr: float, epochs: int, decay_epochs: int):
        super().__init__()
        self.optimizers, self.base_lr, self.epochs, self.decay_epochs = optimizers, base_lr, epochs, decay_epochs

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.base_lr * linear_decay_factor(epoch, self.epochs, self.decay_epochs)
        for opt in self.optimizers:
            opt.learning_rate.assign(lr)
        self.lr = lr

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # logged by the TensorBoard callback that follows
            logs["lr"] = self.lr


class NonFiniteStop(keras.callbacks.Callback):
    """Stops training at the first batch whose logged loss is NaN or infinite, and remembers where."""

    def __init__(self):
        super().__init__()
        self.epoch = 0
        self.failure: dict | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            value = float(np.asarray(value))
            if not math.isfinite(value):
                self.failure = {"epoch": self.epoch + 1, "batch": batch + 1, "loss": name, "value": value}
                self.model.stop_training = True
                return


class EpochCheckpoint(keras.callbacks.Callback):
    """At each completed epoch: call ``before_save``, then save the checkpoint (models, optimizers, epoch).

    The checkpoint is written last, so it is the run's source of truth: a run killed in between resumes from the
    previous checkpoint and redoes the epoch (whatever ``before_save`` wrote for it is then rewritten). Nothing is
    saved for an epoch in which :class:`NonFiniteStop` fired, so the last checkpoint stays good.

    Args:
        manager: A ``tf.train.CheckpointManager`` over a checkpoint holding an ``epoch`` variable.
        epoch_variable: The ``tf.Variable`` recording completed epochs.
        guard: The run's :class:`NonFiniteStop`.
        before_save: Called with the 1-based epoch number and the epoch's logs before each save.
    """

    def __init__(self, manager, epoch_variable, guard: NonFiniteStop, before_save=None):
        super().__init__()
        self.manager, self.epoch_variable, self.guard, self.before_save = manager, epoch_variable, guard, before_save

    def on_epoch_end(self, epoch, logs=None):
        if self.guard.failure is not None:
            return
        if self.before_save is not None:
            self.before_save(epoch + 1, logs or {})
        self.epoch_variable.assign(epoch + 1)
        self.manager.save(checkpoint_number=epoch + 1)


def to_uint8(images) -> np.ndarray:
    """[-1, 1] floats to uint8 pixels."""
    return np.clip(np.round((np.asarray(images) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def sample_grid(columns) -> np.ndarray:
    """Rows of examples, columns side by side (e.g. input | output | target), each ``(n, h, w, 3)`` in [-1, 1]."""
    rows = [np.concatenate([to_uint8(c[i]) for c in columns], axis=1) for i in range(len(columns[0]))]
    return np.concatenate(rows, axis=0)


class SampleGrid:
    """Writes ``samples/epoch_NNN.png`` and a TensorBoard image of ``render()`` for an epoch.

    Args:
        render: Returns the columns (e.g. ``[input, output, target]``) of the fixed sample batch.
        folder: Where the PNG files go.
        writer: A ``tf.summary`` writer (or ``None``).
        title: The TensorBoard image's name.
    """

    def __init__(self, render, folder: str, writer=None, title: str = "samples (input | output | target)"):
        self.render, self.folder, self.writer, self.title = render, folder, writer, title
        os.makedirs(folder, exist_ok=True)

    def write(self, epoch: int) -> str:
        """Render and store the grid of ``epoch`` (1-based); returns the PNG path."""
        grid = sample_grid(self.render())
        path = os.path.join(self.folder, f"epoch_{epoch:03d}.png")
        tmp = path + ".tmp"
        Image.fromarray(grid).save(tmp, format="PNG")
        os.replace(tmp, path)
        if self.writer is not None:
            with self.writer.as_default():
                tf.summary.image(self.title, grid[None], step=epoch)
            self.writer.flush()
        return path
