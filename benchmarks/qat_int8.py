r"""int8 after quantization-aware training vs post-training int8 on a trained edges2shapes student.

Exports the float student as float32, as post-training int8, and as int8 after quantization-aware training
(``tfgancomp export --precision int8 --qat-epochs N``, ``tfgancomp.quantize``) towards the float student's output
(``--qat-target float``) and, with ``--teacher``, with the teacher's distillation recipe (``--qat-target
teacher``); then measures on the held-out test images: PSNR of each ``.tflite`` vs the float Keras student, PSNR to
truth of each (mean of per-image PSNR) vs the float student's, and weight bytes vs the float32 export. Writes a JSON
file the README quotes.

    python benchmarks/qat_int8.py --student /tmp/search_bench/finetune --teacher /tmp/teacher_bench/run \\
        --data /tmp/teacher_bench/edges2shapes --work /tmp/qat_bench --out benchmarks/results/qat_int8.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

import numpy as np
from _results import machine, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--student", required=True)
    parser.add_argument("--teacher", help="teacher run dir: adds the --qat-target teacher leg")
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True, help="scratch folder (replaced)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--qat-epochs", type=int, default=3)
    parser.add_argument("--qat-lr", type=float, help="default: tfgancomp export's per target")
    parser.add_argument("--test-images", type=int, default=100)
    args = parser.parse_args()

    from mobile_export import metadata, run_batch
    from mobile_export.verify import psnr
    from tfgancomp.backend import tf
    from tfgancomp.cli import main as cli
    from tfgancomp.metrics.quality import psnr as per_image_psnr
    from tfgancomp.pipeline import held_out_reader, read_generator
    from tfgancomp.pipeline.export import reader_settings

    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    student = read_generator(args.student)
    reader = held_out_reader(reader_settings(student, {"size": student.inputs[0].shape[1]}, args.data, "pix2pix"))
    xs, ts = [], []
    for x, t in reader.dataset:
        xs.append(x.numpy())
        ts.append(t.numpy())
    x, truth = np.concatenate(xs)[: args.test_images], np.concatenate(ts)[: args.test_images]
    float_out = student.predict(x, batch_size=8, verbose=0)

    def to_truth(images) -> float:
        # The README's one quality definition: the mean over the held-out images of each image's PSNR.
        return float(np.mean(per_image_psnr(images, truth)))

    results = {
        "command": "python benchmarks/qat_int8.py "
        + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("work", "out") and v is not None
        ),  # fmt: skip
        "machine": machine(tf.__version__),
        "held_out_images": len(x),
        "float_keras": {"psnr_to_truth": to_truth(float_out)},
    }
    qat = ["--precision", "int8", "--qat-epochs", str(args.qat_epochs)]
    if args.qat_lr is not None:
        qat += ["--qat-lr", str(args.qat_lr)]
    runs = {"float32": [], "int8_ptq": ["--precision", "int8"], "int8_qat_float": qat}
    if args.teacher:
        runs["int8_qat_teacher"] = [*qat, "--teacher", args.teacher]
    for name, extra in runs.items():
        bundle = os.path.join(args.work, name)
        start = time.time()
        code = cli(["export", "--generator", args.student, "--data", args.data, "--out", bundle, "--min-psnr", "0",
                    *extra])  # fmt: skip
        row = {"exit": code, "seconds": round(time.time() - start, 1)}
        if code == 0:
            path = os.path.join(bundle, "model.tflite")
            out = run_batch(path, x)
            meta = metadata.read(path)
            row.update(psnr_vs_float_keras=psnr(float_out, out),
                       max_abs_vs_float_keras=float(np.abs(out - float_out).max()),
                       psnr_to_truth=to_truth(out), weight_bytes=metadata.weight_bytes(path),
                       parity_in_bundle=meta["parity"],
                       qat=meta["model"].get("quantization_aware_training"))  # fmt: skip
            row["psnr_to_truth_minus_float"] = row["psnr_to_truth"] - results["float_keras"]["psnr_to_truth"]
        results[name] = row
        print(name, row, flush=True)
    f32 = results["float32"].get("weight_bytes")
    for name in runs:
        if name != "float32" and f32 and results[name].get("weight_bytes"):
            results[name]["weight_bytes_vs_float32"] = results[name]["weight_bytes"] / f32
    write_results(args.out, results)


if __name__ == "__main__":
    main()
