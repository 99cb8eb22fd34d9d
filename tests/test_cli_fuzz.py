"""A fuzz of the whole ``tfgancomp`` argument surface: no argument combination ends in a traceback.

Every option of every command is read from the parser itself (a new option is fuzzed without touching this file)
and given values from its kind: numbers around the edges (0, negatives, NaN, inf), strings from the vocabulary of
the options plus arbitrary text, and paths that are missing, a regular file, an empty folder, a tiny dataset or a
tiny generator file. A command may succeed or fail with one line on stderr; any other exception is a finding.

Training loops are replaced by a no-op (``ResumableRun.fit``): everything up to the first step — settings, data,
models, run dirs, locks — runs for real, and no example trains for long. The suite runs a fixed, derandomized set of
examples per command; ``TFGANCOMP_FUZZ_EXAMPLES=200`` runs a longer random search.
"""

from __future__ import annotations

import argparse
import math
import os
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfgancomp.cli import build_parser, main
from tfgancomp.data import SynthSettings, synthesize
from tfgancomp.models import ResNetGenerator
from tfgancomp.pipeline.rundir import ResumableRun

EXAMPLES = int(os.environ.get("TFGANCOMP_FUZZ_EXAMPLES", "0"))
WORDS = ["", "x", "pix2pix", "cyclegan", "gaugan", "AtoB", "BtoA", "4_4_4_4_4_4_4_4", "8_8", "a,b", "float16",
         "int8", "dynamic", "evolution", "random", "psnr", "fid", "uniform", "sandwich", "channels-32", "paired",
         "hinge", "resnet", "sub_mobile_spade", "edges2shapes", "-1", "🙂"]  # fmt: skip
INTS = [-1, 0, 1, 2, 3, 4, 8, 32]
FLOATS = [math.nan, math.inf, -math.inf, -1.0, 0.0, 1e-4, 0.5, 1.0, 100.0, 1e12]
PATH_OPTIONS = {"data", "teacher", "generator", "supernet", "student_init", "vgg_weights", "inception_weights",
                "qat_run", "android_demo", "web_demo", "out"}  # fmt: skip


def _commands() -> dict[str, argparse.ArgumentParser]:
    found = {}

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
        if prefix and not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions):
            found[" ".join(prefix)] = parser

    walk(build_parser(), [])
    return found


COMMANDS = _commands()


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    data = str(root / "e2s")
    synthesize(SynthSettings("edges2shapes", num_train=2, num_test=2, size=32, seed=2), data)
    generator = str(root / "generator.keras")
    ResNetGenerator(ngf=2, n_blocks=1, height=32, width=32).save(generator)
    teacher = str(root / "teacher")
    assert main(["train-teacher", "--task", "pix2pix", "--data", data, "--out", teacher, "--ngf", "4", "--ndf", "4",
                 "--n-blocks", "2", "--size", "32", "--epochs", "1", "--batch-size", "2", "--num-samples", "2",
                 "--quiet"]) == 0  # fmt: skip
    supernet = str(root / "supernet")
    assert main(["train-supernet", "--teacher", teacher, "--data", data, "--space", "channels-32", "--out", supernet,
                 "--epochs", "1", "--batch-size", "2", "--num-samples", "2", "--quiet"]) == 0  # fmt: skip
    subnet = str(root / "subnet")
    assert main(["extract", "--supernet", supernet, "--config", "4_4_4_4_4_4_4_4", "--out", subnet]) == 0
    (root / "a_file.txt").write_text("not what any option expects")
    (root / "empty").mkdir()
    return {"data": data, "generator": generator, "teacher": teacher, "supernet": supernet, "subnet": subnet,
            "file": str(root / "a_file.txt"), "empty": str(root / "empty"), "missing": str(root / "missing" / "x"),
            "root": root}  # fmt: skip


#: A value that works for the options where the type's default (int 2, float 1.0) does not: an option takes its
#: working value three times in four, so that most examples get past the first check and reach the data, the
#: models, the run dirs and the converters with one or two bad values.
GOOD = {"task": "pix2pix", "ngf": "4", "ndf": "4", "size": "32", "epochs": "1", "student_ngf": "4",
        "student_config": "4_4_4_4_4_4_4_4", "config": "4_4_4_4_4_4_4_4", "space": "channels-32", "budget_macs": "1e9",
        "precision": "float32", "arch": "resnet", "height": "32", "width": "32", "lr": "0.0002", "min_psnr": "20",
        "gan_mode": "lsgan", "oracle": "evolution", "sampling": "uniform", "mode": "paired", "direction": "AtoB",
        "score": "psnr", "qat_target": "float", "web_name": "teacher", "load_size": "36", "beta1": "0.5",
        "label_nc": "4", "seed": "0"}  # fmt: skip
GOOD_PATHS = {"data": "data", "teacher": "teacher", "generator": "subnet", "student_init": "subnet",
              "supernet": "supernet"}  # fmt: skip
#: Per command, where its working value differs.
GOOD_FOR = {"data synth": {"task": "edges2shapes", "size": "32"}}


def _value(draw, action, places, out, command):
    dest = action.dest
    good = places.get(GOOD_PATHS[dest]) if dest in GOOD_PATHS else GOOD_FOR.get(command, GOOD).get(dest, GOOD.get(dest))
    if good is None and dest not in PATH_OPTIONS:
        good = {int: "2", float: "1.0"}.get(action.type)
    if dest == "out":
        good = out
    if good is not None and draw(st.integers(0, 3)) > 0:
        return good
    if dest == "out":
        return draw(st.sampled_from([out, places["file"], places["empty"]]))
    if dest in PATH_OPTIONS:
        names = ["data", "generator", "teacher", "supernet", "subnet", "file", "empty", "missing"]
        return places[draw(st.sampled_from(names))]
    if action.type is int:
        return str(draw(st.sampled_from(INTS)))
    if action.type is float:
        return repr(draw(st.sampled_from(FLOATS)))
    if action.choices:
        return str(draw(st.sampled_from(list(action.choices))))
    return draw(st.one_of(st.sampled_from(WORDS), st.text(max_size=6)))


@st.composite
def _argv(draw, command, places, out):
    parser = COMMANDS[command]
    argv = command.split()
    chosen = {}  # a mutually exclusive group: at most one of its options (exactly one if the group is required)
    for group in parser._mutually_exclusive_groups:
        pick = draw(st.sampled_from(group._group_actions))
        chosen.update({id(a): a is pick and (group.required or draw(st.integers(0, 5)) == 0)
                       for a in group._group_actions})  # fmt: skip
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        if id(action) in chosen:
            if not chosen[id(action)]:
                continue
        elif not action.required and action.dest != "task" and draw(st.integers(0, 5)) > 0:
            continue  # each optional option in one example of six (--task always: a generator file needs it)
        flag = draw(st.sampled_from(action.option_strings))
        if action.nargs == 0:
            argv.append(flag)
        else:
            argv += [flag, _value(draw, action, places, out, command)]
    return argv


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_argument_combination_ends_in_a_traceback(command, places, capsys):
    counter = {"n": 0}

    @settings(max_examples=EXAMPLES or 4, derandomize=not EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=st.data())
    def check(data):
        counter["n"] += 1
        out = str(places["root"] / f"out_{command.replace(' ', '_')}_{counter['n']}")
        argv = data.draw(_argv(command, places, out), label="argv")
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse: a usage line and one error line, exit 2
            assert stop.code == 2, argv
            capsys.readouterr()
            return
        err = capsys.readouterr().err.strip()
        assert status in (0, 1, 2), (argv, status)
        if status != 0:
            assert err and len(err.splitlines()) == 1, (argv, err)

    with mock.patch.object(ResumableRun, "fit", lambda self, *args, **kwargs: None):
        check()
