"""Once-for-all supernet training runs (resumable run dirs) and loading a trained supernet back.

Also what the search and extraction stages read from a supernet run dir: training shape, cost, scoring slice.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from tfgancomp.backend import tf
from tfgancomp.models.config import TASK_FAMILIES
from tfgancomp.pipeline.common import compile_with_adam, perceptual_loss
from tfgancomp.pipeline.distill import DistillSettings, build_discriminator, run_distillation
from tfgancomp.pipeline.rundir import read_json
from tfgancomp.search.space import get_space
from tfgancomp.search.supernet import SuperMobileResNetGenerator, SuperMobileSPADEGenerator, extract_subnet
from tfgancomp.search.training import SAMPLING, SupernetDistiller


@dataclass(frozen=True)
class SupernetSettings(DistillSettings):
    """A supernet training run: a :class:`~tfgancomp.distill.DistillSettings` plus the space and sampling rule.

    The supernet's width is the space's largest entry (``student_ngf`` is set from it). pix2pix and CycleGAN
    teachers train a :class:`~tfgancomp.search.SuperMobileResNetGenerator` over a ResNet-family space, GauGAN
    teachers a :class:`~tfgancomp.search.SuperMobileSPADEGenerator` over a SPADE-family space.
    ``generator.keras`` of the run dir is the largest subnet, extracted after every epoch; the supernet itself is
    in the checkpoints (:func:`load_supernet`).

    Args:
        space: Search space name (or JSON file) of the teacher's family.
        sampling: ``"uniform"`` or ``"sandwich"``.
    """

    space: str = "channels-32"
    sampling: str = "uniform"

    @property
    def stage(self) -> str:
        """The ``stage`` its run dir's ``settings.json`` names."""
        return "supernet"

    def __post_init__(self):
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if self.student_config is not None:
            raise ValueError("a supernet run takes no student_config: its width comes from the space")
        if not os.path.exists(self.teacher):
            raise ValueError(f"teacher {self.teacher} does not exist: give a teacher run dir or a generator file")
        space = self.search_space()
        if self.student_ngf is None:
            object.__setattr__(self, "student_ngf", space.ngf)
        elif self.student_ngf != space.ngf:
            raise ValueError(f"student_ngf {self.student_ngf} differs from space {self.space!r}'s widest entry")
        super().__post_init__()

    def search_space(self):
        """The :class:`~tfgancomp.search.SearchSpace`, of the family of the task (or the teacher run's task)."""
        task = self.task or (self.teacher_settings().get("task") if os.path.isdir(self.teacher) else None)
        return get_space(self.space, TASK_FAMILIES.get(task, "resnet"))


def build_supernet(settings: dict):
    """The supernet of a resolved supernet run's settings (as a dict), named ``student``."""
    space = get_space(settings["space"], TASK_FAMILIES[settings["task"]])
    if settings["task"] == "gaugan":
        return SuperMobileSPADEGenerator(space.ngf, settings["label_nc"], settings["instance"], 3,
                                         settings["param_free_norm"], name="student")  # fmt: skip
    return SuperMobileResNetGenerator(space.ngf, 3, 3, settings["n_blocks"], dense=space.has_layout, name="student")


def _build(s: SupernetSettings, teacher, log):
    space = s.search_space()
    supernet = build_supernet(dataclasses.asdict(s))
    adversarial = s.lambda_gan > 0 or s.lambda_feat > 0
    disc, restored = build_discriminator(s, log) if adversarial else (None, None)
    perceptual = perceptual_loss(s, log)
    task = SupernetDistiller(supernet, teacher, disc, space, s.teacher_taps, s.sampling, s.seed, mode=s.mode,
                             gan_mode=s.gan_mode, lambda_gan=s.lambda_gan, lambda_recon=s.lambda_recon,
                             lambda_distill=s.lambda_distill, lambda_feat=s.lambda_feat, perceptual=perceptual,
                             lambda_vgg=s.lambda_vgg or 0.0, distill_norm=s.distill_norm)  # fmt: skip

    compile_with_adam(task, s)
    return task, {"discriminator_from": restored, "space": space.to_dict(),
                  "taps": {"student": task.student_taps, "teacher": task.teacher_taps}}  # fmt: skip


def train_supernet(settings: SupernetSettings, run_dir: str, strategy=None, verbose: int = 1, log=print,
                   restart: bool = False) -> dict:  # fmt: skip
    """Train (or resume training) a once-for-all supernet against a teacher; returns ``metrics.json``'s content.

    Held-out scores in ``metrics.json`` are those of the largest configuration; searching scores the others.
    """

    def exported(task):
        return extract_subnet(task.student, task.space.largest(), name="student")

    return run_distillation(settings, run_dir, _build, exported, strategy, verbose, log, restart)


def load_supernet(run_dir: str):
    """The trained supernet of a ``train_supernet`` run dir and its resolved settings (as a dict)."""
    settings = read_json(os.path.join(run_dir, "settings.json"))
    if settings is None or "space" not in settings or "sampling" not in settings:
        raise ValueError(f"{run_dir} is not a supernet run dir (no settings.json with a search space)")
    latest = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
    if latest is None:
        raise ValueError(f"{run_dir} has no checkpoint: no epoch of supernet training completed")
    supernet = build_supernet(settings)
    status = tf.train.Checkpoint(student=supernet).restore(latest)
    status.expect_partial().assert_existing_objects_matched()
    return supernet, settings


def run_shape(settings: dict) -> tuple[int, int]:
    """Training height and width of a run's settings (as a dict)."""
    return settings["size"], int(round(settings["size"] * settings["aspect_ratio"]))


def config_cost(settings: dict, height: int, width: int):
    """``cost(config)``: MACs of the run's sub-mobile generator of ``config`` at ``height``×``width`` (closed form)."""
    from tfgancomp.search.space import resnet_macs, spade_macs

    if settings["task"] == "gaugan":
        return lambda config: spade_macs(config, height, width, settings["label_nc"], settings["instance"])
    return lambda config: resnet_macs(config, height, width, settings["n_blocks"])


def scoring_batches(settings: dict, images: int, batch_size: int = 8) -> list:
    """The first ``images`` examples of the training split, in file order, unflipped: the search's scoring slice.

    The test split stays untouched for the final report of the chosen configuration.
    """
    from tfgancomp.data import ReaderSettings, open_split

    rs = ReaderSettings(settings["size"], None, settings["aspect_ratio"], flip=False, batch_size=batch_size,
                        shuffle=False, on_error=settings["on_error"], direction=settings["direction"])  # fmt: skip
    reader = open_split(settings["task"], settings["data"], rs, "train", False, settings.get("label_nc"),
                        bool(settings.get("instance")))  # fmt: skip
    batches, count = [], 0
    for x, y in reader.dataset:
        take = min(images - count, int(x.shape[0]))
        batches.append((x.numpy()[:take], y.numpy()[:take]))
        count += take
        if count >= images:
            break
    return batches
