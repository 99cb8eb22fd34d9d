"""Distil a teacher into a student in a self-describing, resumable run dir.

A distillation run dir holds the same files as a teacher run (see :mod:`tfgancomp.pipeline.teacher`)::

    settings.json        the resolved DistillSettings (teacher path, student, loss weights, ...)
    generator.keras      the student (``tfgancomp.train.load_generator(run_dir)``), replaced after every epoch
    checkpoints/         student, 1×1 mappings, discriminator, both optimizers, completed epochs (no teacher)
    samples/             epoch_NNN.png grids: input | teacher | student | truth
    logs/                TensorBoard scalars and sample images
    history.json         per-epoch losses, learning rate and seconds
    metrics.json         held-out PSNR / SSIM to truth and to the teacher (untrained and final), the teacher's own
                         scores, MACs / params of student and teacher
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from dataclasses import dataclass
from typing import ClassVar

from tfgancomp.backend import keras, tf
from tfgancomp.data import ReaderSettings, open_split, read_description
from tfgancomp.distill.cache import TeacherCache
from tfgancomp.distill.defaults import DISTILL_DEFAULTS, DISTILL_MODES, DISTILL_NORMS
from tfgancomp.distill.distiller import Distiller
from tfgancomp.distill.taps import init_from_teacher
from tfgancomp.metrics.profiler import profile
from tfgancomp.models import (
    MobileResNetGenerator,
    MobileSPADEGenerator,
    MultiscaleDiscriminator,
    PatchGANDiscriminator,
    SubMobileResNetGenerator,
    SubMobileSPADEGenerator,
)
from tfgancomp.models.base import ZooModel
from tfgancomp.models.config import TASK_FAMILIES, parse_config
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
    read_generator,
    read_json,
    record_run,
    sample_batch,
    show_inputs,
    write_json,
    write_settings,
)
from tfgancomp.pipeline.teacher import TEACHER_TASKS, discriminator_depth, open_data
from tfgancomp.validation import check_choice, check_positive_int

#: Settings that may change between a run and its resumption.
RESUMABLE_CHANGES = ("epochs", "decay_epochs", "eval_every", "cache_teacher")


@dataclass(frozen=True)
class DistillSettings(Schedule, RunOptions):
    """Everything that defines a distillation run (saved as ``settings.json`` in the run dir).

    Composed of the shared :class:`~tfgancomp.pipeline.common.Schedule` (``epochs``, ``decay_epochs``,
    ``batch_size``, ``lr``, ``beta1``, ``beta2``) and :class:`~tfgancomp.pipeline.common.RunOptions`
    (``vgg_weights``, ``inception_weights``, ``seed``, ``num_samples``, ``on_error``), keyword-only fields.

    ``None`` means "from the teacher's run dir" (task, image size, blocks, label classes, discriminator width) or
    "the reference default of the task" (mode, GAN loss and weights, see :data:`DISTILL_DEFAULTS`).

    Args:
        teacher: The teacher: a run dir of any stage (its ``generator.keras`` and ``settings.json``) or a saved
            generator file (then ``task`` and ``size`` are needed).
        data: Dataset folder in the task's layout.
        student_ngf: Width of a mobile student (``MobileResNetGenerator`` / ``MobileSPADEGenerator``).
        student_config: Channel configuration of a sub-mobile student (exclusive with ``student_ngf``).
        task: ``"pix2pix"``, ``"cyclegan"`` or ``"gaugan"``.
        n_blocks: Residual blocks of a ResNet-family student.
        student_taps: Student layer names to match (default: the family's taps).
        teacher_taps: Teacher layer names, one per student tap.
        mode: ``"paired"`` (Recon to truth, conditional D) or ``"unpaired"`` (Recon to the teacher, D on images).
        gan_mode: ``"lsgan"``, ``"vanilla"`` or ``"hinge"``.
        lambda_gan: Adversarial weight.
        lambda_recon: Reconstruction (L1) weight.
        lambda_distill: Feature distillation weight.
        lambda_feat: GAN feature-matching weight (GauGAN).
        lambda_vgg: VGG weight (used only with ``vgg_weights``).
        distill_norm: ``"none"`` (each tap's plain MSE, GAN Compression's) or ``"teacher"`` (each tap's MSE divided
            by the teacher tap's mean square, so that taps of large activations, as a SPADE teacher's, do not
            drown the other terms).
        init_from_teacher: Start the student from the teacher's first channels where layer shapes allow.
        student_init: A generator file (or run dir) of the student's architecture whose weights start the student —
            fine-tuning, e.g. of a subnet extracted from a supernet.
        teacher_discriminator: Start the discriminator from the teacher run's (when its checkpoint has one).
        ndf: Discriminator width.
        n_layers_d: Stride-2 layers of the discriminator (``None``: the teacher run's, else the reference's).
        param_free_norm: SPADE students' parameter-free normalization.
        size: Image height.
        load_size: Resize before a random crop of ``size`` (``None``: no crop).
        aspect_ratio: Width / height.
        flip: Random horizontal flips.
        label_nc: GauGAN label classes.
        instance: GauGAN instance-edge channel.
        direction: ``"AtoB"`` or ``"BtoA"``.
        quantize: Quantization-aware training: the student (after ``student_init``) is replaced by
            :func:`tfgancomp.quantize.quantize_model` of it, so the distillation trains its int8 behaviour with the
            teacher's guidance; the saved ``generator.keras`` is the QAT model (convert it to int8 directly).
        cache_teacher: Run the frozen teacher once per training example (and once per mirror image when
            ``flip``) before training, holding its output and tap activations in memory
            (:class:`~tfgancomp.distill.TeacherCache`), instead of once per step: the same training steps
            without the teacher's forward pass. Not with random crops (``load_size``); refused when the cache would
            take over a third of the physical memory. May change when a run resumes.
    """

    teacher: str
    data: str
    student_ngf: int | None = None
    student_config: str | None = None
    task: str | None = None
    n_blocks: int | None = None
    student_taps: tuple[str, ...] | None = None
    teacher_taps: tuple[str, ...] | None = None
    mode: str | None = None
    gan_mode: str | None = None
    lambda_gan: float | None = None
    lambda_recon: float | None = None
    lambda_distill: float | None = None
    lambda_feat: float | None = None
    lambda_vgg: float | None = None
    distill_norm: str | None = None
    init_from_teacher: bool = False
    student_init: str | None = None
    teacher_discriminator: bool = True
    ndf: int | None = None
    n_layers_d: int | None = None
    param_free_norm: str | None = None
    size: int | None = None
    load_size: int | None = None
    aspect_ratio: float | None = None
    flip: bool = True
    label_nc: int | None = None
    instance: bool | None = None
    direction: str | None = None
    quantize: bool = False
    cache_teacher: bool = False

    #: Fields added after runs were stored, with the value a stored run without them trained with (resumption).
    ADDED_FIELDS: ClassVar[dict] = {"distill_norm": "none"}

    @property
    def stage(self) -> str:
        """The run dir's ``stage``: ``qat``, ``finetune`` (from a student_init) or ``distill``."""
        return "qat" if self.quantize else "finetune" if self.student_init else "distill"

    def __post_init__(self):
        if (self.student_ngf is None) == (self.student_config is None):
            raise ValueError("give exactly one of student_ngf (--student-ngf) and student_config (--student-config)")
        if self.student_ngf is not None:
            check_positive_int("student_ngf", self.student_ngf)
        for what in ("n_blocks", "ndf", "n_layers_d", "size", "label_nc"):
            if getattr(self, what) is not None:
                check_positive_int(what, getattr(self, what))
        if self.task is not None:
            check_choice("task", self.task, TEACHER_TASKS)
        if self.mode is not None:
            check_choice("mode", self.mode, DISTILL_MODES)
        if self.distill_norm is not None:
            check_choice("distill_norm", self.distill_norm, DISTILL_NORMS)
        for what in ("lambda_gan", "lambda_recon", "lambda_distill", "lambda_feat", "lambda_vgg"):
            value = getattr(self, what)
            if value is not None and not value >= 0:
                raise ValueError(f"{what} must be >= 0, got {value!r}")
        for what in ("student_taps", "teacher_taps"):
            names = getattr(self, what)
            if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
                raise ValueError(f"{what} must be a sequence of layer names, got {names!r}")
        if self.student_init is not None and not os.path.exists(self.student_init):
            raise ValueError(f"student_init {self.student_init} does not exist: give a generator file or run dir")
        if not os.path.exists(self.teacher):
            raise ValueError(f"teacher {self.teacher} does not exist: give a teacher run dir or a generator file")
        check_run_settings(self)

    @property
    def teacher_generator_path(self) -> str:
        """The teacher generator file."""
        if os.path.isdir(self.teacher):
            return os.path.join(self.teacher, "generator.keras")
        return self.teacher

    def teacher_settings(self) -> dict:
        """The teacher run's ``settings.json`` (empty for a generator file)."""
        if not os.path.isdir(self.teacher):
            return {}
        settings = read_json(os.path.join(self.teacher, "settings.json"))
        if settings is None:
            raise ValueError(f"{self.teacher} has no settings.json: it is not a run dir of tfgancomp")
        return settings

    def resolved(self, teacher=None) -> DistillSettings:
        """A copy with every ``None`` decided from the teacher run, the dataset and :data:`DISTILL_DEFAULTS`.

        Args:
            teacher: The loaded teacher generator (its fixed input size is used when nothing else gives one).
        """
        t = self.teacher_settings()
        task = self.task or t.get("task")
        if task is None:
            raise ValueError(f"teacher {self.teacher} is a generator file: give the task (task / --task)")
        if t.get("task") not in (None, task):
            raise ValueError(f"task {task!r} differs from the teacher run's task {t['task']!r}")
        defaults = DISTILL_DEFAULTS[task]
        changes = {"task": task}
        for key in defaults:
            changes[key] = getattr(self, key) if getattr(self, key) is not None else defaults[key]
        size = self.size or t.get("size")
        if size is None and teacher is not None:
            size = teacher.inputs[0].shape[1]
        if size is None:
            raise ValueError(f"the image size is unknown for teacher {self.teacher}: give size (--size)")
        changes["size"] = int(size)
        aspect = self.aspect_ratio or t.get("aspect_ratio")
        if aspect is None:  # the teacher's own input aspect, when it has a fixed size
            th, tw = teacher.inputs[0].shape[1:3] if teacher is not None else (None, None)
            aspect = tw / th if th and tw else 1.0
        changes["aspect_ratio"] = float(aspect)
        changes["load_size"] = self.load_size if self.load_size is not None else t.get("load_size")
        changes["direction"] = self.direction or t.get("direction", "AtoB")
        changes["ndf"] = self.ndf or t.get("ndf", 64)
        changes["n_layers_d"] = self.n_layers_d or t.get("n_layers_d")
        changes["decay_epochs"] = self.epochs // 2 if self.decay_epochs is None else self.decay_epochs
        if task == "gaugan":
            changes["param_free_norm"] = self.param_free_norm or t.get("param_free_norm", "batch")
            label_nc = self.label_nc or t.get("label_nc") or (read_description(self.data) or {}).get("label_nc")
            if label_nc is None:
                raise ValueError(f"label_nc is unknown: {self.data} has no dataset.json; give label_nc (--label-nc)")
            changes["label_nc"] = int(label_nc)
            instance = self.instance if self.instance is not None else t.get("instance")
            if instance is None:
                instance = os.path.isdir(os.path.join(self.data, "train_inst"))
            changes["instance"] = bool(instance)
        else:
            changes["n_blocks"] = self.n_blocks or t.get("n_blocks", 9)
        if self.student_config is not None:
            changes["student_config"] = "_".join(map(str, parse_config(self.student_config, TASK_FAMILIES[task])))
        for what in ("student_taps", "teacher_taps"):
            if getattr(self, what) is not None:
                changes[what] = tuple(getattr(self, what))
        resolved = dataclasses.replace(self, **changes)
        if resolved.cache_teacher and resolved.load_size not in (None, resolved.size):
            raise ValueError(f"cache_teacher needs uncropped training images: load_size {resolved.load_size} crops "
                             f"size {resolved.size} at random (drop load_size or cache_teacher)")  # fmt: skip
        ReaderSettings(resolved.size, resolved.load_size, resolved.aspect_ratio, on_error=self.on_error,
                       direction=resolved.direction)  # fmt: skip
        return resolved

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of training images (resolved settings)."""
        return ReaderSettings(self.size, aspect_ratio=self.aspect_ratio).shape


# --------------------------------------------------------------------------------------------- building


def load_teacher(settings: DistillSettings, shape: tuple[int, int] | None = None):
    """The teacher generator of ``settings``, rebuilt for ``(height, width)`` inputs when it has another size."""
    path = settings.teacher_generator_path
    teacher = read_generator(path, "teacher generator")
    if shape is None or tuple(teacher.inputs[0].shape[1:3]) in (tuple(shape), (None, None)):
        return teacher
    if not isinstance(teacher, ZooModel):
        raise ValueError(f"teacher {path} takes {teacher.inputs[0].shape[1:3]} inputs, not {shape[0]}x{shape[1]}")
    rebuilt = type(teacher).from_config({**teacher.get_config(), "height": shape[0], "width": shape[1]})
    rebuilt.set_weights(teacher.get_weights())
    return rebuilt


def build_student(settings: DistillSettings):
    """The student generator of (resolved) ``settings``, named ``student``."""
    s, (h, w) = settings, settings.shape
    if s.task == "gaugan":
        common = dict(label_nc=s.label_nc, instance=s.instance, output_nc=3, param_free_norm=s.param_free_norm,
                      height=h, width=w, name="student")  # fmt: skip
        if s.student_config is not None:
            return SubMobileSPADEGenerator(s.student_config, **common)
        return MobileSPADEGenerator(ngf=s.student_ngf, **common)
    common = dict(input_nc=3, output_nc=3, n_blocks=s.n_blocks, height=h, width=w, name="student")
    if s.student_config is not None:
        return SubMobileResNetGenerator(s.student_config, **common)
    return MobileResNetGenerator(ngf=s.student_ngf, **common)


def _teacher_checkpoint_role(teacher_settings: dict, task: str) -> tuple[bool, str]:
    """Where the discriminator sits in the teacher run's checkpoint: (under ``task``?, attribute name)."""
    if "teacher" in teacher_settings:  # a distillation run: Checkpoint(discriminator=...)
        return False, "discriminator"
    return True, "discriminator_b" if task == "cyclegan" else "discriminator"


def build_discriminator(settings: DistillSettings, log=print):
    """The discriminator of (resolved) ``settings``; restored from the teacher run's checkpoint when it has one.

    Returns:
        ``(discriminator, restored_from)`` where ``restored_from`` is the checkpoint path or ``None``.
    """
    s, (h, w) = settings, settings.shape
    depth = discriminator_depth(s.n_layers_d)
    if s.task == "gaugan":
        semantic_nc = s.label_nc + (1 if s.instance else 0)
        disc = MultiscaleDiscriminator(semantic_nc + 3, s.ndf, height=h, width=w, name="discriminator", **depth)
    else:
        input_nc = 6 if s.mode == "paired" else 3
        disc = PatchGANDiscriminator(input_nc, s.ndf, height=h, width=w, name="discriminator", **depth)
    if not s.teacher_discriminator or not os.path.isdir(s.teacher):
        return disc, None
    latest = tf.train.latest_checkpoint(os.path.join(s.teacher, "checkpoints"))
    if latest is None:
        log(f"discriminator starts fresh: {s.teacher} has no checkpoint")
        return disc, None
    teacher_settings = s.teacher_settings()
    nested, role = _teacher_checkpoint_role(teacher_settings, s.task)
    teacher_mode = teacher_settings.get("mode", DISTILL_DEFAULTS[s.task]["mode"])
    # n_layers_d None is the discriminator's own default depth, in the teacher's settings as in these
    teacher_depth = teacher_settings.get("n_layers_d") or inspect.signature(type(disc)).parameters["n_layers"].default
    if (teacher_mode != s.mode or teacher_settings.get("ndf", 64) != s.ndf
            or teacher_depth != disc.get_config()["n_layers"]):  # fmt: skip
        log("discriminator starts fresh: the teacher's discriminator has another input, width or depth")
        return disc, None
    holder = tf.train.Checkpoint(task=tf.train.Checkpoint(**{role: disc})) if nested else tf.train.Checkpoint(
        **{role: disc})  # fmt: skip
    status = holder.restore(latest)
    try:
        status.assert_existing_objects_matched().assert_nontrivial_match()
    except AssertionError as err:
        raise ValueError(
            f"the discriminator of {latest} does not match the one built for distillation: {err}"
        ) from None
    status.expect_partial()
    log(f"discriminator initialised from the teacher run's {latest}")
    return disc, latest


def student_architecture(path: str) -> dict:
    """The student arguments of :class:`DistillSettings` that rebuild a saved student (file or run dir).

    ``{"student_config": ...}`` or ``{"student_ngf": ...}``, and ``n_blocks`` for the ResNet family: what
    ``tfgancomp finetune`` and quantization-aware training read from a saved student to rebuild it.
    """
    model = read_generator(path, "student generator")
    source = path
    config = model.get_config()
    blocks = {"n_blocks": config["n_blocks"]} if "n_blocks" in config else {}  # ResNet family
    if isinstance(model, (SubMobileResNetGenerator, SubMobileSPADEGenerator)):
        return {"student_config": config["config"], **blocks}
    if isinstance(model, (MobileResNetGenerator, MobileSPADEGenerator)):
        return {"student_ngf": config["ngf"], **blocks}
    raise ValueError(f"{source} is a {type(model).__name__}; a student is a (Sub)MobileResNetGenerator or "
                     "(Sub)MobileSPADEGenerator")  # fmt: skip


def _load_student_weights(student, path: str) -> None:
    model = read_generator(path, "student_init generator")
    source = path
    theirs, ours = model.get_weights(), student.get_weights()
    if [w.shape for w in theirs] != [w.shape for w in ours]:
        raise ValueError(
            f"student_init {source} ({type(model).__name__} {model.get_config().get('config', '')}) does not have "
            f"the student's architecture ({type(student).__name__}); extract or train the same configuration"
        )
    student.set_weights(theirs)


def build_distiller(settings: DistillSettings, teacher, log=print):
    """The compiled :class:`Distiller` of (resolved) ``settings`` with optimizers built (inside a strategy scope).

    Returns:
        ``(distiller, info)`` with what was initialised from the teacher.
    """
    s = settings
    student = build_student(s)
    info = {"student_layers_from_teacher": init_from_teacher(student, teacher) if s.init_from_teacher else []}
    if s.student_init is not None:
        _load_student_weights(student, s.student_init)
        info["student_init"] = s.student_init
    if s.quantize:
        from tfgancomp.quantize import describe, quantize_model

        student = quantize_model(student)
        info["quantization_aware"] = describe(student)
    adversarial = s.lambda_gan > 0 or s.lambda_feat > 0
    disc, restored = build_discriminator(s, log) if adversarial else (None, None)
    info["discriminator_from"] = restored
    perceptual = perceptual_loss(s, log)
    distiller = Distiller(student, teacher, disc, s.student_taps, s.teacher_taps, s.mode, s.gan_mode, s.lambda_gan,
                          s.lambda_recon, s.lambda_distill, s.lambda_feat, perceptual, s.lambda_vgg,
                          s.distill_norm)  # fmt: skip

    compile_with_adam(distiller, s)
    info["taps"] = {"student": distiller.student_taps, "teacher": distiller.teacher_taps}
    return distiller, info


def evaluate_student(student, teacher, reader, features=None) -> dict:
    """Held-out PSNR / SSIM of the student to truth and to the teacher's output (+ FID / KID with features)."""
    scores = held_out_scores(student, reader, features, reference=teacher)
    return {k.replace("_reference", "_teacher"): v for k, v in scores.items()}


def _costs(student, teacher, h: int, w: int) -> dict:
    if hasattr(student, "float_model"):  # a QAT student: count its float architecture
        student = student.float_model() or student
    costs = {}
    for label, (height, width) in (("at_training_size", (h, w)), ("at_256", (256, 256 * w // h))):
        try:
            ps, pt = profile(student, height, width), profile(teacher, height, width)
        except ValueError:  # a size the network cannot take
            continue
        costs[label] = {"height": height, "width": width, "student_macs": ps.macs, "teacher_macs": pt.macs,
                        "student_params": ps.params, "teacher_params": pt.params,
                        "macs_ratio": round(pt.macs / ps.macs, 3)}  # fmt: skip
    return costs


# ---------------------------------------------------------------------------------------------- the run


def distill(settings: DistillSettings, run_dir: str, strategy=None, verbose: int = 1, log=print,
            restart: bool = False) -> dict:  # fmt: skip
    """Distil (or resume distilling) the teacher into a student in ``run_dir`` (see :func:`run_distillation`)."""
    return run_distillation(settings, run_dir, build_distiller, lambda task: task.student, strategy, verbose, log,
                            restart)  # fmt: skip


def run_distillation(settings: DistillSettings, run_dir: str, build, exported, strategy=None, verbose: int = 1,
                     log=print, restart: bool = False) -> dict:  # fmt: skip
    """Distil (or resume distilling) the teacher of ``settings`` into the task ``build`` makes, in ``run_dir``.

    Running again with the same settings resumes at the last completed epoch; ``epochs`` may be raised.

    Args:
        settings: The run's settings.
        run_dir: Output folder (created).
        build: ``build(resolved_settings, teacher, log) -> (task, info)`` (inside the strategy's scope).
        exported: ``exported(task)`` -> the plain generator saved as ``generator.keras`` and profiled.
        strategy: A ``tf.distribute`` strategy or its name (:data:`~tfgancomp.pipeline.distribute.STRATEGIES`;
            default: the current one); ``batch_size`` is the global batch.
        verbose: ``fit`` verbosity.
        log: Where progress messages go.
        restart: Delete the run's files in ``run_dir`` first and train from scratch.

    Returns:
        The content of ``metrics.json``.

    Raises:
        TrainingDiverged: A loss became NaN / Inf (the last good checkpoint and student are kept).
        ValueError: Bad settings, a teacher that cannot be used, a run dir holding another run (or results without
            a checkpoint), or bad data.
        RunDirInUse: Another command is using ``run_dir``.
    """
    strategy = resolve_strategy(strategy)  # first: a multi-worker strategy must exist before any other op runs
    with strategy.scope():
        teacher = load_teacher(settings)
        s = settings.resolved(teacher)
        if tuple(teacher.inputs[0].shape[1:3]) not in (s.shape, (None, None)):
            teacher = load_teacher(s, s.shape)  # rebuilt for the training resolution
    own_dir = worker_dir(run_dir, strategy)
    with folder_lock(own_dir):
        open_run_dir(own_dir, s, RESUMABLE_CHANGES, restart)
        return _distil(s, teacher, own_dir, build, exported, strategy, verbose, log, run_dir)


def _cached_training_data(s: DistillSettings, distiller, train, log):
    """The training batches with the teacher's outputs from a :class:`TeacherCache`, and what the cache holds."""
    plain = ReaderSettings(s.size, None, s.aspect_ratio, flip=False, batch_size=s.batch_size, shuffle=False,
                           on_error=s.on_error, direction=s.direction)  # fmt: skip
    examples = open_split(s.task, s.data, plain, "train", False, s.label_nc, bool(s.instance))
    paired = s.task != "cyclegan"  # the data's layout: aligned truth, or real images of domain B
    cache = TeacherCache.compute(distiller.teacher_tapped, examples.dataset, s.flip, paired, log=log)
    partner = None if paired else train.dataset.map(lambda x, y: y)  # the reader's shuffled real target images
    info = {"examples": cache.count, "mirrored": cache.flips, "mib": round(cache.nbytes / 2**20, 1)}
    return cache.dataset(s.batch_size, s.seed, partner), info


def _distil(s: DistillSettings, teacher, run_dir: str, build, exported, strategy, verbose: int, log,
            chief_dir: str) -> dict:  # fmt: skip

    keras.utils.set_random_seed(s.seed)
    train, held_out, features = open_data(s, log)

    with strategy.scope():
        distiller, info = build(s, teacher, log)
    train_data = train.dataset
    if s.cache_teacher:
        train_data, info["teacher_cache"] = _cached_training_data(s, distiller, train, log)
    write_settings(run_dir, s)
    run = ResumableRun(run_dir, distiller, strategy, state=distiller.checkpoint_state(), log=log,
                       restore_dir=chief_dir)  # fmt: skip
    metrics_path = os.path.join(run_dir, "metrics.json")
    metrics = read_json(metrics_path) or {}
    if run.restore(s.epochs) == 0:
        if s.quantize:  # measure the fake-quant ranges before training (TFMOT's start at [-6, 6])
            from tfgancomp.quantize import calibrate_ranges

            info["calibration_batches"] = calibrate_ranges(distiller.student, (x for x, _ in train.dataset.take(16)))
        metrics = {"costs": _costs(exported(distiller), teacher, *s.shape), **info}
        if held_out is not None:
            metrics["untrained"] = evaluate_student(distiller.student, teacher, held_out, features)
            metrics["teacher"] = held_out_scores(teacher, held_out, features)
        write_json(metrics_path, metrics)

    sample_inputs, sample_targets = sample_batch((held_out or train).dataset, s.num_samples, s.batch_size)
    teacher_samples = teacher(sample_inputs, training=False).numpy()

    def render():
        student_samples = distiller.student(sample_inputs, training=False)
        columns = [show_inputs(sample_inputs, s.task), teacher_samples, student_samples]
        if held_out is not None:  # truth is known (unpaired training data has none)
            columns.append(sample_targets)
        return [columns[0], columns[1], columns[2].numpy(), *columns[3:]]

    title = "input | teacher | student" + (" | truth" if held_out is not None else "")
    run.fit(shard_by_example(train_data), s.epochs, s.lr, s.decay_epochs,
            [distiller.g_optimizer, distiller.d_optimizer],
            lambda: {"generator": exported(distiller)}, render, grid_title=title, verbose=verbose,
            evaluate=learning_curve(lambda: exported(distiller), held_out, s.eval_every),
            eval_every=s.eval_every)  # fmt: skip
    if held_out is not None:
        metrics["final"] = evaluate_student(distiller.student, teacher, held_out, features)
    return record_run(metrics, run, train, metrics_path)
