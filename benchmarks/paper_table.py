r"""GAN Compression's main table on the embedded datasets: a converged teacher, then `compress`, per task.

    python benchmarks/paper_table.py --task pix2pix --work /tmp/paper/pix2pix \
        --out benchmarks/results/paper_table_pix2pix.json --ablation

For one task (pix2pix on edges2shapes, CycleGAN on shapes2zebra, GauGAN on labels2scenes) it writes the dataset,
trains the teacher with its held-out learning curve (PSNR / SSIM to truth after every epoch, ``eval_every=1``),
checks that the curve has plateaued (the last fifth of the epochs changes PSNR by less than ``--plateau-db``
either way), then runs ``tfgancomp compress`` with that teacher (supernet, search under the MACs budget, extract,
fine-tune, float16 export and host benchmark) and scores the compressed generator on the same 100 held-out images.
With ``--ablation`` the chosen configuration is also trained from scratch without distillation and from scratch
with distillation, each for the supernet's plus the fine-tuning's epochs: the same number of steps as the method.

Every stage resumes: the same command again skips what is finished (delete ``--work`` to start over).
``--compress-name`` compresses the same teacher again into another folder of ``--work`` (e.g. with another
``--distill-norm``). The results file holds the settings, the teacher's curve, both rows of the table (and, for
pix2pix and CycleGAN, the held-out inputs scored as outputs: what copying the input scores), the targets
and whether each is met (the PSNR target counts only with ``met.teacher_converged``: it is relative to a converged
teacher), and the seconds of each stage (the compression's: supernet + search + extract + fine-tune, the teacher
excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _results import machine, write_results  # noqa: E402

DATASETS = {"pix2pix": "edges2shapes", "cyclegan": "shapes2zebra", "gaugan": "labels2scenes"}
#: (MACs ratio at least, PSNR drop at most in dB) of issue 18, per task.
TARGETS = {"pix2pix": (20.0, 0.5), "cyclegan": (20.0, 0.5), "gaugan": (8.0, 0.5)}
COMPRESSION_STAGES = ("supernet", "search", "extract", "finetune")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(DATASETS), required=True)
    parser.add_argument("--work", required=True, help="scratch folder: dataset, teacher, compress and ablation runs")
    parser.add_argument("--out", required=True, help="results JSON file")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--num-train", type=int, default=300)
    parser.add_argument("--num-test", type=int, default=100)
    parser.add_argument("--label-nc", type=int, default=8, help="GauGAN label classes")
    parser.add_argument("--teacher-ngf", type=int, default=64)
    parser.add_argument("--teacher-ndf", type=int, default=64)
    parser.add_argument("--teacher-blocks", type=int, default=9)
    parser.add_argument(
        "--teacher-n-layers-d",
        type=int,
        default=None,
        help="stride-2 layers of the teacher's discriminator (train-teacher --n-layers-d; default the reference's); "
        "the students' discriminator takes the teacher's",
    )
    parser.add_argument("--teacher-epochs", type=int, default=30)
    parser.add_argument("--plateau-db", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--space", default=None, help="search space name or JSON (default: compress's derived one)")
    parser.add_argument("--macs-ratio", default="1/20")
    parser.add_argument(
        "--sampling",
        default="uniform",
        choices=("uniform", "sandwich"),
        help="supernet sampling (compress --sampling; default: compress's, uniform)",
    )
    parser.add_argument("--supernet-epochs", type=int, default=20)
    parser.add_argument("--finetune-epochs", type=int, default=30)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--search-images", type=int, default=16)
    parser.add_argument("--cache-teacher", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--distill-norm",
        choices=("none", "teacher"),
        default=None,
        help="compress --distill-norm (default: the task's)",
    )
    parser.add_argument(
        "--lambda-gan",
        type=float,
        default=None,
        help="compress --lambda-gan, also the ablation's adversarial weight (default: the task's)",
    )
    parser.add_argument(
        "--compress-name",
        default="compress",
        help="the compress run's folder in --work (another name compresses the same teacher again)",
    )
    parser.add_argument(
        "--teacher-discriminator",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start the students' discriminator from the teacher's (compress --teacher-discriminator)",
    )
    parser.add_argument("--ablation", action="store_true", help="also train the chosen configuration from scratch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from tfgancomp.backend import tf
    from tfgancomp.data import SynthSettings, synthesize
    from tfgancomp.data.synth import VERSION
    from tfgancomp.pipeline import CompressSettings, TeacherSettings, compress, train_teacher

    os.makedirs(args.work, exist_ok=True)
    data = os.path.join(args.work, DATASETS[args.task])
    description = os.path.join(data, "dataset.json")
    if os.path.isfile(description) and json.load(open(description)).get("version") != VERSION:
        raise SystemExit(f"{data} was drawn by another version of the generator than {VERSION}: use a new --work")
    if not os.path.isfile(description):
        extra = {"label_nc": args.label_nc} if args.task == "gaugan" else {}
        synthesize(SynthSettings(DATASETS[args.task], args.num_train, args.num_test, args.size, args.seed, **extra),
                   data)  # fmt: skip

    teacher_dir = os.path.join(args.work, "teacher")
    teacher_kw = {} if args.task == "gaugan" else {"n_blocks": args.teacher_blocks}
    teacher = TeacherSettings(args.task, data, ngf=args.teacher_ngf, ndf=args.teacher_ndf,
                              n_layers_d=args.teacher_n_layers_d, size=args.size,
                              epochs=args.teacher_epochs, decay_epochs=args.teacher_epochs // 2,
                              batch_size=args.batch_size, eval_every=1, seed=args.seed, **teacher_kw)  # fmt: skip
    teacher_metrics = train_teacher(teacher, teacher_dir, verbose=2)
    curve = _curve(teacher_dir)

    out = os.path.join(args.work, args.compress_name)
    settings = CompressSettings(data, task=args.task, teacher=teacher_dir, batch_size=args.batch_size,
                                macs_ratio=args.macs_ratio, space=args.space, sampling=args.sampling,
                                supernet_epochs=args.supernet_epochs, trials=args.trials, population=args.population,
                                search_images=args.search_images, finetune_epochs=args.finetune_epochs,
                                precisions=("float16",), qat_epochs=0, benchmark_runs=10,
                                teacher_discriminator=args.teacher_discriminator, cache_teacher=args.cache_teacher,
                                distill_norm=args.distill_norm, lambda_gan=args.lambda_gan,
                                eval_every=5, seed=args.seed)  # fmt: skip
    compress(settings, out, verbose=2)
    stages = json.load(open(os.path.join(out, "stages.json")))
    report = json.load(open(os.path.join(out, "report.json")))
    finetune = json.load(open(os.path.join(out, "finetune", "metrics.json")))
    chosen = stages["search"]["config"]

    teacher_scores = teacher_metrics["final"]
    student_scores = finetune["final"]
    cost = finetune["costs"]["at_training_size"]
    ratio = cost["teacher_macs"] / cost["student_macs"]
    drop = teacher_scores["psnr"] - student_scores["psnr"]
    min_ratio, max_drop = TARGETS[args.task]
    compression_seconds = sum(stages[k]["seconds"] for k in COMPRESSION_STAGES)
    rows = {
        "teacher": {"architecture": _architecture(args), "macs": cost["teacher_macs"],
                    "params": cost["teacher_params"], "psnr": teacher_scores["psnr"], "ssim": teacher_scores["ssim"]},
        "compressed": {"config": chosen, "macs": cost["student_macs"], "params": cost["student_params"],
                       "psnr": student_scores["psnr"], "ssim": student_scores["ssim"],
                       "psnr_to_teacher": student_scores["psnr_to_teacher"],
                       "float16_tflite": {k: report["models"]["float16"].get(k) for k in
                                          ("psnr", "ssim", "median_ms", "speedup", "file_bytes")},
                       "teacher_float16_tflite_ms": report["models"]["teacher_float16"].get("median_ms")},
        "input_as_output": _input_scores(teacher),
        "macs_ratio": round(ratio, 2),
        "psnr_change_db": round(-drop, 3),
        "ssim_change": round(student_scores["ssim"] - teacher_scores["ssim"], 4),
    }  # fmt: skip

    results = {
        "command": "python benchmarks/paper_table.py " + " ".join(_flags(args)),
        "task": args.task,
        "dataset": {"name": DATASETS[args.task], "size": args.size, "train": args.num_train,
                    "held_out": teacher_scores["images"]},  # fmt: skip
        "teacher_curve": curve,
        "teacher_plateau": _plateau(curve, args.plateau_db),
        "teacher_train_seconds": teacher_metrics["train_seconds"],
        "table": rows,
        "compression_seconds": round(compression_seconds, 1),
        "stage_seconds": {k: v["seconds"] for k, v in stages.items()},
        "compress_settings": {k: v for k, v in json.load(open(os.path.join(out, "settings.json"))).items()
                              if k not in ("data", "teacher")},
        "curves": {k: _curve(os.path.join(out, k)) for k in ("supernet", "finetune")},
        "teacher_cache": finetune.get("teacher_cache"),
        "targets": {"macs_ratio_at_least": min_ratio, "psnr_drop_db_at_most": max_drop,
                    "compression_seconds_at_most": 5400, "teacher_last_fifth_gain_db_below": args.plateau_db},
        "met": {"macs_ratio": ratio >= min_ratio, "psnr": drop <= max_drop, "time": compression_seconds <= 5400},
        "machine": machine(tf.__version__),
    }  # fmt: skip
    results["met"]["teacher_converged"] = results["teacher_plateau"]["plateaued"]
    if args.ablation:
        results["ablation"] = _ablation(args, data, teacher_dir, out, chosen, rows["compressed"])
    write_results(args.out, results)


def _architecture(args) -> str:
    if args.task == "gaugan":
        return f"SPADE, ngf {args.teacher_ngf}"
    return f"ResNet {args.teacher_blocks} blocks, ngf {args.teacher_ngf}"


def _input_scores(teacher_settings) -> dict | None:
    """The held-out inputs themselves scored against the truth: what copying the input scores (a floor for the task).

    ``None`` for GauGAN, whose input is a label map.
    """
    if teacher_settings.task == "gaugan":
        return None
    from tfgancomp.metrics.quality import paired_scores
    from tfgancomp.pipeline.teacher import held_out_reader

    scores = paired_scores(lambda inputs: inputs, held_out_reader(teacher_settings).dataset)
    return {"psnr": round(scores["psnr"], 3), "ssim": round(scores["ssim"], 4), "images": scores["images"]}


def _curve(run_dir: str) -> list[dict]:
    """``[{epoch, psnr, ssim, seconds}]`` from a run's ``history.json`` (the epochs scored on held-out data)."""
    history = json.load(open(os.path.join(run_dir, "history.json")))
    return [{"epoch": h["epoch"], "psnr": round(h["held_out_psnr"], 3), "ssim": round(h["held_out_ssim"], 4),
             "seconds": h["seconds"]} for h in history if "held_out_psnr" in h]  # fmt: skip


def _plateau(curve: list[dict], limit_db: float) -> dict:
    """The change over the last fifth of the epochs: PSNR after the last epoch minus PSNR before that fifth began.

    Plateaued when it is under ``limit_db`` either way: a curve that falls by more has not settled either.
    ``last_fifth_range_db`` (highest minus lowest PSNR from the epoch before the fifth to the last) shows how
    much the curve still swings.
    """
    epochs = len(curve)
    if epochs < 5:
        return {"epochs": epochs, "plateaued": False, "why": "fewer than 5 scored epochs"}
    fifth = epochs // 5
    before, last = curve[epochs - fifth - 1]["psnr"], curve[-1]["psnr"]
    tail = [c["psnr"] for c in curve[epochs - fifth - 1 :]]
    return {"epochs": epochs, "last_fifth_epochs": fifth, "psnr_before": before, "psnr_last": last,
            "gain_db": round(last - before, 3), "last_fifth_range_db": round(max(tail) - min(tail), 3),
            "best_psnr": max(c["psnr"] for c in curve), "plateaued": abs(last - before) < limit_db}  # fmt: skip


def _ablation(args, data: str, teacher_dir: str, out: str, config: str, method: dict) -> dict:
    """The chosen configuration trained from scratch (without, then with distillation), at the method's steps.

    Both runs use the method's adversarial weight (``--lambda-gan``); a ``--compress-name`` other than
    ``compress`` prefixes their folders, so that another recipe never resumes the default's runs.
    """
    from tfgancomp.pipeline import DistillSettings, distill

    epochs = args.supernet_epochs + args.finetune_epochs
    rows = {}
    for name, extra in (("scratch_no_distillation", {"lambda_distill": 0.0, "teacher_discriminator": False}),
                        ("scratch_distillation", {"teacher_discriminator": args.teacher_discriminator})):  # fmt: skip
        extra = {**extra, "lambda_gan": args.lambda_gan}
        folder = name if args.compress_name == "compress" else f"{args.compress_name}_{name}"
        run = os.path.join(args.work, folder)
        settings = DistillSettings(teacher_dir, data, student_config=config, epochs=epochs, decay_epochs=epochs // 2,
                                   batch_size=args.batch_size, cache_teacher=args.cache_teacher, eval_every=5,
                                   distill_norm=args.distill_norm, seed=args.seed, **extra)  # fmt: skip
        metrics = distill(settings, run, verbose=2)
        final = metrics["final"]
        rows[name] = {"epochs": epochs, "psnr": final["psnr"], "ssim": final["ssim"],
                      "psnr_to_teacher": final["psnr_to_teacher"], "train_seconds": metrics["train_seconds"],
                      "curve": _curve(run), "settings": {k: extra.get(k) for k in extra}}  # fmt: skip
    rows["supernet_finetune"] = {
        "epochs": epochs,
        "psnr": method["psnr"],
        "ssim": method["ssim"],
        "psnr_to_teacher": method["psnr_to_teacher"],
        "epochs_split": {"supernet": args.supernet_epochs, "finetune": args.finetune_epochs},
    }
    return {"config": config, "steps_each": epochs * (args.num_train // args.batch_size), "rows": rows}


def _flags(args) -> list[str]:
    flags = []
    for key, value in vars(args).items():
        if key in ("work", "out") or value is None or (value is False and key == "ablation"):
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            flags += [flag, str(value)]
    return flags


if __name__ == "__main__":
    main()
