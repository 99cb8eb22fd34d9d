"""From a run dir (or a saved generator) to an export bundle: what ``tfgancomp export`` does.

The glue between our run dirs / datasets and :mod:`mobile_export`, which knows nothing of them: it picks the
held-out inputs (parity, sample PNGs) and the calibration inputs (``int8`` / ``int16x8``) from the dataset, and
the figures the bundle records (MACs, params, configuration, the run's held-out quality).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from tfgancomp.pipeline.rundir import folder_lock, generator_file, read_generator, read_run
from tfgancomp.pipeline.teacher import DataSettings, held_out_reader
from tfgancomp.validation import check_choice, check_positive_int

# Appended to the parity failure of a post-training int8 export (the usual case for a trained student).
POST_TRAINING_INT8_HINT = (
    "Post-training int8 often falls below the parity threshold: train quantization-aware first with --qat-epochs N "
    "(e.g. 3, on --data; qat=QATSettings(N) in Python), or, if a lower parity is acceptable, set the threshold "
    "with --min-psnr DB"
)

#: Architecture family → the (paired) task whose reader feeds it, for a bare generator file.
_FAMILY_TASKS = {"resnet": "pix2pix", "spade": "gaugan"}


def reader_settings(model, run: dict, data: str, task: str | None) -> DataSettings:
    """The dataset settings that feed ``model`` (from its run's settings, else from its family and input shape)."""
    family = getattr(model, "family", None)
    task = task or run.get("task") or _FAMILY_TASKS.get(family)
    if task is None:
        raise ValueError(f"cannot tell which dataset layout feeds {type(model).__name__}: give the task (--task)")
    h, w = model.inputs[0].shape[1:3]
    size = run.get("size") or h
    if size is None:
        raise ValueError("the generator has a dynamic input size and no run settings: give --size")
    aspect = run.get("aspect_ratio") or (w / h if h and w else 1.0)
    label_nc = run.get("label_nc")
    instance = run.get("instance")
    if task == "gaugan" and label_nc is None:
        config = model.get_config()
        label_nc, instance = config.get("label_nc"), config.get("instance")
    return DataSettings(task, data, size, aspect, direction=run.get("direction") or "AtoB", label_nc=label_nc,
                        instance=instance)  # fmt: skip


def _take(dataset, count: int) -> np.ndarray:
    out, have = [], 0
    for x, _ in dataset:
        out.append(x.numpy())
        have += len(out[-1])
        if have >= count:
            break
    return np.concatenate(out)[:count]


#: What quantization-aware training fits the int8 student to (``QATSettings.target``).
QAT_TARGETS = ("float", "teacher")


@dataclass(frozen=True)
class QATSettings:
    """Quantization-aware training before an ``int8`` export (a distillation run with ``quantize=True``).

    Two objectives, both trained by the :class:`~tfgancomp.distill.Distiller` on the QAT copy of the student:

    - ``"float"``: the float student is the teacher. The QAT student learns to reproduce its output (L1, no GAN,
      no feature distillation), which is what an export should do: on a distilled edges2shapes student, int8
      vs the float Keras model 36.6 dB, PSNR to truth −0.04 dB (``benchmarks/results/qat_int8.json``).
    - ``"teacher"``: the task's distillation recipe with the given teacher (GAN, L1 to truth, feature
      distillation through fresh 1×1 mappings). It keeps training the student rather than preserving it: on the
      same student +0.79 dB to truth but only 24.7 dB vs the float model it started from.

    Args:
        epochs: Training epochs (≥ 1).
        teacher: The teacher run dir (or generator file); needed by, and only by, the ``"teacher"`` target.
        run_dir: Where the run goes (default: ``<out_dir>/qat_run``); running again resumes it.
        lr: Adam learning rate (linear decay over the second half); default 1e-4 (``"float"``) / 5e-5
            (``"teacher"``), the rates measured.
        batch_size: Batch size.
        target: ``"float"`` or ``"teacher"``; default ``"teacher"`` when a teacher is given, else ``"float"``.
    """

    epochs: int
    teacher: str | None = None
    run_dir: str | None = None
    lr: float | None = None
    batch_size: int = 4
    target: str | None = None

    def __post_init__(self):
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"qat epochs must be a positive integer, got {self.epochs!r}")
        target = self.target or ("teacher" if self.teacher else "float")
        check_choice("qat target", target, QAT_TARGETS)
        if target == "teacher" and not self.teacher:
            raise ValueError("quantization-aware training towards a teacher needs its run dir (--teacher)")
        if target == "float" and self.teacher:
            raise ValueError(
                f"--teacher {self.teacher} guides --qat-target teacher only; the float target's teacher is the "
                "float student itself (drop --teacher or use --qat-target teacher)"
            )
        lr = self.lr if self.lr is not None else (1e-4 if target == "float" else 5e-5)
        if not lr > 0:
            raise ValueError(f"qat lr must be > 0, got {self.lr!r}")
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "lr", float(lr))


def _quantization_aware(generator: str, data: str, qat: QATSettings, out_dir: str, seed: int, reader):
    """Train a QAT copy of the student (``reader``: the dataset settings); ``(qat model, run dir, run metrics)``."""
    from tfgancomp.pipeline.distill import DistillSettings, distill, student_architecture

    run_dir = qat.run_dir or os.path.join(out_dir, "qat_run")
    common = dict(data=data, **student_architecture(generator), student_init=generator, quantize=True,
                  epochs=qat.epochs, lr=qat.lr, batch_size=qat.batch_size, seed=seed)  # fmt: skip
    if qat.target == "teacher":
        settings = DistillSettings(teacher=qat.teacher, **common)
    else:  # the float student (its generator file) is the teacher; its output is the L1 target
        settings = DistillSettings(teacher=generator_file(generator), task=reader.task, size=reader.size,
                                   aspect_ratio=reader.aspect_ratio, direction=reader.direction,
                                   label_nc=reader.label_nc, instance=reader.instance, mode="unpaired",
                                   lambda_gan=0.0, lambda_recon=100.0, lambda_distill=0.0, lambda_feat=0.0,
                                   lambda_vgg=0.0, teacher_discriminator=False, **common)  # fmt: skip
    metrics = distill(settings, run_dir, verbose=2)
    return read_generator(run_dir, "quantization-aware generator"), run_dir, metrics


def bundle_lock_file(out_dir: str) -> str:
    """The lock file of a bundle folder: beside it (``.NAME.lock``), as the folder itself is swapped whole."""
    folder = os.path.abspath(out_dir)
    return os.path.join(os.path.dirname(folder), f".{os.path.basename(folder)}.lock")


def export_generator(generator: str, out_dir: str, precision: str = "float32", data: str | None = None,
                     uint8_io: bool = False, min_psnr: float | None = None, images: int = 8,
                     calibration_images: int = 64, task: str | None = None, seed: int = 0,
                     qat: QATSettings | None = None) -> dict:  # fmt: skip
    """Export a trained generator as a bundle (:func:`mobile_export.export_bundle`); returns ``model.json``.

    Args:
        generator: A run dir of any stage (teacher, distill, supernet's largest subnet, finetune), an ``extract``
            folder, or a ``.keras`` generator file.
        out_dir: The bundle folder.
        precision: ``float32``, ``float16``, ``dynamic``, ``int8`` or ``int16x8``.
        data: Dataset folder: parity runs on its first ``images`` held-out (test) inputs and ``int8`` /
            ``int16x8`` calibrate on its first ``calibration_images`` training inputs. Without it, parity runs
            on seeded random inputs (uniform images, or random one-hot label maps) and the calibrated precisions
            are refused.
        uint8_io: uint8 pixels in and out.
        min_psnr: Least parity PSNR (dB) vs the Keras model (default per precision).
        images: Held-out inputs for parity.
        calibration_images: Training inputs for calibration.
        task: The dataset layout for a bare generator file (default: from its family).
        seed: Seed of the random parity inputs (and of quantization-aware training).
        qat: Train quantization-aware first (``int8`` only; needs ``data``); the bundle's parity is then against
            the QAT Keras model, and ``model.json`` also records the QAT model's PSNR vs the float student.
    """
    from mobile_export.bundle import check_bundle_folder

    check_positive_int("images", images)
    check_positive_int("calibration_images", calibration_images)
    if min_psnr is not None and not (isinstance(min_psnr, (int, float)) and math.isfinite(min_psnr)):
        raise ValueError(f"min_psnr must be a finite number of dB, got {min_psnr!r}")
    check_bundle_folder(out_dir)
    with folder_lock(out_dir, bundle_lock_file(out_dir)):
        return _export(generator, out_dir, precision, data, uint8_io, min_psnr, images, calibration_images, task,
                       seed, qat)  # fmt: skip


def _export(generator, out_dir, precision, data, uint8_io, min_psnr, images, calibration_images, task, seed,
            qat) -> dict:  # fmt: skip
    from mobile_export import BundleSettings, ExportError, export_bundle
    from mobile_export.convert import CALIBRATED
    from mobile_export.verify import psnr
    from tfgancomp.data import ReaderSettings, open_split
    from tfgancomp.metrics import profile

    model, run, metrics = read_run(generator)
    settings = BundleSettings(precision, uint8_io, min_psnr)
    float_model = model
    if qat is not None:
        if precision != "int8":
            raise ValueError(f"quantization-aware training makes int8 models; got --precision {precision}")
        if data is None:
            raise ValueError("quantization-aware training trains on the dataset: give it (--data)")
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ValueError(f"{generator}: export takes a generator with one NHWC input, got {model.inputs}")
    representative = None
    if data is not None:
        s = reader_settings(model, run, data, task)
        reader = held_out_reader(s)
        if reader is None:
            raise ValueError(f"{data} has no held-out (test) split with truth for parity inputs")
        inputs, source = _take(reader.dataset, images), f"{min(images, reader.summary.used)} held-out images"
        if precision in CALIBRATED and qat is None:
            rs = ReaderSettings(s.size, None, s.aspect_ratio, flip=False, batch_size=8, shuffle=False,
                                direction=s.direction)  # fmt: skip
            train = open_split(s.task, data, rs, "train", False, s.label_nc, bool(s.instance))
            representative = [_take(train.dataset, calibration_images)]
    elif precision in CALIBRATED:
        raise ValueError(f"precision {precision!r} calibrates on real inputs: give the dataset (--data)")
    else:
        h, w, c = model.inputs[0].shape[1:]
        if h is None or w is None:
            raise ValueError(f"{generator} has a dynamic input size: give the dataset (--data) to fix it")
        rng = np.random.default_rng(seed)
        if getattr(model, "family", None) == "spade":
            inputs = np.eye(c, dtype=np.float32)[rng.integers(0, c, (images, h, w))]
        else:
            inputs = rng.uniform(-1, 1, (images, h, w, c)).astype(np.float32)
        source = f"{images} random inputs (seed {seed})"
    qat_info = None
    if qat is not None:
        model, qat_run, qat_metrics = _quantization_aware(generator, data, qat, out_dir, seed, s)
        qat_out, float_out = model(inputs, training=False).numpy(), float_model(inputs, training=False).numpy()
        teacher = os.path.abspath(qat.teacher) if qat.target == "teacher" else "the float student"
        qat_info = {"epochs": qat.epochs, "target": qat.target, "teacher": teacher, "run": os.path.abspath(qat_run),
                    "lr": qat.lr, "held_out_quality": qat_metrics.get("final"),
                    "keras_qat_vs_float_psnr": psnr(float_out, qat_out)}  # fmt: skip
    cost = profile(float_model, *inputs.shape[1:3])
    info = {
        "class": type(float_model).__name__,
        "config": float_model.get_config().get("config"),
        "macs": cost.macs,
        "params": cost.params,
        "height": cost.height,
        "width": cost.width,
        "source": os.path.abspath(generator),
        "parity_inputs": source,
        "held_out_quality": metrics.get("final"),
    }
    if qat_info is not None:
        info["quantization_aware_training"] = qat_info
    channels = "RGB"
    if getattr(float_model, "family", None) == "spade":
        config = float_model.get_config()
        channels = f"one-hot labels ({config['label_nc']})" + (" + instance edge" if config.get("instance") else "")
    reference = "the quantization-aware Keras model (fake-quant)" if qat is not None else "the Keras model (float32)"
    try:
        return export_bundle(model, out_dir, inputs, settings, representative, info, channels, reference)
    except ExportError as err:
        if precision != "int8" or qat is not None or "is not faithful" not in str(err):
            raise
        raise ExportError(f"{err}. {POST_TRAINING_INT8_HINT}") from err
