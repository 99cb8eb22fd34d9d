"""The stages, each a resumable command over a self-describing run dir: the only code that knows run dirs.

One module per stage — :mod:`~tfgancomp.pipeline.teacher`, :mod:`~tfgancomp.pipeline.distill` (distillation and
fine-tuning), :mod:`~tfgancomp.pipeline.supernet`, :mod:`~tfgancomp.pipeline.search`,
:mod:`~tfgancomp.pipeline.extract`, :mod:`~tfgancomp.pipeline.export` (quantization-aware training and the
bundle), :mod:`~tfgancomp.pipeline.latency_table` (a target's latency table), :mod:`~tfgancomp.pipeline.compress`
(all of them in one command) with its :mod:`~tfgancomp.pipeline.report` — over :mod:`~tfgancomp.pipeline.rundir`
(settings JSON, generator files, metrics, samples, resume, locks, atomic writes). ``train/``, ``distill/`` and
``search/`` hold the algorithms and never import this package.
"""

from tfgancomp.pipeline.compress import CompressSettings, compress
from tfgancomp.pipeline.distill import DistillSettings, distill, evaluate_student, student_architecture
from tfgancomp.pipeline.export import QATSettings, export_generator
from tfgancomp.pipeline.extract import extract
from tfgancomp.pipeline.latency_table import LatencyTableSettings, build_latency_table
from tfgancomp.pipeline.rundir import RunDirInUse, TrainingDiverged, load_generator, read_generator
from tfgancomp.pipeline.search import search
from tfgancomp.pipeline.supernet import SupernetSettings, load_supernet, train_supernet
from tfgancomp.pipeline.teacher import TeacherSettings, evaluate, held_out_reader, train_teacher

__all__ = [
    "CompressSettings",
    "DistillSettings",
    "LatencyTableSettings",
    "QATSettings",
    "RunDirInUse",
    "SupernetSettings",
    "TeacherSettings",
    "TrainingDiverged",
    "build_latency_table",
    "compress",
    "distill",
    "evaluate",
    "evaluate_student",
    "export_generator",
    "extract",
    "held_out_reader",
    "load_generator",
    "load_supernet",
    "read_generator",
    "search",
    "student_architecture",
    "train_supernet",
    "train_teacher",
]
