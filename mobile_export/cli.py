"""``tflite_benchmark``: latency of ``.tflite`` models on the host, an Android phone (adb) or a Jetson (ssh).

Examples:
    tflite_benchmark --model student/model.tflite --target host --num-threads 2 --json
    tflite_benchmark --model student/model.tflite --vs teacher/model.tflite --num-runs 100
    tflite_benchmark --model model.tflite --target android --binary ./benchmark_model --gpu --taskset f0
    tflite_benchmark --model model.tflite --target jetson --host nvidia@10.0.0.5 --gpu
    tflite_benchmark --parse phone_run.log --json
"""

from __future__ import annotations

import argparse
import json
import sys

from mobile_export.benchmark import TARGETS, BenchmarkError, BenchmarkSettings, benchmark, compare, from_log, markdown


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tflite_benchmark",
        description="Measure .tflite latency (benchmark_model's figures) on the host, over adb or over ssh.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="the .tflite model to measure")
    what.add_argument("--parse", metavar="LOG_FILE", help="read a saved benchmark_model log instead of running")
    parser.add_argument("--vs", metavar="OTHER_TFLITE", help="also run this model, alternately; report the speedup")
    parser.add_argument("--target", choices=TARGETS, default="host")
    parser.add_argument("--num-threads", type=int, default=-1, help="CPU threads (-1: the runtime's default)")
    parser.add_argument("--num-runs", type=int, default=50, help="timed inferences (default 50)")
    parser.add_argument("--warmup-runs", type=int, default=1, help="untimed inferences before them (default 1)")
    parser.add_argument("--gpu", action="store_true", help="run on the GPU (host: LiteRT's GPU accelerator)")
    parser.add_argument("--gpu-precision-loss-allowed", type=_bool, default=True, metavar="{true,false}",
                        help="let the GPU compute in float16 (default true, as benchmark_model)")  # fmt: skip
    parser.add_argument("--use-xnnpack", type=_bool, default=True, metavar="{true,false}",
                        help="the XNNPACK CPU delegate (default true)")  # fmt: skip
    parser.add_argument("--use-nnapi", action="store_true", help="Android's NNAPI delegate (android target)")
    parser.add_argument("--binary", help="android: local benchmark_model binary to push; jetson: its path on the board")
    parser.add_argument("--serial", help="android: device serial (adb -s)")
    parser.add_argument("--taskset", metavar="MASK", help="android/jetson: pin to a hex CPU mask, e.g. f0 (big cores)")
    parser.add_argument("--host", help="jetson: user@address for ssh")
    parser.add_argument("--remote-dir", help="folder on the device (default /data/local/tmp, /tmp/tflite_benchmark)")
    parser.add_argument("--remote-python", default="python3", help="jetson: Python for the LiteRT runner")
    parser.add_argument("--rounds", type=int, default=3, help="--vs on android/jetson: alternate invocations")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per subprocess call (default 600)")
    parser.add_argument("--macs", type=int, help="the model's MACs (default: from the bundle metadata)")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--markdown", action="store_true", help="print a markdown table (the default)")
    parser.add_argument("--latencies", action="store_true", help="keep every run's latency in the JSON")
    return parser


def _dict(result, keep_latencies: bool) -> dict:
    data = result.to_dict()
    if not keep_latencies:
        data.pop("latencies_ms", None)
    return data


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.parse:
            results, comparison = [from_log(args.parse, macs=args.macs)], None
        else:
            settings = BenchmarkSettings(
                num_threads=args.num_threads, num_runs=args.num_runs, warmup_runs=args.warmup_runs, gpu=args.gpu,
                gpu_precision_loss_allowed=args.gpu_precision_loss_allowed, use_xnnpack=args.use_xnnpack,
                use_nnapi=args.use_nnapi, target=args.target, binary=args.binary, serial=args.serial,
                taskset=args.taskset, host=args.host, remote_dir=args.remote_dir, remote_python=args.remote_python,
                timeout_s=args.timeout, rounds=args.rounds, macs=args.macs,
            )  # fmt: skip
            if args.vs:
                comparison = compare(args.model, args.vs, settings)
                results = [comparison.model, comparison.other]
            else:
                results, comparison = [benchmark(args.model, settings)], None
    except (BenchmarkError, ValueError) as err:
        print(f"tflite_benchmark: error: {err}", file=sys.stderr)
        return 1
    if args.json:
        if comparison is not None:
            data = comparison.to_dict()
            data["model"], data["vs"] = (_dict(r, args.latencies) for r in results)
            data["speedup"]["ratios"] = comparison.ratios if args.latencies else None
            if not args.latencies:
                data["speedup"].pop("ratios")
        else:
            data = _dict(results[0], args.latencies)
        print(json.dumps(data, indent=2))
    else:
        print(markdown(results, comparison))
    return 0


if __name__ == "__main__":
    sys.exit(main())
