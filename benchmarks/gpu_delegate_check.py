"""Run every generator family's TFLite export on a real GPU through LiteRT's GPU accelerator.

Two steps, because the GPU machine has no TensorFlow:

1. ``python benchmarks/gpu_delegate_check.py make DIR [GENERATOR DATA]`` (here, with TensorFlow): builds each
   generator family in a small configuration, exports float32 and float16 ``.tflite`` files, and saves a random
   input with the Keras model's output beside each. With a trained ``GENERATOR`` (run dir) and its dataset it also
   exports that generator at every precision (int8 / int16x8 calibrated on the dataset) with a held-out input.
2. ``python benchmarks/gpu_delegate_check.py run DIR OUT.json`` (on a machine with a GPU and Vulkan driver;
   needs only ``ai_edge_litert`` and ``numpy``): loads each model with ``HardwareAccelerator.GPU``, records
   whether LiteRT placed every op on the GPU (``is_fully_accelerated``), runs it, and compares the output with
   Keras's (the GPU computes in fp16, so differences of ~1e-3 are expected) and with the CPU interpreter's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

CASES = {
    "resnet": ("resnet", {"ngf": 16, "n_blocks": 9}, (128, 128)),
    "mobile_resnet": ("mobile_resnet", {"ngf": 16, "n_blocks": 9}, (128, 128)),
    "sub_mobile_resnet": ("sub_mobile_resnet", {"config": "24_24_24_32_20_16"}, (256, 256)),
    "spade": ("spade", {"ngf": 8, "label_nc": 8, "instance": True, "nhidden": 32}, (128, 256)),
    "mobile_spade": ("mobile_spade", {"ngf": 8, "label_nc": 8, "instance": True}, (128, 256)),
    "sub_mobile_spade": ("sub_mobile_spade", {"config": "8_8_8_8_8_8_8_8", "label_nc": 8, "instance": True},
                         (128, 256)),
}  # fmt: skip


def _trained(out_dir: Path, generator: str, data: str, manifest: dict) -> None:
    from mobile_export import gpu_compatibility, to_tflite
    from mobile_export.convert import CALIBRATED
    from tfgancomp.data import ReaderSettings, open_split
    from tfgancomp.pipeline import held_out_reader
    from tfgancomp.pipeline.export import reader_settings
    from tfgancomp.pipeline.rundir import read_run

    model, run_settings, _ = read_run(generator)
    s = reader_settings(model, run_settings, data, None)
    x = next(iter(held_out_reader(s).dataset))[0].numpy()[:1]
    rs = ReaderSettings(s.size, None, s.aspect_ratio, flip=False, batch_size=8, shuffle=False)
    train = open_split(s.task, data, rs, "train", False, s.label_nc, bool(s.instance))
    calibration = [b.numpy() for b, _ in train.dataset.take(8)]
    np.save(out_dir / "trained_input.npy", x)
    np.save(out_dir / "trained_keras.npy", np.asarray(model(x, training=False)))
    for precision in ("float32", "float16", "dynamic", "int8", "int16x8"):
        name = f"trained_{precision}.tflite"
        content = to_tflite(model, precision, tuple(x.shape[1:3]),
                            representative_data=calibration if precision in CALIBRATED else None)  # fmt: skip
        (out_dir / name).write_bytes(content)
        manifest[name] = {"case": "trained", "arch": type(model).__name__, "kwargs": {"generator": generator},
                          "size": list(x.shape[1:3]), "precision": precision,
                          "analyzer_gpu_compatible": gpu_compatibility(content).compatible}  # fmt: skip


def make(out_dir: Path, generator: str | None = None, data: str | None = None) -> None:
    from mobile_export import gpu_compatibility, to_tflite
    from tfgancomp.models import build_model

    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    manifest = {}
    if generator is not None:
        _trained(out_dir, generator, data, manifest)
    for key, (arch, kwargs, (h, w)) in CASES.items():
        model = build_model(arch, height=h, width=w, **kwargs)
        x = rng.uniform(-1, 1, (1, h, w, model.inputs[0].shape[-1])).astype(np.float32)
        np.save(out_dir / f"{key}_input.npy", x)
        np.save(out_dir / f"{key}_keras.npy", np.asarray(model(x, training=False)))
        for precision in ("float32", "float16"):
            name = f"{key}_{precision}.tflite"
            content = to_tflite(model, precision=precision)
            (out_dir / name).write_bytes(content)
            manifest[name] = {
                "case": key,
                "arch": arch,
                "kwargs": kwargs,
                "size": [h, w],
                "precision": precision,
                "analyzer_gpu_compatible": gpu_compatibility(content).compatible,
            }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))


def run(model_dir: Path, out_file: Path) -> None:
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.interpreter import Interpreter

    manifest = json.loads((model_dir / "manifest.json").read_text())
    results = []
    for name, info in manifest.items():
        path = model_dir / name
        x = np.load(model_dir / f"{info['case']}_input.npy")
        keras_out = np.load(model_dir / f"{info['case']}_keras.npy")
        row = dict(info, model=name)
        try:
            model = CompiledModel.from_file(str(path), hardware_accel=HardwareAccelerator.GPU)
            row["fully_accelerated"] = bool(model.is_fully_accelerated())
            inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
            inputs[0].write(x)
            times = []
            for _ in range(6):
                start = time.perf_counter()
                model.run_by_index(0, inputs, outputs)
                times.append(time.perf_counter() - start)
            gpu_out = np.asarray(outputs[0].read(keras_out.size, np.float32)).reshape(keras_out.shape)
            row["gpu_vs_keras_max_abs"] = float(np.abs(gpu_out - keras_out).max())
            row["gpu_median_ms_after_first"] = float(np.median(times[1:]) * 1e3)
        except Exception as err:  # report, keep checking the other models
            row["gpu_error"] = f"{type(err).__name__}: {err}"
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        cpu_out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        row["cpu_vs_keras_max_abs"] = float(np.abs(cpu_out - keras_out).max())
        results.append(row)
        print(json.dumps(row), flush=True)
    out_file.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "make":
        make(Path(sys.argv[2]), *sys.argv[3:5])
    elif len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit("usage: gpu_delegate_check.py make DIR | run DIR OUT.json")
