"""Every model property the app uses comes from model.json: no model size, channel count or range in the Kotlin."""

from __future__ import annotations

import json
import os
import re

import pytest

from tests.android_demo.kotlin_source import code_only, numeric_literals

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "android_demo")
KOTLIN = os.path.join(APP, "app", "src", "main", "kotlin")
ASSETS = os.path.join(APP, "app", "src", "main", "assets")

# Literals any file may use: 0 and 1 (indices, one-hot codes, empty checks) and 255 (the largest 8-bit value, for
# byte math). A model's sizes (32, 64, 128, 256, 512...), channel counts and ranges (-1, 127.5...) are none of these.
ALLOWED = {0.0, 1.0, 255.0}
# Per file, the few literals that are a format's own constants, not a model's, each with its reason.
ALLOWED_IN = {
    "org/tfgancomp/demo/model/Argb.kt": {
        24.0: "ARGB_8888 alpha shift",
        16.0: "ARGB_8888 red shift",
        8.0: "ARGB_8888 green shift / bits per channel",
        3.0: "colour components of a pixel (R, G, B)",
        0.299: "BT.601 luma weight (red)",
        0.587: "BT.601 luma weight (green)",
        0.114: "BT.601 luma weight (blue)",
    },
    "org/tfgancomp/demo/model/Json.kt": {4.0: "hex digits of a \\u escape", 16.0: "hex radix"},
    "org/tfgancomp/demo/model/ModelSpec.kt": {2.0: "a range is a [low, high] pair"},
}


def kotlin_files() -> dict[str, str]:
    out = {}
    for root, _, files in os.walk(KOTLIN):
        for name in files:
            if name.endswith(".kt"):
                path = os.path.join(root, name)
                with open(path, encoding="utf-8") as f:
                    out[os.path.relpath(path, KOTLIN).replace(os.sep, "/")] = f.read()
    return out


def violations(relpath: str, source: str) -> list[str]:
    """The numeric literals of ``source`` that are neither allowed everywhere nor in this file."""
    allowed = ALLOWED | set(ALLOWED_IN.get(relpath, {}))
    return [f"{relpath}:{line}: {text}" for line, text, value in numeric_literals(source) if value not in allowed]


def test_the_kotlin_sources_exist_and_cover_the_model_handling():
    files = kotlin_files()
    for name in ("ModelSpec.kt", "TensorCodec.kt", "Json.kt", "Argb.kt", "FrameTiming.kt"):
        assert f"org/tfgancomp/demo/model/{name}" in files
    for name in ("Generator.kt", "MainActivity.kt", "DrawingView.kt"):
        assert f"org/tfgancomp/demo/{name}" in files


def test_no_model_number_in_any_kotlin_source():
    found = [v for relpath, source in sorted(kotlin_files().items()) for v in violations(relpath, source)]
    assert found == [], "numeric literals that could be model properties (take them from model.json):\n" + "\n".join(
        found
    )


def test_every_per_file_allowance_is_still_needed():
    """An allowance nobody uses any more is one a future model number could hide behind: remove it."""
    files = kotlin_files()
    for relpath, allowed in ALLOWED_IN.items():
        values = {value for _, _, value in numeric_literals(files[relpath])}
        assert set(allowed) <= values, f"{relpath}: unused allowances {sorted(set(allowed) - values)}"


@pytest.mark.parametrize(
    ("original", "planted"),
    [
        ("val width = spec.input.width", "val width = 64"),  # a hard-coded input size
        ("input.range.low + intensity", "-1.0 + intensity"),  # a hard-coded range end
        ("input.range.span", "2.0"),  # a hard-coded span
        ("val channels = input.channels", "val channels = 0x3"),  # a channel count, in hex
        ("Float.SIZE_BYTES)", "4)"),  # bytes per float
    ],
)
def test_the_scanner_catches_a_planted_model_number(original, planted):
    files = kotlin_files()
    hits = [(relpath, source) for relpath, source in files.items() if original in source]
    assert hits, f"{original!r} no longer occurs in the sources; update this test"
    relpath, source = hits[0]
    assert violations(relpath, source) == []
    found = violations(relpath, source.replace(original, planted, 1))
    assert len(found) == 1 and found[0].endswith(re.findall(r"-?(?:0x)?[\d.]+", planted)[-1]), found


def test_the_scanner_reads_kotlin_not_text():
    source = '''
        val a = "size 256 ${w}x${h + 512}"  // 128 in a comment
        /* 64 /* nested 32 */ still a comment 16 */
        val b = """raw 1024 ${depth * 3}"""
        val c = x - 1; val d = -1f; val e = 0..255; val f = 1_000_000L; val g = '7'; val h = 0b101
    '''
    values = sorted(value for _, _, value in numeric_literals(source))
    assert values == [-1.0, 0.0, 1.0, 3.0, 5.0, 255.0, 512.0, 1_000_000.0]
    assert "256" not in code_only(source) and "128" not in code_only(source)


def test_the_json_keys_the_app_reads_are_the_ones_the_bundle_writes():
    """ModelSpec reads model.json by key; every key it requires must be in the shipped bundle's model.json."""
    with open(os.path.join(KOTLIN, "org/tfgancomp/demo/model/ModelSpec.kt"), encoding="utf-8") as f:
        text = f.read()
    keys = set(re.findall(r'(?:root|map|inputMap)\["([a-z_]+)"\]', text))
    assert {"format_version", "precision", "input", "output", "shape", "dtype", "layout", "range"} <= keys
    with open(os.path.join(ASSETS, "model.json"), encoding="utf-8") as f:
        description = json.load(f)
    optional = {"palette", "gpu_delegate", "model", "channels"}  # read with a fallback when absent
    for key in sorted(keys - optional):
        assert key in description or key in description["input"], f"the app requires {key!r}; model.json lacks it"
