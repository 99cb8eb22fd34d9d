"""Train a teacher into a self-describing run dir, resuming from its last completed epoch.

A run dir holds::

    settings.json        the resolved TeacherSettings (a later run with other settings is refused)
    generator.keras      the generator, replaced atomically after every epoch (``load_generator(run_dir)``)
    generator_ba.keras   CycleGAN's B→A generator
    checkpoints/         tf.train checkpoints: every model, both optimizers, pools, completed epochs
    samples/             epoch_NNN.png grids: input | output | target
    logs/                TensorBoard scalars (losses, learning rate) and sample images
    history.json         per-epoch losses, learning rate and seconds
    metrics.json         held-out PSNR / SSIM (and FID / KID with Inception weights) before and after training
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import ClassVar

from tfgancomp.backend import keras
from tfgancomp.data import LAYOUTS, ReaderSettings, open_split, read_description, read_paired_folders
from tfgancomp.metrics.quality import InceptionFeatures
from tfgancomp.models import MultiscaleDiscriminator, PatchGANDiscriminator, ResNetGenerator, SPADEGenerator
from tfgancomp.pipeline.common import (
    RunOptions,
    Schedule,
    compile_with_adam,
    held_out_scores,
    learning_curve,
    perceptual_loss,
)
from tfgancomp.pipeline.distribute import resolve_strategy, shard_by_example, worker_dir
from tfgancomp.pipeline.rundir import (
    ResumableRun,
    check_run_settings,
    folder_lock,
    open_run_dir,
    read_json,
    record_run,
    sample_batch,
    show_inputs,
    write_json,
    write_settings,
)
from tfgancomp.train.tasks import CycleGANTask, GauGANTask, Pix2PixTask
from tfgancomp.validation import check_choice, check_positive_int

TEACHER_TASKS = tuple(LAYOUTS)
DEFAULT_GAN_MODE = {"pix2pix": "vanilla", "cyclegan": "lsgan", "gaugan": "hinge"}
#: Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = ("epochs", "decay_epochs", "eval_every")


@dataclass(frozen=True)
class TeacherSettings(Schedule, RunOptions):
    """Everything that defines a teacher training run (saved as ``settings.json`` in the run dir).

    Composed of the shared :class:`~tfgancomp.pipeline.common.Schedule` (``epochs``, ``decay_epochs``,
    ``batch_size``, ``lr``, ``beta1``, ``beta2``) and :class:`~tfgancomp.pipeline.common.RunOptions`
    (``vgg_weights``, ``inception_weights``, ``seed``, ``num_samples``, ``on_error``), keyword-only fields.

    Args:
        task: ``"pix2pix"``, ``"cyclegan"`` or ``"gaugan"``.
        data: Dataset folder in the task's layout (see :func:`tfgancomp.data.open_split`).
        ngf: Generator base width.
        ndf: Discriminator base width.
        n_layers_d: Stride-2 layers of the discriminator (``None``: the reference's, 3 for the PatchGAN of pix2pix
            and CycleGAN, 4 per scale for GauGAN). Each one doubles the patch a PatchGAN output judges (16, 34,
            70, 142 pixels for 1–4): at 256² the reference's 70-pixel patches are local, at 32² already 34 pixels
            span the whole image, so small images may want fewer.
        n_blocks: Residual blocks of the ResNet generators.
        nhidden: SPADE hidden width (``None``: ``min(128, 2·ngf)``).
        param_free_norm: SPADE's parameter-free normalization, ``"batch"`` or ``"instance"``.
        size: Training / evaluation image height (width = ``size · aspect_ratio``).
        load_size: Resize before a random crop of ``size`` (``None``: no crop).
        aspect_ratio: Width / height.
        flip: Random horizontal flips.
        gan_mode: ``"lsgan"``, ``"vanilla"`` or ``"hinge"`` (``None``: the task's reference choice).
        lambda_l1: pix2pix L1 weight.
        lambda_cycle: CycleGAN cycle weight (both directions).
        lambda_identity: CycleGAN identity weight relative to the cycle weight.
        pool_size: CycleGAN history pool.
        lambda_feat: GauGAN feature-matching weight.
        lambda_vgg: GauGAN VGG weight (used only with ``vgg_weights``).
        label_nc: GauGAN label classes (``None``: from the dataset's ``dataset.json``).
        instance: GauGAN instance-edge channel (``None``: when the dataset has ``train_inst/``).
        direction: ``"AtoB"`` or ``"BtoA"``.
    """

    task: str
    data: str
    ngf: int = 64
    ndf: int = 64
    n_layers_d: int | None = None
    n_blocks: int = 9
    nhidden: int | None = None
    param_free_norm: str = "batch"
    size: int = 256
    load_size: int | None = None
    aspect_ratio: float = 1.0
    flip: bool = True
    gan_mode: str | None = None
    lambda_l1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    lambda_feat: float = 10.0
    lambda_vgg: float = 10.0
    label_nc: int | None = None
    instance: bool | None = None
    direction: str = "AtoB"

    #: The ``stage`` its run dir's ``settings.json`` names.
    stage: ClassVar[str] = "teacher"

    def __post_init__(self):
        check_choice("task", self.task, TEACHER_TASKS)
        for what in ("ngf", "ndf", "n_blocks", "size"):
            check_positive_int(what, getattr(self, what))
        if self.n_layers_d is not None:
            check_positive_int("n_layers_d", self.n_layers_d)
        check_run_settings(self)
        ReaderSettings(self.size, self.load_size, self.aspect_ratio, on_error=self.on_error, direction=self.direction)

    def resolved(self) -> TeacherSettings:
        """A copy with every ``None`` default decided (from the task and the dataset)."""
        changes = {"gan_mode": self.gan_mode or DEFAULT_GAN_MODE[self.task]}
        changes["decay_epochs"] = self.epochs // 2 if self.decay_epochs is None else self.decay_epochs
        if self.task == "gaugan":
            description = read_description(self.data) or {}
            label_nc = self.label_nc if self.label_nc is not None else description.get("label_nc")
            if label_nc is None:
                raise ValueError(f"{self.data} has no dataset.json giving label_nc; pass label_nc (--label-nc)")
            changes["label_nc"] = check_positive_int("label_nc", label_nc)
            instance = self.instance
            if instance is None:
                instance = os.path.isdir(os.path.join(self.data, "train_inst"))
            changes["instance"] = bool(instance)
            changes["nhidden"] = self.nhidden or min(128, 2 * self.ngf)
        return dataclasses.replace(self, **changes)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of training images."""
        return ReaderSettings(self.size, aspect_ratio=self.aspect_ratio).shape


# --------------------------------------------------------------------------------------------- building


def discriminator_depth(n_layers_d: int | None) -> dict:
    """The discriminator constructor's keyword for a settings' ``n_layers_d`` (none: the model's own default)."""
    return {} if n_layers_d is None else {"n_layers": n_layers_d}


def build_models(settings: TeacherSettings) -> dict:
    """The generator(s) and discriminator(s) of ``settings`` (resolved), by role."""
    h, w = settings.shape
    s = settings
    depth = discriminator_depth(s.n_layers_d)
    if s.task == "pix2pix":
        return {
            "generator": ResNetGenerator(3, 3, s.ngf, s.n_blocks, height=h, width=w, name="generator"),
            "discriminator": PatchGANDiscriminator(6, s.ndf, height=h, width=w, name="discriminator", **depth),
        }
    if s.task == "cyclegan":
        return {
            "generator_ab": ResNetGenerator(3, 3, s.ngf, s.n_blocks, height=h, width=w, name="generator"),
            "generator_ba": ResNetGenerator(3, 3, s.ngf, s.n_blocks, height=h, width=w, name="generator_ba"),
            "discriminator_a": PatchGANDiscriminator(3, s.ndf, height=h, width=w, name="discriminator_a", **depth),
            "discriminator_b": PatchGANDiscriminator(3, s.ndf, height=h, width=w, name="discriminator_b", **depth),
        }
    semantic_nc = s.label_nc + (1 if s.instance else 0)
    return {
        "generator": SPADEGenerator(
            s.label_nc, s.instance, s.ngf, 3, s.nhidden, s.param_free_norm, height=h, width=w, name="generator"
        ),  # fmt: skip
        "discriminator": MultiscaleDiscriminator(
            semantic_nc + 3, s.ndf, height=h, width=w, name="discriminator", **depth
        ),
    }


def build_task(settings: TeacherSettings, log=print):
    """The compiled training task of ``settings`` (resolved), optimizers built (call inside a strategy scope)."""
    s = settings
    models = build_models(s)
    if s.task == "pix2pix":
        task = Pix2PixTask(models["generator"], models["discriminator"], s.gan_mode, s.lambda_l1)
    elif s.task == "cyclegan":
        task = CycleGANTask(
            **models, image_shape=(*s.shape, 3), gan_mode=s.gan_mode, lambda_a=s.lambda_cycle,
            lambda_b=s.lambda_cycle, lambda_identity=s.lambda_identity, pool_size=s.pool_size,
        )  # fmt: skip
    else:
        perceptual = perceptual_loss(s, log)
        task = GauGANTask(models["generator"], models["discriminator"], s.gan_mode, s.lambda_feat, perceptual,
                          s.lambda_vgg)  # fmt: skip

    compile_with_adam(task, s)
    return task


def _generators(task) -> dict:
    if isinstance(task, CycleGANTask):
        return {"generator": task.generator_ab, "generator_ba": task.generator_ba}
    return {"generator": task.generator}


# --------------------------------------------------------------------------------------------- evaluating


def _eval_settings(s: TeacherSettings) -> ReaderSettings:
    return ReaderSettings(s.size, None, s.aspect_ratio, flip=False, batch_size=min(8, max(1, s.batch_size)),
                          shuffle=False, on_error=s.on_error, direction=s.direction)  # fmt: skip


@dataclass(frozen=True)
class DataSettings:
    """Which dataset feeds a generator, and how: the data part of every stage's settings.

    Args:
        task: ``"pix2pix"``, ``"cyclegan"`` or ``"gaugan"`` (the dataset layout).
        data: Dataset folder.
        size: Image height.
        aspect_ratio: Width / height.
        batch_size: Reader batch size.
        on_error: ``"raise"`` or ``"skip"`` for a bad file.
        direction: ``"AtoB"`` or ``"BtoA"``.
        label_nc: Label classes of GauGAN label maps.
        instance: Whether GauGAN inputs carry an instance-edge channel.
    """

    task: str
    data: str
    size: int
    aspect_ratio: float = 1.0
    batch_size: int = 8
    on_error: str = "raise"
    direction: str = "AtoB"
    label_nc: int | None = None
    instance: bool | None = None


def held_out_reader(settings: TeacherSettings | DataSettings):
    """The ``(input, truth)`` reader of the test split, or ``None`` when the dataset has no scored test split."""
    s, rs = settings, _eval_settings(settings)
    if s.task == "cyclegan":
        a, truth = os.path.join(s.data, "testA"), os.path.join(s.data, "testA2B")
        if s.direction == "BtoA" or not (os.path.isdir(a) and os.path.isdir(truth)):
            return None
        return read_paired_folders(a, truth, rs)
    test_dir = os.path.join(s.data, "test" if s.task == "pix2pix" else "test_label")
    if not os.path.isdir(test_dir):
        return None
    return open_split(s.task, s.data, rs, "test", False, s.label_nc, bool(s.instance))


def evaluate(generator, reader, features=None) -> dict:
    """Held-out PSNR / SSIM to truth (and FID / KID when ``features`` is an Inception extractor)."""
    return held_out_scores(generator, reader, features)


# ---------------------------------------------------------------------------------------------- the run


def open_data(settings, log=print):
    """The training reader, the held-out reader (or ``None``) and the Inception extractor (or ``None``).

    ``settings`` is any resolved stage settings with the reader fields (``task``, ``data``, ``size``, ...).
    """
    s = settings
    reader_settings = ReaderSettings(s.size, s.load_size, s.aspect_ratio, s.flip, s.batch_size, True, s.seed,
                                     s.on_error, s.direction)  # fmt: skip
    train = open_split(s.task, s.data, reader_settings, "train", True, s.label_nc, bool(s.instance))
    log(str(train.summary))
    held_out = held_out_reader(s)
    if held_out is not None:
        log(str(held_out.summary))
    features = InceptionFeatures(s.inception_weights) if s.inception_weights else None
    return train, held_out, features


def train_teacher(settings: TeacherSettings, run_dir: str, strategy=None, verbose: int = 1, log=print,
                  restart: bool = False) -> dict:  # fmt: skip
    """Train (or resume training) the teacher of ``settings`` in ``run_dir``; return its ``metrics.json`` content.

    Running again with the same settings resumes at the last completed epoch (with optimizer state, pools and
    learning-rate schedule); ``epochs`` may be raised to train longer.

    Args:
        settings: The run's settings.
        run_dir: Output folder (created).
        strategy: A ``tf.distribute`` strategy or its name (:data:`~tfgancomp.pipeline.distribute.STRATEGIES`;
            default: the current one); ``batch_size`` is the global batch.
        verbose: ``fit`` verbosity.
        log: Where progress messages go.
        restart: Delete the run's files in ``run_dir`` first and train from scratch.

    Raises:
        TrainingDiverged: A loss became NaN / Inf (the last good checkpoint and generator are kept).
        ValueError: Bad settings, a run dir holding another run (or results without a checkpoint), or bad data
            (:class:`~tfgancomp.data.DataError`).
        RunDirInUse: Another command is using ``run_dir``.
    """
    strategy = resolve_strategy(strategy)  # first: a multi-worker strategy must exist before any other op runs
    s = settings.resolved()
    own_dir = worker_dir(run_dir, strategy)
    with folder_lock(own_dir):
        open_run_dir(own_dir, s, RESUMABLE_CHANGES, restart)
        return _train_teacher(s, own_dir, strategy, verbose, log, run_dir)


def _train_teacher(s: TeacherSettings, run_dir: str, strategy, verbose: int, log, chief_dir: str) -> dict:

    keras.utils.set_random_seed(s.seed)
    train, held_out, features = open_data(s, log)

    with strategy.scope():
        task = build_task(s, log)
    write_settings(run_dir, s)
    run = ResumableRun(run_dir, task, strategy, log=log, restore_dir=chief_dir)
    metrics_path = os.path.join(run_dir, "metrics.json")
    metrics = read_json(metrics_path) or {}
    if run.restore(s.epochs) == 0 and held_out is not None:
        metrics = {"untrained": evaluate(task.generator, held_out, features)}
        write_json(metrics_path, metrics)

    sample_inputs, sample_targets = sample_batch((held_out or train).dataset, s.num_samples, s.batch_size)

    def render():
        out = task.generator(sample_inputs, training=False).numpy()
        target = sample_targets
        if s.task == "cyclegan" and held_out is None:  # no truth: show the reconstruction A → B → A
            target = task.generator_ba(out, training=False).numpy()
        return [show_inputs(sample_inputs, s.task), out, target]

    run.fit(shard_by_example(train.dataset), s.epochs, s.lr, s.decay_epochs, [task.g_optimizer, task.d_optimizer],
            _generators(task), render, verbose=verbose,
            evaluate=learning_curve(task.generator, held_out, s.eval_every), eval_every=s.eval_every)  # fmt: skip
    if held_out is not None:
        metrics["final"] = evaluate(task.generator, held_out, features)
    return record_run(metrics, run, train, metrics_path)
