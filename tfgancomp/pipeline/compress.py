"""``tfgancomp compress``: one command from a dataset (and optionally a trained teacher) to a benchmarked model.

data → teacher (trained here, or ``teacher=RUN_DIR``) → once-for-all supernet → search under the budget → extract
→ fine-tune → export (float16, int8 after quantization-aware training) → host benchmark of teacher vs compressed →
report. Each stage writes its own run dir inside the compress folder::

    settings.json     the CompressSettings (stage "compress"); a rerun continues only with the same settings
    plan.json         what was decided before any training: teacher MACs, search space, budget, its range
    space.json        the search space (derived from the teacher's width unless given)
    stages.json       the finished stages, their seconds and outputs: a rerun skips them
    teacher/ supernet/ search/ extract/ finetune/ qat_run/ export/{teacher_float16,float16,int8}/
    benchmark.json    host CPU latency of each compressed bundle, run alternately with the teacher's
    report.md, report.html (self-contained) and the figures in report/

Everything that can be refused (a budget outside the space's range, a space heavier than the teacher, a bad
setting) is refused before any training, with the range or the expected form named.
"""

from __future__ import annotations

import dataclasses
import fractions
import json
import math
import os
import time
from dataclasses import dataclass
from typing import ClassVar

from tfgancomp.pipeline.distribute import STRATEGIES, is_chief, resolve_strategy, worker_dir, worker_role
from tfgancomp.pipeline.rundir import (
    as_json,
    check_same_settings,
    folder_lock,
    read_json,
    remove_stale_temps,
    write_json,
    write_settings,
)
from tfgancomp.validation import check_choice, check_field_type, check_positive_int

#: The stages of a compress run, in order.
STAGES = ("teacher", "supernet", "search", "extract", "finetune", "export", "benchmark", "report")
PRECISIONS = ("float32", "float16", "dynamic", "int8", "int16x8")
TASKS = ("pix2pix", "cyclegan", "gaugan")


def parse_ratio(value) -> float:
    """A MACs ratio from ``1/16``, ``0.0625`` or a number; must lie in (0, 1]."""
    try:
        ratio = float(fractions.Fraction(str(value).strip()))
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"macs_ratio must be a fraction like 1/16 or a number in (0, 1], got {value!r}") from None
    if not 0 < ratio <= 1:
        raise ValueError(f"macs_ratio must be in (0, 1] (e.g. 1/16), got {value!r}")
    return ratio


@dataclass(frozen=True)
class CompressSettings:
    """Everything that defines a compression run (saved as ``settings.json`` in the compress folder).

    Args:
        data: Dataset folder in the task's layout.
        task: ``"pix2pix"``, ``"cyclegan"`` or ``"gaugan"`` (default: the teacher run's task, else pix2pix).
        teacher: A trained teacher (a run dir of any stage, or a ``.keras`` generator); ``None``: train one here.
        teacher_ngf: Width of the teacher trained here.
        teacher_ndf: Width of the teacher's discriminator (the student stages start from it).
        teacher_n_layers_d: Stride-2 layers of the discriminator of the teacher trained here (``None``: the
            reference's); the student stages use the teacher's.
        teacher_blocks: Residual blocks of the teacher trained here (ResNet tasks).
        teacher_epochs: Epochs of the teacher trained here (the last half decays linearly).
        size: Training image height (default: the teacher run's, else 128).
        batch_size: Batch size of every training stage.
        macs_ratio: The budget as a fraction of the teacher's MACs at the training size (``1/16``, ``0.0625``);
            the default when ``budget_macs`` is not given is 1/16.
        budget_macs: The budget in MACs at the training size (instead of ``macs_ratio``).
        budget_ms: The budget as latency in milliseconds predicted by ``latency_table`` (instead of a MACs budget;
            ResNet tasks): the search keeps every candidate under it.
        latency_table: The target's latency table (``tfgancomp latency-table``; default: the shipped host-CPU
            table of the training size). With it, the search results and the report also show predicted ms.
        space: Search space name or JSON file (default: derived from the teacher's width: every position in
            ``{w, 3w/4, w/2}`` with ``w`` half the teacher's width, the paper's ``channels-32`` for ngf 64; with
            ``budget_ms``, also separable or dense blocks and 1 to all blocks per residual group).
        sampling: Supernet sampling, ``"uniform"`` or ``"sandwich"``.
        supernet_epochs: Supernet training epochs (the last half decays linearly).
        trials: Search trials.
        population: Evolution population.
        search_images: Training images each trial is scored on.
        finetune_epochs: Fine-tuning epochs of the chosen subnet (the last half decays linearly).
        precisions: Bundles to export (``int8`` trains quantization-aware first when ``qat_epochs`` > 0).
        qat_epochs: Quantization-aware training epochs before the int8 export (0: post-training int8).
        benchmark_runs: Timed runs of each model in the host benchmark (each alternating with the teacher's).
        teacher_discriminator: The supernet and fine-tuning stages start their discriminator from the teacher run's
            (GAN Compression's choice); ``False``: a fresh one that learns alongside the student (a converged
            teacher's discriminator can overpower a small student from the first step).
        distill_norm: How the supernet and fine-tuning stages scale each tap's distillation MSE
            (``DistillSettings.distill_norm``; ``None``: the task's default).
        lambda_gan: Adversarial weight of the supernet and fine-tuning stages (``DistillSettings.lambda_gan``;
            ``None``: the task's default, GAN Compression's 1). 0 trains pix2pix and CycleGAN students without a
            discriminator (GauGAN's feature matching still uses one), on the reconstruction (L1 to the truth; to the
            teacher for CycleGAN) and distillation terms, about twice as fast an epoch: more fidelity to the truth
            (PSNR), none of the adversarial sharpening. On the README's 32x32 pix2pix rows 0 met the
            20x-within-0.5-dB target that the default missed by 2.6 dB.
        cache_teacher: The supernet and fine-tuning stages compute the frozen teacher's outputs and taps once per
            training example (and mirror image) instead of once per step (``DistillSettings.cache_teacher``; 1.5×
            faster epochs measured); left off by the plan when it would not fit in memory.
        eval_every: The teacher, supernet and fine-tuning stages score their generator on the held-out split every
            this many epochs, into their ``history.json`` (the learning curves of the report); 0: only at the end.
        seed: Seed of every stage.
        strategy: ``tf.distribute`` strategy of the training stages: ``default`` (one device), ``mirrored`` (every
            GPU of this host) or ``multi-worker`` (the cluster in ``TF_CONFIG``; the same command on every worker,
            the compress folder on a file system they share; the chief searches, exports and reports).
    """

    data: str
    task: str | None = None
    teacher: str | None = None
    teacher_ngf: int = 64
    teacher_ndf: int = 64
    teacher_n_layers_d: int | None = None
    teacher_blocks: int = 9
    teacher_epochs: int = 5
    size: int | None = None
    batch_size: int = 4
    macs_ratio: float | str | None = None
    budget_macs: float | None = None
    budget_ms: float | None = None
    latency_table: str | None = None
    space: str | None = None
    sampling: str = "uniform"
    supernet_epochs: int = 10
    trials: int = 200
    population: int = 50
    search_images: int = 16
    finetune_epochs: int = 4
    precisions: tuple[str, ...] = ("float16", "int8")
    qat_epochs: int = 3
    benchmark_runs: int = 20
    teacher_discriminator: bool = True
    distill_norm: str | None = None
    lambda_gan: float | None = None
    cache_teacher: bool = True
    eval_every: int = 0
    seed: int = 0
    strategy: str = "default"

    stage: ClassVar[str] = "compress"

    def __post_init__(self):
        if not isinstance(self.data, str) or not os.path.isdir(self.data):
            raise ValueError(f"data {self.data!r} is not a dataset folder")
        if self.task is not None:
            check_choice("task", self.task, TASKS)
        if self.teacher is not None and not os.path.exists(self.teacher):
            raise ValueError(f"teacher {self.teacher} does not exist: give a teacher run dir or a .keras generator")
        for what in ("teacher_ngf", "teacher_ndf", "teacher_blocks", "teacher_epochs", "batch_size", "supernet_epochs",
                     "trials", "population", "search_images", "finetune_epochs", "benchmark_runs"):  # fmt: skip
            check_positive_int(what, getattr(self, what))
        for what in ("size", "teacher_n_layers_d"):
            if getattr(self, what) is not None:
                check_positive_int(what, getattr(self, what))
        if self.distill_norm is not None:
            from tfgancomp.distill.defaults import DISTILL_NORMS

            check_choice("distill_norm", self.distill_norm, DISTILL_NORMS)
        weight = self.lambda_gan
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float))
                                   or not math.isfinite(weight) or weight < 0):  # fmt: skip
            raise ValueError(f"lambda_gan must be a finite number >= 0, got {weight!r}")
        for what in ("qat_epochs", "eval_every"):
            value = getattr(self, what)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{what} must be an integer >= 0, got {value!r}")
        given = [k for k in ("macs_ratio", "budget_macs", "budget_ms") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one budget, not {' and '.join(given)}")
        if self.macs_ratio is not None:
            object.__setattr__(self, "macs_ratio", parse_ratio(self.macs_ratio))
        elif not given:
            object.__setattr__(self, "macs_ratio", 1 / 16)
        if self.budget_ms is not None:
            b = self.budget_ms
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or b <= 0:
                raise ValueError(f"budget_ms must be a finite positive number of milliseconds, got {b!r}")
            object.__setattr__(self, "budget_ms", float(b))
        if self.latency_table is not None and not os.path.isfile(self.latency_table):
            raise ValueError(f"latency_table {self.latency_table} does not exist: give a file from "
                             "tfgancomp latency-table")  # fmt: skip
        if self.budget_macs is not None:
            b = self.budget_macs
            if isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) or b <= 0:
                raise ValueError(f"budget_macs must be a finite positive number of MACs, got {b!r}")
            object.__setattr__(self, "budget_macs", float(b))
        check_choice("sampling", self.sampling, ("uniform", "sandwich"))
        check_choice("strategy", self.strategy, STRATEGIES)
        precisions = (self.precisions,) if isinstance(self.precisions, str) else tuple(self.precisions)
        if not precisions:
            raise ValueError("precisions must name at least one of " + ", ".join(PRECISIONS))
        for p in precisions:
            check_choice("precisions", p, PRECISIONS)
        object.__setattr__(self, "precisions", precisions)


# ------------------------------------------------------------------------------------------ config files


def settings_from_mapping(mapping: dict, source: str = "the settings") -> CompressSettings:
    """:class:`CompressSettings` from a mapping (a config file's content), every key and type checked.

    Raises:
        ValueError: naming the unknown key, or the key whose value has the wrong type and the expected form.
    """
    if not isinstance(mapping, dict):
        raise ValueError(f"{source}: expected a table of settings (key = value), got {type(mapping).__name__}")
    fields = {f.name: f for f in dataclasses.fields(CompressSettings)}
    for key, value in mapping.items():
        if key not in fields:
            raise ValueError(f"{source}: unknown key {key!r}; expected one of {', '.join(fields)}")
        try:
            check_field_type(fields[key], value)
        except ValueError as err:
            raise ValueError(f"{source}: {err}") from None
    if "data" not in mapping:
        raise ValueError(f"{source}: the key 'data' (the dataset folder) is required")
    try:
        return CompressSettings(**mapping)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None


def read_config(path: str) -> dict:
    """The table of a ``.toml``, ``.yaml`` / ``.yml`` or ``.json`` config file, read safely.

    TOML and JSON build no objects; YAML is read with ``yaml.safe_load`` (plain scalars, lists and mappings only: no
    tags that construct Python objects).

    Raises:
        ValueError: naming the file when it is missing, of an unknown kind, not valid, or not a table of settings.
    """
    if not os.path.isfile(path):
        raise ValueError(f"config file {path} does not exist")
    kind = os.path.splitext(path)[1].lower()
    if kind not in (".toml", ".json", ".yaml", ".yml"):
        raise ValueError(f"config file {path}: expected a .toml, .yaml, .yml or .json file")
    try:
        if kind == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            with open(path, "rb") as f:
                table = tomllib.load(f)
        elif kind == ".json":
            with open(path) as f:
                table = json.load(f)
        else:
            import yaml

            with open(path) as f:
                table = yaml.safe_load(f)
    except (ValueError, UnicodeDecodeError) as err:  # tomllib.TOMLDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"config file {path} is not valid {kind[1:].upper()}: {err}") from None
    except Exception as err:  # yaml.YAMLError (kept out of the import so that TOML users need no YAML)
        if type(err).__module__.startswith("yaml"):
            raise ValueError(f"config file {path} is not valid YAML: {' '.join(str(err).split())}") from None
        raise
    if not isinstance(table, dict):
        raise ValueError(f"config file {path}: expected a table of settings (key = value), got {type(table).__name__}")
    return table


# --------------------------------------------------------------------------------------------- the plan


def _teacher_model(s: CompressSettings):
    """``(teacher generator, its run settings or {})`` — trained if given, else built untrained for its cost."""
    from tfgancomp.pipeline.rundir import read_run
    from tfgancomp.pipeline.teacher import build_models

    if s.teacher is not None:
        model, run, _ = read_run(s.teacher)
        return model, run
    teacher = _teacher_settings(s).resolved()
    return build_models(teacher)["generator"], dataclasses.asdict(teacher)


def _teacher_settings(s: CompressSettings):
    from tfgancomp.pipeline.teacher import TeacherSettings

    return TeacherSettings(s.task or "pix2pix", s.data, ngf=s.teacher_ngf, ndf=s.teacher_ndf,
                           n_layers_d=s.teacher_n_layers_d, n_blocks=s.teacher_blocks, size=s.size or 128,
                           epochs=s.teacher_epochs,
                           decay_epochs=s.teacher_epochs // 2, batch_size=s.batch_size, eval_every=s.eval_every,
                           seed=s.seed)  # fmt: skip


def _supernet_settings(s: CompressSettings, teacher: str, decided: dict):
    from tfgancomp.pipeline.supernet import SupernetSettings

    return SupernetSettings(teacher, s.data, space=decided["space"]["path"], sampling=s.sampling,
                            epochs=s.supernet_epochs, decay_epochs=s.supernet_epochs // 2, batch_size=s.batch_size,
                            teacher_discriminator=s.teacher_discriminator, distill_norm=s.distill_norm,
                            lambda_gan=s.lambda_gan, cache_teacher=decided["teacher_cache"]["on"],
                            eval_every=s.eval_every, seed=s.seed)  # fmt: skip


def _finetune_settings(s: CompressSettings, teacher: str, extract_dir: str, decided: dict):
    from tfgancomp.pipeline.distill import DistillSettings, student_architecture

    return DistillSettings(teacher, s.data, student_init=extract_dir, **student_architecture(extract_dir),
                           epochs=s.finetune_epochs, decay_epochs=s.finetune_epochs // 2, batch_size=s.batch_size,
                           teacher_discriminator=s.teacher_discriminator, distill_norm=s.distill_norm,
                           lambda_gan=s.lambda_gan, cache_teacher=decided["teacher_cache"]["on"],
                           eval_every=s.eval_every, seed=s.seed)  # fmt: skip


def derived_space(teacher_ngf: int, family: str, n_blocks: int | None = None) -> dict:
    """The default space for a teacher of width ``teacher_ngf``: ``{w, 3w/4, w/2}`` per position, ``w = ngf/2``.

    With ``n_blocks`` (a ResNet searched by latency), each residual group also chooses separable or dense blocks and
    how many of them, from all of the group's down to one: the choices that trade MACs for milliseconds.
    """
    w = max(2, teacher_ngf // 2)
    widths = sorted({w, max(1, round(3 * w / 4)), max(1, w // 2)}, reverse=True)
    n1 = 0 if n_blocks is None else n_blocks // 3
    if n_blocks is None or family != "resnet" or n1 == 0:  # (fewer than 3 blocks: a group would be empty)
        return {"name": f"derived-{w}", "family": family, "choices": [widths] * 8}
    depths = [list(range(g, 0, -1)) for g in (n1, n1, n_blocks - 2 * n1)]
    return {"name": f"derived-{w}-blocks", "family": family, "choices": [widths] * 8 + [[0, 1]] * 3 + depths}


def plan(s: CompressSettings, out_dir: str) -> dict:
    """Decide teacher, space and budget before any training; write ``space.json``. Returns ``plan.json``'s content.

    Raises:
        ValueError: a space heavier than the teacher, or a budget outside the space's range (the range is named).
    """
    from tfgancomp.metrics import profile
    from tfgancomp.models.config import TASK_FAMILIES, TEACHER_FAMILIES
    from tfgancomp.search.space import SearchSpace, get_space, resnet_macs, spade_macs

    teacher, run = _teacher_model(s)
    task = s.task or run.get("task") or "pix2pix"
    if run.get("task") and s.task and run["task"] != s.task:
        raise ValueError(f"task {s.task!r} differs from the teacher run's {run['task']!r}")
    family = TASK_FAMILIES[task]
    fixed_h, fixed_w = teacher.inputs[0].shape[1:3]
    h = s.size or run.get("size") or fixed_h
    if h is None:
        raise ValueError(f"teacher {s.teacher} has a dynamic input size and no run settings: give the size")
    w = int(round(h * (run.get("aspect_ratio") or (fixed_w / fixed_h if fixed_h and fixed_w else 1.0))))
    cost = profile(teacher, h, w)
    config = teacher.get_config()
    if getattr(teacher, "family", None) not in (None, *TEACHER_FAMILIES[task]):
        raise ValueError(f"the teacher is a {type(teacher).__name__}, not a generator for task {task!r}")
    if s.space is None:
        if not isinstance(config.get("ngf"), int):
            raise ValueError(f"the teacher ({type(teacher).__name__}) has no base width (ngf) to derive the search "
                             "space from: give the space")  # fmt: skip
        space_path = os.path.join(out_dir, "space.json")  # written once every check passed
        blocks = int(config.get("n_blocks", 9)) if s.budget_ms is not None else None
        space = SearchSpace(**derived_space(config["ngf"], family, blocks))
    else:
        space_path, space = s.space, get_space(s.space, family)
    if family == "spade":
        label_nc, instance = config["label_nc"], bool(config.get("instance"))

        def macs(c):
            return spade_macs(c, h, w, label_nc, instance)
    else:
        blocks = int(config.get("n_blocks", 9))

        def macs(c):
            return resnet_macs(c, h, w, blocks)

    low, high = macs(space.smallest()), macs(space.largest())
    teacher_macs = cost.macs
    if high > teacher_macs:
        raise ValueError(f"space {space.name!r} is heavier than the teacher: its largest configuration costs "
                         f"{high / 1e9:.3f} G MACs at {h}x{w}, the teacher {teacher_macs / 1e9:.3f} G; give a "
                         "narrower space")  # fmt: skip
    latency = {}
    if s.budget_ms is not None or s.latency_table:
        latency = _latency_plan(s, space, family, config if type(teacher).__name__ == "ResNetGenerator" else {}, h, w)
    latency["teacher_cache"] = _cache_plan(s, teacher, run, task, h, w)
    if s.budget_ms is not None:
        if s.space is None:
            write_json(space_path, space.to_dict())
        return {"task": task, "teacher": {"macs": teacher_macs, "params": cost.params, "height": h, "width": w,
                                          "ngf": config.get("ngf"), "class": type(teacher).__name__},
                "space": {"path": space_path, **space.to_dict()}, "budget_macs": None, "budget_ratio": None,
                "space_range_macs": [low, high], **latency}  # fmt: skip
    budget = s.budget_macs if s.budget_macs is not None else s.macs_ratio * teacher_macs
    if not low <= budget <= high:
        raise ValueError(
            f"budget {budget / 1e9:.4f} G MACs ({budget / teacher_macs:.4g} of the teacher's "
            f"{teacher_macs / 1e9:.3f} G at {h}x{w}) is outside space {space.name!r}'s range: {low / 1e9:.4f} G "
            f"(1/{teacher_macs / low:.1f}) to {high / 1e9:.4f} G (1/{teacher_macs / high:.1f}); give a macs_ratio "
            "between those"
        )
    if s.space is None:
        write_json(space_path, space.to_dict())
    return {"task": task, "teacher": {"macs": teacher_macs, "params": cost.params, "height": h, "width": w,
                                      "ngf": config.get("ngf"), "class": type(teacher).__name__},
            "space": {"path": space_path, **space.to_dict()}, "budget_macs": budget,
            "budget_ratio": budget / teacher_macs, "space_range_macs": [low, high], **latency}  # fmt: skip


def _cache_plan(s: CompressSettings, teacher, run: dict, task: str, h: int, w: int) -> dict:
    """Whether the training stages cache the teacher: asked for, uncropped data, and the estimate within the limit.

    The estimate (inputs, paired targets, the teacher's output and taps for both flips, per training example)
    decides before any training; a cache over the limit, or a teacher run that cropped at random (``load_size``),
    leaves it off with the reason instead of failing later.
    """
    if not s.cache_teacher:
        return {"on": False, "why": "cache_teacher is off"}
    import numpy as np

    from tfgancomp.data.readers import list_images
    from tfgancomp.distill import default_taps, tap_model
    from tfgancomp.distill.cache import memory_limit

    if run.get("load_size") not in (None, h):
        return {"on": False, "why": f"the teacher run crops load_size {run['load_size']} to {h} at random"}

    def count(folder):
        path = os.path.join(s.data, folder)
        return len(list_images(path)) if os.path.isdir(path) else 0

    if task == "cyclegan":  # the unaligned reader's epoch: max(|A|, |B|) examples, no targets held
        examples, targets = max(count("trainA"), count("trainB")), 0
    else:
        examples, targets = count("train" if task == "pix2pix" else "train_label"), 3
    sized = teacher
    if tuple(teacher.inputs[0].shape[1:3]) not in ((h, w), (None, None)):
        sized = type(teacher).from_config({**teacher.get_config(), "height": h, "width": w})
    channels = int(teacher.inputs[0].shape[-1])
    tapped = tap_model(sized, default_taps(sized))
    shapes = [tuple(o.shape[1:]) for o in tapped.outputs]
    if any(d is None for shape in shapes for d in shape):  # a dynamic-size teacher: one pass gives the sizes
        shapes = [o.shape[1:] for o in tapped(np.zeros((1, h, w, channels), "float32"), training=False)]
    per_example = 4 * (h * w * (channels + targets) + 2 * sum(int(np.prod(shape)) for shape in shapes))
    estimate = per_example * examples
    limit = memory_limit()
    out = {"on": True, "estimated_mib": round(estimate / 2**20, 1), "training_examples": examples}
    if limit and estimate > limit:
        out.update(on=False, why=f"the teacher cache would take {estimate / 2**30:.2f} GiB, over the "
                                 f"{limit / 2**30:.1f} GiB allowed (a third of the memory): the teacher runs in every "
                                 "step")  # fmt: skip
    return out


def _latency_plan(s: CompressSettings, space, family: str, config: dict, h: int, w: int) -> dict:
    """The latency table (checked against the space), the ms budget's range, and the teacher's predicted ms.

    Raises:
        ValueError: a GauGAN task, a table that does not fit, or a budget outside the space's predicted range.
    """
    from tfgancomp.search.latency import find_table

    if family != "resnet":
        raise ValueError("a latency budget (budget_ms) and latency tables cover the ResNet tasks (pix2pix, "
                         "CycleGAN); give a MACs budget for GauGAN")  # fmt: skip
    blocks = int(config.get("n_blocks", 9))
    table = find_table(h, w, s.latency_table)
    table.check(space, h, w, blocks)
    predict = table.predictor(blocks)
    low, high = predict(space.smallest()), predict(space.largest())
    ngf = config.get("ngf")
    teacher = None  # a ResNet teacher is the all-dense layout at its own width, when the table has those stages
    if isinstance(ngf, int) and config.get("norm", "instance") == "instance":
        layout = (ngf,) * 8 + (1, 1, 1, 0, 0, 0)
        teacher = None if table.missing(layout, blocks) else predict(layout)
    out = {"latency_table": {"path": table.source, "target": table.target, "constant_ms": table.constant_ms},
           "teacher_predicted_ms": teacher, "space_range_ms": [low, high]}  # fmt: skip
    if s.budget_ms is not None:
        if not low <= s.budget_ms <= high:
            raise ValueError(f"budget {s.budget_ms:.3f} ms is outside space {space.name!r}'s predicted range on "
                             f"{table.describe()}: {low:.3f} ms (its smallest configuration) to {high:.3f} ms (its "
                             "largest); give a budget_ms between those")  # fmt: skip
        out["budget_ms"] = s.budget_ms
    return out


# --------------------------------------------------------------------------------------------- the stages


class _Stages:
    """``stages.json``: which stages finished, in how many seconds, with what outputs; a rerun skips them."""

    def __init__(self, out_dir: str, log):
        self.path, self.log = os.path.join(out_dir, "stages.json"), log
        self.done = read_json(self.path) or {}

    def run(self, name: str, work) -> dict:
        index = STAGES.index(name) + 1
        if name in self.done:
            self.log(f"[{index}/{len(STAGES)}] {name}: done before, skipped")
            return self.done[name]
        self.log(f"[{index}/{len(STAGES)}] {name} ...")
        start = time.time()
        outputs = work() or {}
        seconds = round(time.time() - start, 1)
        self.done[name] = {"seconds": seconds, **outputs}
        write_json(self.path, self.done)
        self.log(f"[{index}/{len(STAGES)}] {name}: done in {seconds:.0f} s")
        return self.done[name]


def compress(settings: CompressSettings, out_dir: str, log=print, verbose: int = 2) -> dict:
    """Run (or continue) the whole compression in ``out_dir``; returns the report's figures (``report.json``).

    In a multi-worker run (``strategy="multi-worker"``) the workers other than the chief return ``{}``.

    Running the same settings again skips the finished stages and resumes an interrupted one from its checkpoint.

    Raises:
        ValueError: bad settings, a folder holding another compression, a budget or space the teacher cannot take
            (all before any training).
        RunDirInUse: another command is using ``out_dir``.
    """
    s = settings
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"{out_dir} is a file, not a folder")
    strategy = resolve_strategy(s.strategy)  # first: a multi-worker strategy must exist before any other op runs
    if not is_chief(strategy):
        return _follow_the_chief(s, out_dir, strategy, log, verbose)
    with folder_lock(out_dir):
        remove_stale_temps(out_dir)
        check_same_settings(out_dir, as_json(s), ("strategy",), how="folder for other settings")
        decided = plan(s, out_dir)
        write_settings(out_dir, s)
        write_json(os.path.join(out_dir, "plan.json"), decided)
        if decided.get("budget_ms") is not None:
            budget = f"{decided['budget_ms']:.3f} ms predicted ({decided['latency_table']['target']['device']})"
        else:
            budget = f"{decided['budget_macs'] / 1e9:.4f} G (1/{1 / decided['budget_ratio']:.1f})"
        log(f"teacher {decided['teacher']['macs'] / 1e9:.3f} G MACs at {decided['teacher']['height']}x"
            f"{decided['teacher']['width']}; budget {budget}; space {decided['space']['name']}")  # fmt: skip
        cache = decided["teacher_cache"]
        log(f"teacher cache: {cache['estimated_mib']:.0f} MiB" if cache["on"] else f"teacher cache off: {cache['why']}")
        return _compress(s, out_dir, decided, log, verbose)


def _follow_the_chief(s: CompressSettings, out_dir: str, strategy, log, verbose: int) -> dict:
    """A multi-worker run's other worker: train each training stage in step with the chief, nothing else.

    It skips what the chief's ``stages.json`` says is done, waits while the chief searches and extracts, and writes
    only into ``OUT/.workers/`` (its plan) and the stages' ``.workers/`` folders.
    """
    from tfgancomp.pipeline.distill import distill
    from tfgancomp.pipeline.supernet import train_supernet
    from tfgancomp.pipeline.teacher import train_teacher

    own_dir = worker_dir(out_dir, strategy)
    with folder_lock(own_dir):
        decided = plan(s, own_dir)
    path = {k: os.path.join(out_dir, k) for k in ("teacher", "supernet", "extract", "finetune")}
    teacher = s.teacher or path["teacher"]
    done = read_json(os.path.join(out_dir, "stages.json")) or {}
    if s.teacher is None and "teacher" not in done:
        train_teacher(_teacher_settings(s), teacher, strategy, verbose=verbose, log=log)
    if "supernet" not in done:
        train_supernet(_supernet_settings(s, teacher, decided), path["supernet"], strategy, verbose=verbose, log=log)
    _wait_for_stage(out_dir, "extract", log)
    if "finetune" not in done:
        distill(
            _finetune_settings(s, teacher, path["extract"], decided),
            path["finetune"],
            strategy,
            verbose=verbose,
            log=log,
        )
    log(f"worker {worker_role(strategy)}: training stages done; the chief exports, benchmarks and reports")
    return {}


def _wait_for_stage(out_dir: str, stage: str, log, grace: float = 120.0) -> None:
    """Wait until the chief's ``stages.json`` lists ``stage``; fail if the chief's lock is gone (it stopped).

    Raises:
        ValueError: the chief is not running (its lock of ``out_dir`` was free after ``grace`` seconds).
    """
    from tfgancomp.pipeline.rundir import RunDirInUse

    start, said = time.time(), False
    while stage not in (read_json(os.path.join(out_dir, "stages.json")) or {}):
        if time.time() - start > grace:  # only then probe the chief's lock (a probe could race its first lock)
            try:
                with folder_lock(out_dir):
                    pass
            except RunDirInUse:
                pass
            else:
                raise ValueError(f"the chief stopped before the {stage} stage of {out_dir} was done: start it again")
        if not said:
            log(f"waiting for the chief's {stage} stage in {out_dir} ...")
            said = True
        time.sleep(1.0)


def _compress(s: CompressSettings, out_dir: str, decided: dict, log, verbose: int) -> dict:
    from tfgancomp.pipeline.distill import distill
    from tfgancomp.pipeline.export import QATSettings, export_generator
    from tfgancomp.pipeline.extract import extract
    from tfgancomp.pipeline.report import write_report
    from tfgancomp.pipeline.search import search
    from tfgancomp.pipeline.supernet import train_supernet
    from tfgancomp.pipeline.teacher import train_teacher

    path = {k: os.path.join(out_dir, k) for k in ("teacher", "supernet", "search", "extract", "finetune", "qat_run")}
    stages = _Stages(out_dir, log)
    teacher = s.teacher or path["teacher"]

    def train_the_teacher():
        if s.teacher is None:
            train_teacher(_teacher_settings(s), teacher, s.strategy, verbose=verbose, log=log)
        return {"run": teacher}

    stages.run("teacher", train_the_teacher)

    def supernet():
        train_supernet(_supernet_settings(s, teacher, decided), path["supernet"], s.strategy, verbose=verbose, log=log)
        return {"run": path["supernet"]}

    stages.run("supernet", supernet)

    def searching():
        table = (decided.get("latency_table") or {}).get("path")
        rows = search(path["supernet"], path["search"], decided["budget_macs"], "evolution", s.trials,
                      images=s.search_images, population=s.population, seed=s.seed, verbose=verbose,
                      budget_ms=decided.get("budget_ms"), latency_table=table)  # fmt: skip
        return {"run": path["search"], "config": rows[0]["config"], "macs": rows[0]["macs"],
                "score": rows[0]["score"], "predicted_ms": rows[0].get("predicted_ms")}  # fmt: skip

    chosen = stages.run("search", searching)
    stages.run("extract", lambda: {"run": extract(path["supernet"], chosen["config"], path["extract"],
                                                  s.search_images)})  # fmt: skip

    def finetune():
        distill(
            _finetune_settings(s, teacher, path["extract"], decided),
            path["finetune"],
            s.strategy,
            verbose=verbose,
            log=log,
        )
        return {"run": path["finetune"]}

    stages.run("finetune", finetune)

    def export():
        bundles = {"teacher_float16": os.path.join(out_dir, "export", "teacher_float16")}
        export_generator(teacher, bundles["teacher_float16"], "float16", s.data)
        for precision in s.precisions:
            bundles[precision] = os.path.join(out_dir, "export", precision)
            qat = None
            if precision == "int8" and s.qat_epochs:
                qat = QATSettings(s.qat_epochs, run_dir=path["qat_run"], batch_size=s.batch_size)
            export_generator(path["finetune"], bundles[precision], precision, s.data, seed=s.seed,
                             qat=qat, min_psnr=0.0 if precision == "int8" and not s.qat_epochs else None)  # fmt: skip
        return {"bundles": bundles}

    bundles = stages.run("export", export)["bundles"]

    def benchmark():
        from mobile_export.benchmark import BenchmarkSettings, compare

        teacher_model = os.path.join(bundles["teacher_float16"], "model.tflite")
        results = {}
        for precision in s.precisions:
            settings = BenchmarkSettings(num_runs=s.benchmark_runs, warmup_runs=3)
            comparison = compare(os.path.join(bundles[precision], "model.tflite"), teacher_model, settings)
            results[precision] = comparison.to_dict()
        write_json(os.path.join(out_dir, "benchmark.json"), results)
        return {"file": os.path.join(out_dir, "benchmark.json")}

    stages.run("benchmark", benchmark)
    figures = {}

    def report():
        figures.update(write_report(out_dir))
        return {"report": os.path.join(out_dir, "report.html")}

    stages.run("report", report)
    return figures or read_json(os.path.join(out_dir, "report.json"))
