"""Supernet training runs (resumable run dirs) and loading a trained supernet back."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from tfgancomp.backend import keras, tf
from tfgancomp.distill.runner import DistillSettings, build_discriminator, load_teacher, run_distillation
from tfgancomp.models.config import TASK_FAMILIES
from tfgancomp.search.space import get_space
from tfgancomp.search.supernet import SuperMobileResNetGenerator, SuperMobileSPADEGenerator, extract_subnet
from tfgancomp.search.training import SAMPLING, SupernetDistiller
from tfgancomp.train.loop import folder_lock, read_json, remove_stale_temps, save_model
from tfgancomp.validation import check_positive_int, check_positive_number


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

    def __post_init__(self):
        if self.sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {self.sampling!r}")
        if self.student_config is not None:
            raise ValueError("a supernet run takes no student_config: its width comes from the space")
        if not os.path.exists(self.teacher):
            raise ValueError(f"teacher {self.teacher} does not exist: give a teacher run dir or a generator file")
        space = self.search_space()
        if self.student_ngf is None:
            object.__setattr__(self, "student_ngf", max(space.largest()))
        elif self.student_ngf != max(space.largest()):
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
        return SuperMobileSPADEGenerator(max(space.largest()), settings["label_nc"], settings["instance"], 3,
                                         settings["param_free_norm"], name="student")  # fmt: skip
    return SuperMobileResNetGenerator(max(space.largest()), 3, 3, settings["n_blocks"], name="student")


def _build(s: SupernetSettings, teacher, log):
    from tfgancomp.train.perceptual import VGGPerceptual

    space = s.search_space()
    supernet = build_supernet(dataclasses.asdict(s))
    adversarial = s.lambda_gan > 0 or s.lambda_feat > 0
    disc, restored = build_discriminator(s, log) if adversarial else (None, None)
    perceptual = VGGPerceptual(s.vgg_weights) if s.vgg_weights and s.lambda_vgg else None
    if s.task == "gaugan" and perceptual is None and s.lambda_vgg:
        log("VGG perceptual loss is off: no VGG-19 weights file given (vgg_weights / --vgg-weights)")
    task = SupernetDistiller(supernet, teacher, disc, space, s.teacher_taps, s.sampling, s.seed, mode=s.mode,
                             gan_mode=s.gan_mode, lambda_gan=s.lambda_gan, lambda_recon=s.lambda_recon,
                             lambda_distill=s.lambda_distill, lambda_feat=s.lambda_feat, perceptual=perceptual,
                             lambda_vgg=s.lambda_vgg or 0.0)  # fmt: skip

    def adam():
        return keras.optimizers.Adam(learning_rate=s.lr, beta_1=s.beta1, beta_2=s.beta2)

    task.compile(g_optimizer=adam(), d_optimizer=adam())
    task.build_optimizers()
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


def _shape(settings: dict) -> tuple[int, int]:
    return settings["size"], int(round(settings["size"] * settings["aspect_ratio"]))


def extract(supernet_run: str, config, out_dir: str, images: int = 16) -> str:
    """Write ``out_dir/generator.keras``: the plain subnet of ``config`` at the run's resolution; returns the path.

    A batch-norm supernet (GauGAN, ``param_free_norm="batch"``) is first recalibrated for ``config`` on the same
    training slice the search scores on (``images`` images), so the subnet carries that configuration's statistics.
    """
    check_positive_int("images", images)
    supernet, settings = load_supernet(supernet_run)
    h, w = _shape(settings)
    with folder_lock(out_dir):
        remove_stale_temps(out_dir)
        if supernet.batch_norms():
            supernet.calibrate([x for x, _ in scoring_batches(settings, images)], config)
        subnet = extract_subnet(supernet, config, h, w, name="student")
        path = os.path.join(out_dir, "generator.keras")
        save_model(subnet, path)
    return path


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


def search(supernet_run: str, out_dir: str, budget_macs: float, oracle: str = "evolution", trials: int = 100,
           space: str | None = None, images: int = 16, objective: str | None = None, population: int = 50,
           seed: int = 0, inception_weights: str | None = None) -> list[dict]:  # fmt: skip
    """Search a trained supernet's configurations under a MACs budget; resumable (same ``out_dir`` continues).

    Args:
        supernet_run: The ``train_supernet`` run dir.
        out_dir: Where the KerasTuner state and the results (table, scatter) go.
        budget_macs: Largest MACs at the training resolution.
        oracle: ``"evolution"``, ``"random"`` or ``"bayesian"``.
        trials: Trials in total.
        space: Search space (default: the supernet's).
        images: Training images in the scoring slice.
        objective: ``"psnr"`` (paired data, default), ``"psnr_to_teacher"`` (default for unpaired data), ``"fid"``
            or ``"kid"`` (need ``inception_weights``).
        population: Evolution population.
        seed: Oracle seed.
        inception_weights: Local Inception-v3 (no top) weights file: every trial also reports FID and KID to the
            truth images of the slice.

    Returns:
        The completed trials, best first.
    """
    from tfgancomp.search.oracle import ORACLES

    if oracle not in ORACLES:
        raise ValueError(f"oracle must be one of {', '.join(ORACLES)}, got {oracle!r}")
    for what, value in (("trials", trials), ("images", images), ("population", population)):
        check_positive_int(what, value)
    check_positive_number("budget_macs", budget_macs)
    # KerasTuner's chief / worker mode shares one search folder: one lock per process role there
    role = os.environ.get("KERASTUNER_TUNER_ID")
    with folder_lock(out_dir, os.path.join(out_dir, f".lock-{role}") if role else None):
        return _search(supernet_run, out_dir, budget_macs, oracle, trials, space, images, objective, population, seed,
                       inception_weights)  # fmt: skip


def _check_search_state(project: str) -> None:
    """Read every JSON file of a search's KerasTuner state (oracle, trials) so that a damaged one is named.

    Raises:
        ValueError: naming the file that is not valid JSON (KerasTuner's own error does not name it).
    """
    if not os.path.isdir(project):
        return
    for folder, _, files in os.walk(project):
        for name in files:
            if name.endswith(".json"):
                read_json(os.path.join(folder, name))


def _search(supernet_run, out_dir, budget_macs, oracle, trials, space, images, objective, population, seed,
            inception_weights) -> list[dict]:  # fmt: skip
    from tfgancomp.metrics.quality import InceptionFeatures
    from tfgancomp.search.oracle import ORACLES
    from tfgancomp.search.tuner import SupernetTuner, write_results

    _check_search_state(os.path.join(out_dir, "search"))
    supernet, settings = load_supernet(supernet_run)
    search_space = get_space(space or settings["space"], supernet.family)
    if max(search_space.largest()) > supernet.ngf:
        raise ValueError(f"space {search_space.name!r} is wider than the supernet ({supernet.ngf})")
    h, w = _shape(settings)
    cost, reference_cost = config_cost(settings, h, w), config_cost(settings, 256, 256 * w // h)
    kwargs = {"population_size": population} if oracle == "evolution" else {}
    tuner_oracle = ORACLES[oracle](search_space, cost, budget_macs, max_trials=trials, seed=seed, **kwargs)
    run_settings = SupernetSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()})
    teacher = load_teacher(run_settings, (h, w))
    objective = objective or ("psnr_to_teacher" if settings["mode"] == "unpaired" else "psnr")
    features = InceptionFeatures(inception_weights) if inception_weights else None
    tuner = SupernetTuner(tuner_oracle, supernet, scoring_batches(settings, images), search_space, cost,
                          reference_cost, teacher, objective, directory=out_dir, project_name="search",
                          features=features)  # fmt: skip
    tuner.search(verbose=0)
    rows = tuner.results()
    write_results(rows, out_dir, budget_macs)
    return rows
