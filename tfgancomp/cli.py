"""Command line of tfgancomp. argparse lives here and nowhere else; commands call the library."""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys

#: The names of --strategy (tfgancomp.pipeline.distribute.STRATEGIES, which a test keeps equal).
STRATEGIES = ("default", "mirrored", "multi-worker")

#: Distillation fields that ``train-supernet`` does not take (the space decides the student).
SUPERNET_SKIPS = ("on_error", "quantize", "student_ngf", "student_config", "student_init", "init_from_teacher")
#: Distillation fields that ``finetune`` does not take (the generator decides the student).
FINETUNE_SKIPS = SUPERNET_SKIPS + ("n_blocks",)

#: Listed for --help without importing TensorFlow; the registry (tfgancomp.models.ARCHITECTURES) validates.
ARCH_HELP = (
    "resnet, mobile_resnet, sub_mobile_resnet, unet, spade, mobile_spade, sub_mobile_spade, patchgan, multiscale"
)


def _add_profile(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="count MACs (published convention and exact) and parameters of an architecture",
        description="Count MACs in the convention of GAN Compression's tables, the exact MACs, and parameters.",
    )
    p.add_argument("--arch", required=True, help=f"architecture: {ARCH_HELP}")
    p.add_argument("--ngf", type=int, help="base width (ndf for discriminators)")
    p.add_argument("--n-blocks", type=int,
                   help="residual blocks (ResNet family), downsamplings (unet) or layers (discriminators)")  # fmt: skip
    p.add_argument("--config", help="channel configuration string of a sub-mobile generator, e.g. 24_24_24_32_20_16")
    p.add_argument("--label-nc", type=int, help="label classes (SPADE family, multiscale discriminator)")
    p.add_argument("--instance", action="store_true", help="add the instance-edge channel (SPADE family)")
    p.add_argument("--input-nc", type=int, help="input channels (ResNet family, discriminators)")
    p.add_argument("--output-nc", type=int, help="output channels (generators)")
    p.add_argument("--height", type=int, required=True, help="input height")
    p.add_argument("--width", type=int, required=True, help="input width")
    p.add_argument("--per-layer", action="store_true", help="also list every layer's MACs and parameters")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_profile)


def _matching_preset(spec) -> dict | None:
    from tfgancomp.models import PRESETS, architecture

    kwargs = spec.model_kwargs()
    defaults = {k: p.default for k, p in inspect.signature(architecture(spec.arch)).parameters.items()}
    for name, entry in PRESETS.items():
        ref = {"height": entry["height"], "width": entry["width"], **entry["kwargs"]}
        same = all(kwargs.get(k, defaults.get(k)) == v for k, v in ref.items())
        if entry["arch"] == spec.arch and same and (entry["published"] or entry.get("reproducible")):
            return {"preset": name, **{k: entry[k] for k in ("published", "note")}, **(
                {"reproducible": entry["reproducible"]} if "reproducible" in entry else {})}  # fmt: skip
    return None


def _cmd_profile(args) -> int:
    from tfgancomp.metrics import ProfileSpec, profile

    spec = ProfileSpec(
        arch=args.arch,
        height=args.height,
        width=args.width,
        ngf=args.ngf,
        n_blocks=args.n_blocks,
        config=args.config,
        label_nc=args.label_nc,
        instance=args.instance,
        input_nc=args.input_nc,
        output_nc=args.output_nc,
    )
    result = profile(spec)
    out = result.to_dict(per_layer=args.per_layer)
    out["arch"] = args.arch
    reference = _matching_preset(spec)
    if reference:
        out["reference"] = reference
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{args.arch} ({result.model}) at {result.height}x{result.width}")
    print(f"  MACs (published convention): {result.macs / 1e9:10.3f} G  ({result.macs:,})")
    print(f"  MACs (exact):                {result.macs_exact / 1e9:10.3f} G  ({result.macs_exact:,})")
    print(f"  parameters:                  {result.params / 1e6:10.3f} M  ({result.params:,})")
    if reference:
        pub = reference["published"]
        figures = ", ".join(f"{k} {v / 1e9:g} G" if k == "macs" else f"{k} {v / 1e6:g} M" for k, v in pub.items())
        print(f"  published ({reference['preset']}): {figures}")
        print(f"  note: {reference['note']}")
    if args.per_layer:
        print(f"  {'layer':<48} {'type':<20} {'MACs':>16} {'exact':>16} {'params':>12}")
        for row in result.layers:
            print(f"  {row.name:<48} {row.kind:<20} {row.macs:>16,} {row.macs_exact:>16,} {row.params:>12,}")
    return 0


def _add_data(sub) -> None:
    p = sub.add_parser("data", help="dataset tools", description="Dataset tools.")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="DATA_COMMAND")
    synth = data_sub.add_parser(
        "synth",
        help="write a procedural dataset (deterministic from --seed) in a real dataset format",
        description="Write a procedural dataset whose target is a known function of its input: edges2shapes "
        "(pix2pix AB files), shapes2zebra (CycleGAN trainA/trainB/testA/testB + testA2B truth), labels2scenes "
        "(GauGAN label / instance / image folders). The same seed gives byte-identical files.",
    )
    synth.add_argument("--task", required=True, help="edges2shapes, shapes2zebra or labels2scenes")
    synth.add_argument("--out", required=True, help="new (or empty) output folder")
    synth.add_argument("--num-train", type=int, default=200, help="training images (per domain for shapes2zebra)")
    synth.add_argument("--num-test", type=int, default=20, help="test images (per domain for shapes2zebra)")
    synth.add_argument("--size", type=int, default=64, help="image side in pixels")
    synth.add_argument("--seed", type=int, default=0, help="seed of every random stream")
    synth.add_argument("--label-nc", type=int, default=8, help="label classes of labels2scenes")
    synth.set_defaults(func=_cmd_data_synth)


def _cmd_data_synth(args) -> int:
    from tfgancomp.data.synth import SynthSettings, synthesize

    settings = SynthSettings(args.task, args.num_train, args.num_test, args.size, args.seed, args.label_nc)
    description = synthesize(settings, args.out)
    print(f"wrote {args.task} to {args.out}: {args.num_train} train, {args.num_test} test, {args.size}x{args.size}")
    print(f"layout: {json.dumps(description['layout'])}")
    return 0


def _add_run_flags(p) -> None:
    """Flags of every training stage that are not settings: bad files, distribution, verbosity, restart."""
    p.add_argument("--skip-bad-files", action="store_true", help="skip and count bad data files instead of stopping")
    p.add_argument("--strategy", default="default", choices=STRATEGIES,
                   help="tf.distribute strategy: default (one device), mirrored (every GPU of this host), "
                   "multi-worker (the cluster in TF_CONFIG; start the same command on every worker)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="one line per epoch")
    p.add_argument("--restart", action="store_true",
                   help="delete this run's files in --out (checkpoints, generator, history, samples, logs, metrics, "
                   "settings) and train from scratch")  # fmt: skip


def _training_settings(cls, args, **given):
    """The settings of a training command: its flags (:func:`settings_from_args`) and ``--skip-bad-files``."""
    return settings_from_args(cls, args, on_error="skip" if args.skip_bad_files else "raise", **given)


def _add_train_teacher(sub) -> None:
    p = sub.add_parser(
        "train-teacher",
        help="train a pix2pix, CycleGAN or GauGAN teacher (resumes an interrupted run)",
        description="Train a teacher into RUN_DIR (settings.json, generator.keras, checkpoints/, samples/, logs/, "
        "metrics.json). Running the same command again resumes at the last completed epoch.",
    )
    from tfgancomp.pipeline import TeacherSettings

    p.add_argument("--out", required=True, help="run dir")
    add_settings_flags(p, TeacherSettings, skip=("on_error",))
    _add_run_flags(p)
    p.set_defaults(func=_cmd_train_teacher)


def _cmd_train_teacher(args) -> int:
    from tfgancomp.pipeline import TeacherSettings, TrainingDiverged, train_teacher

    settings = _training_settings(TeacherSettings, args)
    try:
        metrics = train_teacher(
            settings, args.out, strategy=args.strategy, verbose=2 if args.quiet else 1, restart=args.restart
        )
    except TrainingDiverged as err:
        print(f"tfgancomp train-teacher: training diverged: {err}", file=sys.stderr)
        return 1
    final = metrics.get("final")
    if final:
        before = metrics.get("untrained", {})
        print(f"held-out PSNR {final['psnr']:.2f} dB (untrained {before.get('psnr', float('nan')):.2f}), "
              f"SSIM {final['ssim']:.4f} on {final['images']} images")  # fmt: skip
    print(f"generator: {args.out}/generator.keras (tfgancomp.train.load_generator({args.out!r}))")
    return 0


def _names(text: str | None):
    return None if text is None else tuple(n.strip() for n in text.split(",") if n.strip())


def _add_distill(sub) -> None:
    p = sub.add_parser(
        "distill",
        help="distil a teacher into a narrow mobile student (resumes an interrupted run)",
        description="Train a student on GAN + reconstruction + feature distillation losses against a teacher run "
        "dir, into RUN_DIR (settings.json, generator.keras = the student, checkpoints/, samples/, logs/, "
        "metrics.json with held-out PSNR / SSIM to truth and to the teacher). Unset options come from the "
        "teacher's run and the reference defaults of its task. The same command again resumes.",
    )
    from tfgancomp.pipeline import DistillSettings

    p.add_argument("--out", required=True, help="run dir")
    add_settings_flags(p, DistillSettings, skip=("on_error", "quantize"))
    _add_run_flags(p)
    p.set_defaults(func=_cmd_distill)


def _cmd_distill(args) -> int:
    from tfgancomp.pipeline import DistillSettings

    settings = _training_settings(DistillSettings, args)
    return _run_distill(settings, args)


def _run_distill(settings, args) -> int:
    """Run a distillation (``distill`` / ``finetune``) and print its figures."""
    from tfgancomp.pipeline import TrainingDiverged, distill

    try:
        metrics = distill(
            settings, args.out, strategy=args.strategy, verbose=2 if args.quiet else 1, restart=args.restart
        )
    except TrainingDiverged as err:
        print(f"tfgancomp {args.command}: training diverged: {err}", file=sys.stderr)
        return 1
    cost = metrics.get("costs", {}).get("at_training_size")
    if cost:
        size = f"{cost['height']}x{cost['width']}"
        print(f"student {cost['student_macs'] / 1e9:.3f} G MACs, {cost['student_params'] / 1e6:.3f} M params "
              f"({cost['macs_ratio']:.1f}x fewer MACs than the teacher at {size})")  # fmt: skip
    final = metrics.get("final")
    if final:
        print(f"held-out PSNR to truth {final['psnr']:.2f} dB (teacher {metrics['teacher']['psnr']:.2f}), "
              f"to the teacher {final['psnr_to_teacher']:.2f} dB, SSIM {final['ssim']:.4f} on {final['images']} "
              "images")  # fmt: skip
    print(f"student: {args.out}/generator.keras (tfgancomp.train.load_generator({args.out!r}))")
    return 0


def _add_train_supernet(sub) -> None:
    p = sub.add_parser(
        "train-supernet",
        help="train a once-for-all supernet against a teacher (resumes an interrupted run)",
        description="Train a weight-sharing supernet over a channel search space with the distillation objective, "
        "one configuration sampled per step, into RUN_DIR (checkpoints hold the supernet; generator.keras is the "
        "largest subnet). Unset options come from the teacher's run and the reference defaults of its task.",
    )
    from tfgancomp.pipeline import SupernetSettings

    p.add_argument("--out", required=True, help="run dir")
    add_settings_flags(p, SupernetSettings, skip=SUPERNET_SKIPS)
    _add_run_flags(p)
    p.set_defaults(func=_cmd_train_supernet)


def _cmd_train_supernet(args) -> int:
    from tfgancomp.pipeline import SupernetSettings, TrainingDiverged, train_supernet

    settings = _training_settings(SupernetSettings, args)
    try:
        metrics = train_supernet(
            settings, args.out, strategy=args.strategy, verbose=2 if args.quiet else 1, restart=args.restart
        )
    except TrainingDiverged as err:
        print(f"tfgancomp train-supernet: training diverged: {err}", file=sys.stderr)
        return 1
    final = metrics.get("final")
    if final:
        print(f"largest configuration: held-out PSNR to truth {final['psnr']:.2f} dB, to the teacher "
              f"{final['psnr_to_teacher']:.2f} dB")  # fmt: skip
    print(f"supernet: {args.out}/checkpoints (tfgancomp.pipeline.load_supernet({args.out!r}))")
    return 0


def _add_extract(sub) -> None:
    p = sub.add_parser(
        "extract",
        help="extract one configuration of a trained supernet as a plain generator",
        description="Write OUT/generator.keras: a SubMobileResNetGenerator / SubMobileSPADEGenerator of CONFIG with "
        "the supernet's sliced weights (no supernet code; batch-norm statistics recalibrated for CONFIG), loadable "
        "by every later stage (finetune, export).",
    )
    p.add_argument("--supernet", required=True, help="supernet run dir")
    p.add_argument("--config", required=True, help="channel configuration, e.g. 32_24_32_16_24_32_16_24")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--images", type=int, default=16, help="training images that recalibrate batch norms (GauGAN; "
                   "the search's --images)")  # fmt: skip
    p.set_defaults(func=_cmd_extract)


def _cmd_extract(args) -> int:
    from tfgancomp.metrics import profile
    from tfgancomp.pipeline import extract, load_generator

    path = extract(args.supernet, args.config, args.out, args.images)
    subnet = load_generator(args.out)
    cost = profile(subnet)
    print(f"{subnet.config_string}: {cost.macs / 1e9:.3f} G MACs at {cost.height}x{cost.width}, "
          f"{cost.params / 1e6:.3f} M params")  # fmt: skip
    print(f"generator: {path}")
    return 0


def _add_import_torch(sub) -> None:
    from tfgancomp.pipeline.import_torch import ImportSettings

    p = sub.add_parser(
        "import-torch",
        help="import a PyTorch generator checkpoint (pix2pix / CycleGAN, GAN Compression, GauGAN) as a teacher",
        description="Read a generator's state dict (.pth / .pt with torch.load(weights_only=True), or .safetensors), "
        "recognise its architecture from the key names and shapes (--arch auto; prints what it inferred), build the "
        "Keras generator, fill it, and write OUT as a teacher run dir (generator.keras, settings.json, metrics.json) "
        "that distill, train-supernet and compress --teacher accept. Nothing is written when the checkpoint does "
        "not fit.",
    )
    p.add_argument("--out", required=True, help="run dir to write")
    add_settings_flags(p, ImportSettings)
    p.set_defaults(func=_cmd_import_torch)


def _cmd_import_torch(args) -> int:
    from tfgancomp.pipeline.import_torch import ImportSettings, import_torch

    settings = settings_from_args(ImportSettings, args)
    record = import_torch(settings, args.out)
    scores = record["metrics"].get("imported")
    if scores:
        print(f"held-out PSNR {scores['psnr']:.2f} dB, SSIM {scores['ssim']:.4f}")
    print(f"teacher run dir: {args.out} (use it as --teacher)")
    return 0


def _add_latency_table(sub) -> None:
    from tfgancomp.pipeline.latency_table import LatencyTableSettings

    p = sub.add_parser(
        "latency-table",
        help="measure a latency table of a target (host CPU / GPU, Android over adb, Jetson over ssh)",
        description="Time every stage of the mobile ResNet generator that the space's configurations use (stem, "
        "downsamplings, separable and dense residual blocks, upsamplings, head; every channel pair), each exported "
        "alone to .tflite and run with tflite_benchmark's runner on the target, plus a few whole generators for the "
        "constant and scale the stage sum leaves out. Writes OUT, a versioned JSON table naming the target, that "
        "search and compress --budget-ms --latency-table read. Run it on an otherwise idle target.",
    )
    p.add_argument("--out", required=True, help="the table file to write (.json)")
    p.add_argument("--work", help="folder for the temporary .tflite models (default: the system's temp folder)")
    p.add_argument("--quiet", action="store_true", help="no line per model timed")
    add_settings_flags(p, LatencyTableSettings)
    p.set_defaults(func=_cmd_latency_table)


def _cmd_latency_table(args) -> int:
    from tfgancomp.pipeline.latency_table import LatencyTableSettings, build_latency_table

    table = build_latency_table(settings_from_args(LatencyTableSettings, args), args.out, args.work,
                                verbose=not args.quiet)  # fmt: skip
    entries = sum(len(v) for v in table.stages.values())
    print(f"latency table: {args.out} ({entries} stage entries, whole model = {table.constant_ms:+.3f} ms + "
          f"{table.scale:.3f} × stage sum; "
          f"{table.describe()})")  # fmt: skip
    return 0


def _add_search(sub) -> None:
    p = sub.add_parser(
        "search",
        help="search a trained supernet's channel configurations under a MACs or latency budget (resumable)",
        description="Score configurations from the supernet's shared weights on a slice of the training data, "
        "proposed by a KerasTuner oracle that never exceeds the budget: MACs at the training resolution "
        "(--budget-macs), or milliseconds predicted by a latency table of the target (--budget-ms; --latency-table "
        "FILE from `tfgancomp latency-table`, default the shipped host-CPU table of the training size). Writes "
        "OUT/results.json, results.csv and scatter.png; the same command again continues the search.",
    )
    p.add_argument("--supernet", required=True, help="supernet run dir")
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--budget-macs", type=float, help="largest MACs at the training resolution")
    budget.add_argument("--budget-ms", type=float, help="largest latency predicted by the latency table, in ms")
    p.add_argument("--latency-table", help="latency table JSON of the target (predicted ms in the results too)")
    p.add_argument("--out", required=True, help="search folder (KerasTuner state and results)")
    p.add_argument("--space", help="search space (default: the supernet's)")
    p.add_argument("--oracle", default="evolution", help="evolution, random or bayesian")
    p.add_argument("--trials", type=int, default=100, help="trials in total")
    p.add_argument("--population", type=int, default=50, help="evolution population")
    p.add_argument("--images", type=int, default=16, help="training images scored per configuration")
    p.add_argument("--score", help="psnr (to truth), psnr_to_teacher (default for unpaired data), fid or kid")
    p.add_argument("--inception-weights", help="local Inception-v3 (no top) weights file: adds FID / KID")
    p.add_argument("--seed", type=int, default=0, help="oracle seed")
    p.add_argument("--quiet", action="store_true", help="one line when the search ends instead of a progress bar")
    p.set_defaults(func=_cmd_search)


def _cmd_search(args) -> int:
    from tfgancomp.pipeline import search

    rows = search(args.supernet, args.out, args.budget_macs, args.oracle, args.trials, args.space, args.images,
                  args.score, args.population, args.seed, args.inception_weights,
                  verbose=2 if args.quiet else 1, budget_ms=args.budget_ms,
                  latency_table=args.latency_table)  # fmt: skip
    best = rows[0]
    ms = f", {best['predicted_ms']:.2f} ms predicted" if "predicted_ms" in best else ""
    print(f"{len(rows)} trials; best {best['config']}: score {best['score']:.3f}, {best['macs'] / 1e9:.3f} G MACs "
          f"({best['macs_256'] / 1e9:.3f} G at 256){ms}")  # fmt: skip
    print(f"results: {args.out}/results.json, results.csv, scatter.png")
    return 0


def _field_help(cls) -> dict:
    """``{field: help}`` from the ``Args:`` sections of a settings dataclass's docstring and its bases'."""
    helps, name = {}, None
    docs = [klass.__doc__ for klass in reversed(cls.__mro__) if "Args:" in (klass.__doc__ or "")]
    lines = [line for doc in docs for line in doc.split("Args:", 1)[1].splitlines()]
    for line in lines:
        stripped = line.strip()
        head, _, rest = stripped.partition(": ")
        if line.startswith("        ") and not line.startswith("            ") and head.isidentifier() and rest:
            name = head
            helps[name] = rest.replace("``", "")
        elif name and stripped:
            helps[name] += " " + stripped.replace("``", "")
    return helps


def add_settings_flags(parser, cls, skip: tuple[str, ...] = (), config_file: bool = False) -> None:
    """One flag per field of a frozen settings dataclass: type, default and help come from the field.

    ``int`` / ``float`` / ``str`` fields (optional or not) take a value, ``bool`` fields a ``--flag`` /
    ``--no-flag`` pair, ``tuple[str, ...]`` fields a comma-separated list. Required fields (no default) are
    required flags unless the command also reads a config file (``config_file``: the file or the flag gives them).
    Unset flags stay ``None`` so that the field's default (or the config file) applies: see
    :func:`settings_from_args`.
    """
    import dataclasses

    from tfgancomp.validation import field_kinds

    helps = _field_help(cls)
    own_first = sorted(dataclasses.fields(cls), key=lambda f: f.kw_only is True)  # shared parts' fields last
    for field in own_first:
        if field.name in skip:
            continue
        flag = "--" + field.name.replace("_", "-")
        kinds = field_kinds(field)
        default = None if field.default is dataclasses.MISSING else field.default
        text = helps.get(field.name, "")
        required = field.default is dataclasses.MISSING and not config_file
        if kinds == ["bool"]:
            shown = "" if default is None else f" (default {'yes' if default else 'no'})"
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text + shown)
        elif kinds == ["list"]:
            parser.add_argument(
                flag,
                type=_names,
                required=required,
                help=f"{text} (comma-separated; default {','.join(default or ()) or 'none'})",
            )
        else:  # a field that also takes text (``1/16``) gets the text and checks it itself
            convert = {("int",): int, ("float",): float}.get(tuple(kinds), str)
            shown = "" if default is None else f" (default {default})"
            parser.add_argument(flag, type=convert, metavar=field.name.upper(), required=required, help=text + shown)


def settings_from_args(cls, args, **given):
    """A settings dataclass from the flags of :func:`add_settings_flags` and the ``given`` values.

    Unset flags leave the field's default; ``given`` holds what the command decides itself.
    """
    import dataclasses

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}
    return cls(**{**values, **given})


def _add_compress(sub) -> None:
    from tfgancomp.pipeline.compress import CompressSettings

    p = sub.add_parser(
        "compress",
        help="the whole job: teacher, supernet, search, fine-tune, export, benchmark, report (resumes)",
        description="Compress a GAN in one command: train the teacher (or take --teacher), train a once-for-all "
        "supernet, search it under the budget (--macs-ratio, default 1/16 of the teacher's MACs, or --budget-macs), "
        "extract and fine-tune the chosen subnet, export float16 and int8 (quantization-aware) bundles, benchmark "
        "them against the teacher on this host's CPU and write OUT/report.html. The same command again skips "
        "finished stages and resumes an interrupted one. Settings come from the flags, or from --config FILE "
        "(.toml, .yaml or .json, keys = the flag names with underscores); a flag overrides the file.",
    )
    p.add_argument("--out", required=True, help="the compress folder (one run dir per stage inside)")
    p.add_argument("--config", help="a .toml, .yaml / .yml or .json file of settings")
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of progress bars")
    add_settings_flags(p, CompressSettings, config_file=True)
    p.set_defaults(func=_cmd_compress)


def _cmd_compress(args) -> int:
    import dataclasses

    from tfgancomp.pipeline.compress import CompressSettings, compress, read_config, settings_from_mapping

    values = read_config(args.config) if args.config else {}
    source = args.config or "the flags"
    for field in dataclasses.fields(CompressSettings):
        flag = getattr(args, field.name, None)
        if flag is not None:
            values[field.name] = flag
    if "data" not in values:
        raise ValueError("give the dataset folder (--data, or data = ... in --config)")
    figures = compress(settings_from_mapping(values, source), args.out, verbose=2 if args.quiet else 1)
    if not figures:  # another worker of a multi-worker run: the chief writes the report
        return 0
    from tfgancomp.pipeline.report import markdown_table, table_rows

    print(markdown_table(table_rows(figures)))
    print(f"report: {os.path.join(args.out, 'report.html')}")
    return 0


def _add_finetune(sub) -> None:
    from tfgancomp.pipeline import DistillSettings

    p = sub.add_parser(
        "finetune",
        help="fine-tune an extracted subnet (or any student generator) by distillation (resumes)",
        description="Distil the teacher further into GENERATOR (an `extract` output or a student run dir): the same "
        "run dir as `distill`, with the student's architecture read from the generator and its weights as the "
        "start. Unset options come from the teacher's run and the reference defaults of its task.",
    )
    p.add_argument("--generator", required=True, help="extract folder, student run dir or generator .keras file")
    p.add_argument("--out", required=True, help="run dir")
    add_settings_flags(p, DistillSettings, skip=FINETUNE_SKIPS)
    _add_run_flags(p)
    p.set_defaults(func=_cmd_finetune)


def _cmd_finetune(args) -> int:
    from tfgancomp.pipeline import DistillSettings, student_architecture

    settings = _training_settings(DistillSettings, args, student_init=args.generator,
                                  **student_architecture(args.generator))  # fmt: skip
    return _run_distill(settings, args)


def _add_export(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a generator to TFLite as a bundle proven against Keras (parity, GPU-delegate check)",
        description="Write OUT/model.tflite (our JSON in its metadata), model.json (shapes, dtypes, ranges, "
        "precision, MACs, params, config, parity and GPU-delegate results, known quality), sample_input.png and "
        "sample_output.png. An export whose parity PSNR vs the Keras model is below --min-psnr fails and writes "
        "nothing. int8 / int16x8 are post-training, calibrated on --data, unless --qat-epochs N: then the "
        "student is first trained quantization-aware for N epochs (a distillation run in --qat-run, default "
        "OUT/qat_run) and converted from its fake-quant ranges. --qat-target float (the default without "
        "--teacher) fits it to the float student's output; --qat-target teacher (the default with --teacher) "
        "trains it with the teacher's distillation recipe.",
    )
    p.add_argument("--generator", required=True, help="run dir of any stage, extract folder or .keras file")
    p.add_argument("--precision", default="float32", help="float32, float16, dynamic, int8 or int16x8")
    p.add_argument("--out", required=True, help="bundle folder")
    p.add_argument("--data", help="dataset: held-out parity inputs, training inputs to calibrate int8 / int16x8")
    p.add_argument("--uint8-io", action="store_true", help="uint8 pixels [0, 255] in and out (no app-side scaling)")
    p.add_argument("--min-psnr", type=float, help="least parity PSNR vs Keras in dB (default per precision)")
    p.add_argument("--images", type=int, default=8, help="held-out inputs for the parity check")
    p.add_argument("--calibration-images", type=int, default=64, help="training inputs for int8 / int16x8")
    p.add_argument("--task", help="dataset layout for a bare generator file (default: from its family)")
    p.add_argument("--qat-epochs", type=int, default=0, help="quantization-aware training epochs before int8")
    p.add_argument("--qat-target", choices=("float", "teacher"),
                   help="fit the int8 student to the float student's output, or train it with --teacher's "
                   "distillation recipe (default: teacher when --teacher is given, else float)")  # fmt: skip
    p.add_argument("--teacher", help="teacher run dir for --qat-target teacher")
    p.add_argument("--qat-run", help="run dir of the quantization-aware training (default OUT/qat_run)")
    p.add_argument("--qat-lr", type=float, help="learning rate of quantization-aware training (default 1e-4 for "
                   "the float target, 5e-5 for the teacher target)")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=4, help="batch size of quantization-aware training")
    p.add_argument(
        "--android-demo",
        metavar="DIR",
        help="also install the bundle into this Android sample app's assets (e.g. android_demo)",
    )
    p.add_argument("--web-demo", metavar="DIR", help="also install the bundle into this web demo (e.g. web_demo)")
    p.add_argument("--web-name", default="compressed",
                   help="the bundle's name in the web demo: compressed (default) or teacher")  # fmt: skip
    p.set_defaults(func=_cmd_export)


def _cmd_export(args) -> int:
    from mobile_export import ExportError, android_assets, web_assets
    from tfgancomp.pipeline import QATSettings, export_generator

    try:  # the app folders are checked before any work
        if args.android_demo and not os.path.isfile(os.path.join(args.android_demo, android_assets.APP_MARKER)):
            raise ValueError(f"{args.android_demo}: not the Android demo app (no {android_assets.APP_MARKER})")
        if args.web_demo:
            web_assets.read_index(args.web_demo)
    except ValueError as err:
        print(f"tfgancomp export: {err}", file=sys.stderr)
        return 2
    try:
        description = export_generator(args.generator, args.out, args.precision, args.data, args.uint8_io,
                                       args.min_psnr, args.images, args.calibration_images, args.task,
                                       qat=QATSettings(args.qat_epochs, args.teacher, args.qat_run, args.qat_lr,
                                                       args.batch_size, args.qat_target)
                                       if args.qat_epochs else None)  # fmt: skip
    except ExportError as err:
        print(f"tfgancomp export: {err}", file=sys.stderr)
        return 1
    par, gpu, info = description["parity"], description["gpu_delegate"], description["model"]
    print(f"{args.precision}: parity vs Keras PSNR {par['psnr']:.2f} dB, max |Δ| {par['max_abs']:.3g} on "
          f"{info['parity_inputs']}; GPU delegate: {'fully compatible' if gpu['compatible'] else 'NOT compatible'}"
          + (f" (unsupported: {', '.join(gpu['unsupported_ops'])})" if gpu["unsupported_ops"] else ""))  # fmt: skip
    print(f"bundle: {args.out}/model.tflite, model.json, sample_input.png, sample_output.png")
    return _install_in_apps(args)


def _install_in_apps(args) -> int:
    """``--android-demo`` / ``--web-demo``: copy the new bundle into the sample apps (exit 1 with one line if not)."""
    from mobile_export import android_assets, web_assets

    try:
        if args.android_demo:
            written = android_assets.install_bundle(args.out, args.android_demo)
            print(f"android demo: {len(written)} files in {os.path.join(args.android_demo, 'app/src/main/assets')}")
        if args.web_demo:
            written = web_assets.install_bundle(args.out, args.web_demo, args.web_name)
            print(f"web demo: {args.web_name} bundle installed in {args.web_demo} ({len(written)} files); "
                  "rebuild the page with `make web-demo`")  # fmt: skip
    except (ValueError, OSError) as err:
        print(f"tfgancomp export: {err}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfgancomp",
        description="GAN Compression for Keras and TensorFlow Lite.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_profile(sub)
    _add_data(sub)
    _add_train_teacher(sub)
    _add_import_torch(sub)
    _add_distill(sub)
    _add_train_supernet(sub)
    _add_search(sub)
    _add_latency_table(sub)
    _add_extract(sub)
    _add_finetune(sub)
    _add_export(sub)
    _add_compress(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfgancomp`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"tfgancomp {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # a file the command reads or writes: name it and the problem, no traceback
        where = f"{err.filename}: " if err.filename else ""
        print(f"tfgancomp {args.command}: error: {where}{err.strerror or _one_line(err)}", file=sys.stderr)
        return 1
    except Exception as err:
        if not _expected(err):
            raise
        print(f"tfgancomp {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 1


def _expected(err: Exception) -> bool:
    """A folder in use, a file TensorFlow could not read or write, or a target that could not time a model.

    (Their modules are loaded if they raised.)
    """
    rundir = sys.modules.get("tfgancomp.pipeline.rundir")
    errors = sys.modules.get("tensorflow.python.framework.errors_impl")
    bench = sys.modules.get("mobile_export.benchmark")
    return (rundir is not None and isinstance(err, rundir.RunDirInUse)) or (
        errors is not None and isinstance(err, errors.OpError)) or (
        bench is not None and isinstance(err, bench.BenchmarkError))  # fmt: skip


def _one_line(err: BaseException) -> str:
    """An exception's message on one line (TensorFlow's carry several)."""
    text = getattr(err, "message", None) or str(err) or type(err).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
