"""``tfgancomp import-torch``: a PyTorch generator checkpoint becomes a teacher run dir every later stage accepts.

The run dir holds::

    settings.json    stage "import": the checkpoint (path, SHA-256), the architecture built and its arguments,
                     what was inferred, the arguments given, and the fields later stages read (task, data, size,
                     aspect_ratio, direction, ngf, and n_blocks or label_nc / instance / param_free_norm)
    generator.keras  the filled Keras generator at the given size
    metrics.json     MACs / params at that size; held-out PSNR / SSIM to truth when a dataset is given

Everything is read, built, filled and checked before the folder is created: a bad checkpoint writes nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import ClassVar

from tfgancomp.data import ReaderSettings
from tfgancomp.validation import check_choice, check_positive_int

#: Tasks a checkpoint can teach.
IMPORT_TASKS = ("pix2pix", "cyclegan", "gaugan")


@dataclass(frozen=True)
class ImportSettings:
    """What ``import-torch`` builds from a checkpoint (saved as the run dir's ``settings.json``).

    Args:
        checkpoint: The ``.pth`` / ``.pt`` / ``.safetensors`` file of the generator's state dict.
        arch: ``"auto"`` (read from the keys and shapes) or an architecture of :data:`tfgancomp.interop.IMPORTABLE`.
        task: The task it teaches (``None``: ``gaugan`` for a SPADE generator, else ``pix2pix``).
        data: A dataset in the task's layout, to score the imported generator on its held-out split (optional).
        size: Image height the generator is built (and later trained / exported) at.
        aspect_ratio: Width / height.
        direction: ``"AtoB"`` or ``"BtoA"`` (which side of a paired dataset is the input).
        config: Sub-mobile channel configuration, overriding the inferred one.
        ngf: Base width, overriding the inferred one.
        n_blocks: Residual blocks (U-Net: downsamplings), overriding the inferred number.
        label_nc: SPADE label classes (default: the input channels, less one with ``instance``).
        instance: Whether the SPADE input's last channel is an instance-edge map (not recorded in a state dict).
        num_upsampling_layers: SPADE ``"normal"`` (default) or ``"more"`` (not recorded in a state dict).
        separable_norm: Mobile SPADE's ``"instance"`` (default) or ``"none"`` (not recorded in a state dict).
    """

    checkpoint: str
    arch: str = "auto"
    task: str | None = None
    data: str | None = None
    size: int = 256
    aspect_ratio: float = 1.0
    direction: str = "AtoB"
    config: str | None = None
    ngf: int | None = None
    n_blocks: int | None = None
    label_nc: int | None = None
    instance: bool | None = None
    num_upsampling_layers: str | None = None
    separable_norm: str | None = None

    stage: ClassVar[str] = "import"

    def __post_init__(self):
        from tfgancomp.interop import IMPORTABLE

        check_choice("arch", self.arch, ("auto", *IMPORTABLE))
        if self.task is not None:
            check_choice("task", self.task, IMPORT_TASKS)
        check_positive_int("size", self.size)
        for what in ("ngf", "n_blocks", "label_nc"):
            if getattr(self, what) is not None:
                check_positive_int(what, getattr(self, what))
        if self.data is not None and not os.path.isdir(self.data):
            raise ValueError(f"dataset {self.data} does not exist or is not a folder")
        ReaderSettings(self.size, aspect_ratio=self.aspect_ratio, direction=self.direction)

    def overrides(self, arch: str) -> dict:
        """The constructor arguments given explicitly, named as ``arch`` takes them."""
        blocks = "num_downs" if arch == "unet" else "n_blocks"
        names = {"config": "config", "ngf": "ngf", "n_blocks": blocks, "label_nc": "label_nc", "instance": "instance",
                 "num_upsampling_layers": "num_upsampling_layers", "separable_norm": "separable_norm"}  # fmt: skip
        return {names[k]: getattr(self, k) for k in names if getattr(self, k) is not None}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def import_torch(settings: ImportSettings, out_dir: str, log=print) -> dict:
    """Import ``settings.checkpoint`` into the run dir ``out_dir``; returns its ``settings.json`` content.

    Raises:
        ValueError: (a :class:`~tfgancomp.interop.CheckpointError` for the checkpoint) naming the file, key or
            tensor; nothing is written then. ``out_dir`` holding another stage's run is refused too.
    """
    from tfgancomp.interop import CheckpointError, infer_architecture, load_pytorch, read_state_dict
    from tfgancomp.metrics import profile
    from tfgancomp.models.config import TEACHER_FAMILIES
    from tfgancomp.pipeline.rundir import (
        folder_lock,
        read_json,
        remove_stale_temps,
        save_model,
        write_json,
        write_settings,
    )
    from tfgancomp.pipeline.teacher import DataSettings, evaluate, held_out_reader

    s = settings
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"--out {out_dir} is a file, not a folder")
    previous = read_json(os.path.join(out_dir, "settings.json")) if os.path.isdir(out_dir) else None
    if previous is not None and previous.get("stage") != "import":
        raise ValueError(f"{out_dir} holds a {previous.get('stage')} run; import into a new folder")
    state = read_state_dict(s.checkpoint)
    try:  # the arch names the flags' arguments (--n-blocks is a U-Net's num_downs)
        arch = s.arch if s.arch != "auto" else infer_architecture(state).arch
    except CheckpointError as err:
        raise CheckpointError(f"{s.checkpoint}: {err}") from None
    h, w = ReaderSettings(s.size, aspect_ratio=s.aspect_ratio).shape
    imported = load_pytorch(state, arch, height=h, width=w, name="generator", **s.overrides(arch))
    model, family = imported.model, imported.model.family
    log(f"{s.checkpoint}: {imported.inferred.describe()}")
    task = s.task or ("gaugan" if family == "spade" else "pix2pix")
    if family not in TEACHER_FAMILIES[task]:
        raise ValueError(f"a {type(model).__name__} cannot teach task {task!r}; its generators are "
                         f"{'/'.join(TEACHER_FAMILIES[task])} ones")  # fmt: skip
    config = model.get_config()
    fields = {"task": task, "data": s.data, "size": s.size, "aspect_ratio": s.aspect_ratio, "direction": s.direction}
    if family == "spade":
        fields.update(label_nc=config["label_nc"], instance=bool(config["instance"]),
                      param_free_norm=config["param_free_norm"])  # fmt: skip
    elif family == "resnet":
        fields["n_blocks"] = config["n_blocks"]
    if "ngf" in config:
        fields["ngf"] = config["ngf"]
    metrics = {}
    if s.data is not None:
        data = DataSettings(task, s.data, s.size, s.aspect_ratio, direction=s.direction,
                            label_nc=fields.get("label_nc"), instance=fields.get("instance"))  # fmt: skip
        reader = held_out_reader(data)
        if reader is None:
            log(f"{s.data} has no held-out split with truth: the import is not scored")
        else:
            given, taken = reader.dataset.element_spec[0].shape[-1], model.inputs[0].shape[-1]
            if given != taken:
                raise ValueError(f"{s.data} gives {given}-channel inputs, the generator takes {taken}; give "
                                 "label_nc / instance to match")  # fmt: skip
            metrics["imported"] = evaluate(model, reader)
            log(f"held-out: PSNR {metrics['imported']['psnr']:.2f} dB, SSIM {metrics['imported']['ssim']:.4f}")
    cost = profile(model)
    metrics["costs"] = {"at_training_size": {"macs": cost.macs, "params": cost.params, "height": h, "width": w}}
    record = {"checkpoint": os.path.abspath(s.checkpoint), "sha256": _sha256(s.checkpoint), "arch": imported.arch,
              "arch_kwargs": imported.kwargs, "inferred": imported.inferred.describe(),
              "overrides": s.overrides(arch), **fields}  # fmt: skip
    with folder_lock(out_dir):
        remove_stale_temps(out_dir)
        save_model(model, os.path.join(out_dir, "generator.keras"))
        write_json(os.path.join(out_dir, "metrics.json"), metrics)
        write_settings(out_dir, record, "import")
    log(f"wrote {out_dir}: generator.keras ({cost.macs / 1e9:.3f} G MACs, {cost.params / 1e6:.3f} M params at "
        f"{h}x{w}), settings.json, metrics.json")  # fmt: skip
    return {"stage": "import", **record, "metrics": metrics}
