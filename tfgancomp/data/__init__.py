"""Datasets: readers of the real formats (``tf.data``) and the procedural datasets that use the same formats."""

from __future__ import annotations

import os

from tfgancomp.data.readers import (
    DataError,
    Reader,
    ReaderSettings,
    ReadSummary,
    instance_edges,
    list_images,
    read_aligned,
    read_labeled,
    read_paired_folders,
    read_unaligned,
)
from tfgancomp.data.synth import TASKS, SynthSettings, read_description, synthesize

#: Which data layout each training task reads.
LAYOUTS = {"pix2pix": "aligned", "cyclegan": "unaligned", "gaugan": "labeled"}


def open_split(
    task: str,
    data_dir: str,
    settings: ReaderSettings,
    split: str = "train",
    training: bool = True,
    label_nc: int | None = None,
    instance: bool = False,
) -> Reader:
    """The reader of ``split`` of ``data_dir`` in the layout of ``task`` (``pix2pix``, ``cyclegan``, ``gaugan``).

    pix2pix reads ``DIR/{split}/`` AB files; CycleGAN ``DIR/{split}A/`` + ``DIR/{split}B/``; GauGAN
    ``DIR/{split}_label/`` + ``DIR/{split}_img/`` (+ ``DIR/{split}_inst/`` when ``instance``).
    """
    if task not in LAYOUTS:
        raise ValueError(f"task must be one of {', '.join(LAYOUTS)}; got {task!r}")
    if not os.path.isdir(data_dir):
        raise DataError(f"{data_dir}: no such data folder")
    if task == "pix2pix":
        return read_aligned(os.path.join(data_dir, split), settings, training)
    if task == "cyclegan":
        return read_unaligned(data_dir, settings, split, training)
    if label_nc is None:
        raise ValueError(f"label_nc is needed to read label maps of {data_dir} (no dataset.json gives it)")
    inst = os.path.join(data_dir, f"{split}_inst") if instance else None
    return read_labeled(
        os.path.join(data_dir, f"{split}_label"), os.path.join(data_dir, f"{split}_img"), settings, label_nc, inst,
        training,
    )  # fmt: skip


__all__ = [
    "LAYOUTS",
    "TASKS",
    "DataError",
    "ReadSummary",
    "Reader",
    "ReaderSettings",
    "SynthSettings",
    "instance_edges",
    "list_images",
    "open_split",
    "read_aligned",
    "read_description",
    "read_labeled",
    "read_paired_folders",
    "read_unaligned",
    "synthesize",
]
