r"""Every TFLite precision of one trained student, side by side: parity with Keras, held-out quality, weight bytes.

Exports the generator of a run dir (a distilled student, a supernet's largest subnet or a fine-tuned extract) with
``tfgancomp.pipeline.export_generator`` at float32, float16, dynamic, int8 and int16x8 (the calibrated ones on the
first training images — post-training quantization; QAT is not built yet), then scores each ``.tflite`` on the
whole held-out split: PSNR to truth next to the float Keras model's, parity PSNR / max |Δ| vs Keras, constant
(weight) bytes relative to float32, and the GPU-delegate verdict. Writes a JSON file that the README quotes.

    python benchmarks/export_precisions.py --generator RUN_DIR --data DATA --work /tmp/export_bench \
        --out benchmarks/results/export_precisions.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

from _results import machine, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", required=True, help="run dir (or extract folder) of the student")
    parser.add_argument("--data", required=True, help="its dataset (held-out split scored, train split calibrates)")
    parser.add_argument("--work", required=True, help="scratch folder for the bundles (replaced)")
    parser.add_argument("--out", required=True, help="results JSON file")
    parser.add_argument("--calibration-images", type=int, default=64)
    parser.add_argument("--precisions", default="float32,float16,dynamic,int8,int16x8")
    args = parser.parse_args()

    import numpy as np

    from mobile_export import metadata, run_batch
    from mobile_export.bundle import DEFAULT_MIN_PSNR
    from tfgancomp.backend import tf
    from tfgancomp.metrics.quality import psnr
    from tfgancomp.pipeline import held_out_reader
    from tfgancomp.pipeline.export import export_generator, reader_settings
    from tfgancomp.pipeline.rundir import read_run

    shutil.rmtree(args.work, ignore_errors=True)
    model, run, _ = read_run(args.generator)
    reader = held_out_reader(reader_settings(model, run, args.data, None))
    inputs, truth = (np.concatenate(a) for a in zip(*[(x.numpy(), y.numpy()) for x, y in reader.dataset], strict=True))
    keras_out = np.concatenate([model(inputs[i : i + 8], training=False).numpy() for i in range(0, len(inputs), 8)])
    keras_psnr = float(np.mean(psnr(keras_out, truth)))
    rows = {}
    for precision in args.precisions.split(","):
        out = os.path.join(args.work, precision)
        start = time.time()
        description = export_generator(args.generator, out, precision, args.data, min_psnr=0.0, images=8,
                                       calibration_images=args.calibration_images)  # fmt: skip
        seconds = time.time() - start
        content = os.path.join(out, "model.tflite")
        tflite_out = run_batch(content, inputs)
        diff = np.abs(tflite_out - keras_out)
        rows[precision] = {
            "held_out_psnr_to_truth": round(float(np.mean(psnr(tflite_out, truth))), 3),
            "held_out_psnr_vs_keras": round(float(10 * np.log10(4.0 / np.mean(diff.astype(np.float64) ** 2))), 3),
            "held_out_max_abs_vs_keras": float(diff.max()),
            "meets_default_parity": description["parity"]["psnr"] >= DEFAULT_MIN_PSNR[precision],
            "weight_bytes": metadata.weight_bytes(content),
            "file_bytes": os.path.getsize(content),
            "gpu_delegate_compatible": description["gpu_delegate"]["compatible"],
            "unsupported_ops": description["gpu_delegate"]["unsupported_ops"],
            "export_seconds": round(seconds, 1),
        }
    base = rows.get("float32", {}).get("weight_bytes")
    for row in rows.values():
        row["weight_bytes_vs_float32"] = round(row["weight_bytes"] / base, 4) if base else None
        row["psnr_to_truth_change_db"] = round(row["held_out_psnr_to_truth"] - keras_psnr, 3)
    results = {
        "command": "python benchmarks/export_precisions.py --generator RUN_DIR --data DATA "
        f"--calibration-images {args.calibration_images} --precisions {args.precisions}",
        "generator": {k: description["model"][k] for k in ("class", "config", "macs", "params", "height", "width")},
        "held_out_images": len(inputs),
        "keras_float_psnr_to_truth": round(keras_psnr, 3),
        "precisions": rows,
        "machine": machine(tf.__version__),
    }
    write_results(args.out, results)


if __name__ == "__main__":
    main()
