from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tfgancomp.cli import main


def test_profile_json_reproduces_the_published_sub_mobile_figures(capsys):
    argv = ["profile", "--arch", "sub_mobile_resnet", "--config", "24_24_24_32_20_16"]
    assert main(argv + ["--height", "256", "--width", "256", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"macs", "macs_exact", "params"} <= set(out)
    assert round(out["macs"] / 1e9, 2) == 2.67 and round(out["params"] / 1e6, 3) == 0.342
    assert out["reference"]["preset"] == "cyclegan-horse2zebra-compressed"


def test_profile_text_states_the_published_gaugan_figure_beside_ours(capsys):
    argv = ["profile", "--arch", "spade", "--ngf", "64", "--label-nc", "35", "--instance"]
    assert main(argv + ["--height", "256", "--width", "512"]) == 0
    out = capsys.readouterr().out
    assert "292.8" in out and "281" in out and "93.0" in out


def test_profile_per_layer(capsys):
    argv = ["profile", "--arch", "patchgan", "--ngf", "8", "--height", "64", "--width", "64"]
    assert main(argv + ["--per-layer", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sum(layer["macs"] for layer in out["layers"]) == out["macs"]


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--arch", "densenet", "--height", "256", "--width", "256"], "'densenet'"),
        (
            ["--arch", "sub_mobile_resnet", "--config", "24_24_oops", "--height", "256", "--width", "256"],
            "24_24_oops",
        ),
        (
            ["--arch", "resnet", "--height", "250", "--width", "256"],
            "250 is not divisible by the network's stride 4",
        ),
        (["--arch", "resnet", "--ngf", "-8", "--height", "256", "--width", "256"], "-8"),
        (
            ["--arch", "spade", "--config", "8_8_8_8_8_8_8_8", "--height", "256", "--width", "256"],
            "does not apply",
        ),
    ],
)
def test_bad_arguments_exit_non_zero_with_the_value_and_no_traceback(args, fragment, capsys):
    assert main(["profile", *args]) != 0
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_console_script_reports_errors_without_traceback():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfgancomp.cli",
            "profile",
            "--arch",
            "resnet",
            "--height",
            "30",
            "--width",
            "32",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    assert "30 is not divisible" in proc.stderr and "Traceback" not in proc.stderr


def test_help_lists_exactly_the_registered_architectures():
    from tfgancomp.cli import ARCH_HELP
    from tfgancomp.models import ARCHITECTURES

    assert ARCH_HELP.split(", ") == list(ARCHITECTURES)


def _options(command: str) -> dict:
    """``{dest: action}`` of one subcommand's parser."""
    from tfgancomp.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return {a.dest: a for a in sub._actions if a.dest != "help"}


def test_training_commands_take_their_flags_and_defaults_from_the_settings_fields():
    import dataclasses

    from tfgancomp import cli
    from tfgancomp.pipeline import CompressSettings, DistillSettings, SupernetSettings, TeacherSettings

    run_flags = {"out", "skip_bad_files", "strategy", "quiet", "restart"}
    for command, cls, skip, extra in (
        ("train-teacher", TeacherSettings, ("on_error",), run_flags),
        ("distill", DistillSettings, ("on_error", "quantize"), run_flags),
        ("train-supernet", SupernetSettings, cli.SUPERNET_SKIPS, run_flags),
        ("finetune", DistillSettings, cli.FINETUNE_SKIPS, run_flags | {"generator"}),
        ("compress", CompressSettings, (), {"out", "config", "quiet"}),
    ):
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
        options = _options(command)
        assert set(options) == set(fields) | extra, command
        for name, field in fields.items():
            action = options[name]
            assert action.option_strings[0] == "--" + name.replace("_", "-")
            assert action.default is None  # unset: the field's default applies (and --help states it)
            assert action.required == (field.default is dataclasses.MISSING and command != "compress"), name
            if field.default not in (dataclasses.MISSING, None) and not isinstance(field.default, (bool, tuple)):
                assert f"(default {field.default})" in action.help, (command, name)
