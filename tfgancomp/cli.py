"""Command line of tfgancomp. argparse lives here and nowhere else; commands call the library."""

from __future__ import annotations

import argparse
import inspect
import json
import sys

#: Listed for --help without importing TensorFlow; the registry (tfgancomp.models.ARCHITECTURES) validates.
ARCH_HELP = "resnet, mobile_resnet, sub_mobile_resnet, spade, mobile_spade, sub_mobile_spade, patchgan, multiscale"


def _add_profile(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="count MACs (published convention and exact) and parameters of an architecture",
        description="Count MACs in the convention of GAN Compression's tables, the exact MACs, and parameters.",
    )
    p.add_argument("--arch", required=True, help=f"architecture: {ARCH_HELP}")
    p.add_argument("--ngf", type=int, help="base width (ndf for discriminators)")
    p.add_argument("--n-blocks", type=int, help="residual blocks (ResNet family) or layers (discriminators)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfgancomp",
        description="GAN Compression for Keras and TensorFlow Lite.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_profile(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfgancomp`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"tfgancomp {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
