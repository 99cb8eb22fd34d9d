"""Install an export bundle into the Android demo app (``android_demo/``): its ``app/src/main/assets/``.

The app reads every model property from the bundle's ``model.json``, so a bundle is only installed when that
description is one the app can run and agrees with the ``.tflite`` beside it: the JSON embedded in the model's
metadata, and the interpreter's own input / output shapes and dtypes. Anything else stops with a one-line
``ValueError`` naming the file and the problem, and leaves the app's assets as they were.

Needs no TensorFlow: the metadata is read in pure Python and the model is opened with the runtime
:mod:`mobile_export.runtime` picks (LiteRT when installed), only when :func:`install_bundle` runs.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable

import numpy as np
from PIL import Image, UnidentifiedImageError

from mobile_export import metadata
from mobile_export.files import replace_folder

#: Where the app's assets live, relative to the app folder (``android_demo/``).
ASSETS_DIR = os.path.join("app", "src", "main", "assets")
#: The file that marks a folder as the Android demo app.
APP_MARKER = os.path.join("app", "build.gradle.kts")
#: The bundle files the app loads.
MODEL_FILE, DESCRIPTION_FILE = "model.tflite", "model.json"
#: Example sketches offered by the app's "Example" button.
EXAMPLES_DIR = "examples"
#: Format version of ``model.json`` the app reads.
SUPPORTED_FORMAT = 1
#: Element types the app converts pixels to and from, with the value range each must stay within.
DTYPE_LIMITS = {"float32": None, "uint8": (0.0, 255.0)}

#: The bundle's own output for ``examples/sample_input.png``: what the app should show for that example.
SAMPLE_OUTPUT = "sample_output.png"

_MANAGED = (MODEL_FILE, DESCRIPTION_FILE, EXAMPLES_DIR, SAMPLE_OUTPUT)


def _fail(path: str, problem: str):
    raise ValueError(f"{path}: {problem}")


def _tensor(description: dict, key: str, path: str) -> dict:
    tensor = description.get(key)
    if not isinstance(tensor, dict):
        _fail(path, f"no {key!r} object")
    shape, dtype, layout, value_range = (tensor.get(k) for k in ("shape", "dtype", "layout", "range"))
    if layout != "NHWC":
        _fail(path, f"{key}.layout is {layout!r}; the app reads NHWC")
    if not (isinstance(shape, list) and len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape)):
        _fail(path, f"{key}.shape {shape!r} is not 4 fixed positive dimensions")
    if shape[0] != 1:
        _fail(path, f"{key}.shape {shape} has batch {shape[0]}; the app runs batch 1")
    if dtype not in DTYPE_LIMITS:
        _fail(path, f"{key}.dtype {dtype!r} is not one of {', '.join(DTYPE_LIMITS)}")
    if not (
        isinstance(value_range, list)
        and len(value_range) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value_range)
        and value_range[0] < value_range[1]
    ):
        _fail(path, f"{key}.range {value_range!r} is not [low, high] with low < high")
    limits = DTYPE_LIMITS[dtype]
    if limits and not (limits[0] <= value_range[0] and value_range[1] <= limits[1]):
        _fail(path, f"{key}.range {value_range} does not fit {dtype} ({limits[0]:g}..{limits[1]:g})")
    return tensor


def _check_palette(tensor: dict, path: str):
    """A label-map input (not 1 or 3 channels) needs a palette: one [r, g, b] per label (+ one instance edge)."""
    channels = tensor["shape"][3]
    palette = tensor.get("palette")
    if palette is None:
        if channels not in (1, 3):
            _fail(
                path,
                f"input has {channels} channels ({tensor.get('channels', '?')}) and no input.palette; the app needs "
                "one [r, g, b] per label to draw a label map",
            )
        return
    if not (
        isinstance(palette, list)
        and palette
        and all(
            isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
            for c in palette
        )
    ):
        _fail(path, "input.palette is not a non-empty list of [r, g, b] with 0..255 integers")
    if channels not in (len(palette), len(palette) + 1):
        _fail(path, f"input.palette has {len(palette)} colours for an input of {channels} channels")
    if tensor["dtype"] != "float32":
        _fail(path, "a label-map input must be float32 (one-hot); the app cannot feed it as uint8")


def _check_against_model(description: dict, model_path: str, json_path: str):
    """The interpreter's own tensors must be what ``model.json`` says (shape and dtype, one input, one output)."""
    from mobile_export.runtime import make_interpreter

    interpreter = make_interpreter(model_path)
    for key, details in (("input", interpreter.get_input_details()), ("output", interpreter.get_output_details())):
        if len(details) != 1:
            _fail(
                model_path, f"has {len(details)} {key} tensors; the app runs a generator with one input and one output"
            )
        shape = [int(d) for d in details[0]["shape"]]
        dtype = np.dtype(details[0]["dtype"]).name
        expected = description[key]
        if shape != expected["shape"] or dtype != expected["dtype"]:
            _fail(
                json_path,
                f"{key} is {expected['shape']} {expected['dtype']} but {os.path.basename(model_path)} has "
                f"{shape} {dtype}",
            )


def validate_bundle(bundle_dir: str) -> dict:
    """Check that ``bundle_dir`` holds a bundle the Android demo can run; return its ``model.json`` content.

    Args:
        bundle_dir: A folder written by :func:`mobile_export.export_bundle` (``tfgancomp export``).

    Raises:
        ValueError: one line naming the file and the problem: a missing file, JSON that is not an object,
            a ``model.json`` that differs from the metadata embedded in ``model.tflite``, an unsupported format
            version, layout, batch, dtype or range, a label-map input without a palette, or interpreter tensors
            that differ from the description.
    """
    bundle_dir = os.fspath(bundle_dir)
    if not os.path.isdir(bundle_dir):
        _fail(bundle_dir, "not a folder")
    model_path = os.path.join(bundle_dir, MODEL_FILE)
    json_path = os.path.join(bundle_dir, DESCRIPTION_FILE)
    for path in (model_path, json_path):
        if not os.path.isfile(path):
            _fail(path, "missing (a bundle has model.tflite and model.json: tfgancomp export --out DIR)")
    try:
        with open(json_path, encoding="utf-8") as f:
            description = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        _fail(json_path, f"not valid JSON: {err}")
    if not isinstance(description, dict):
        _fail(json_path, "not a JSON object")
    try:
        embedded = metadata.read(model_path)
    except metadata.MetadataError as err:
        raise ValueError(str(err)) from None
    if embedded != description:
        keys = sorted(k for k in set(embedded) | set(description) if embedded.get(k) != description.get(k))
        _fail(json_path, f"differs from the metadata embedded in {MODEL_FILE} (keys: {', '.join(keys)})")
    if description.get("format_version") != SUPPORTED_FORMAT:
        _fail(json_path, f"format_version {description.get('format_version')!r}; the app reads {SUPPORTED_FORMAT}")
    if not isinstance(description.get("precision"), str):
        _fail(json_path, "no precision")
    input_tensor = _tensor(description, "input", json_path)
    output_tensor = _tensor(description, "output", json_path)
    if output_tensor["shape"][3] not in (1, 3):
        _fail(json_path, f"output has {output_tensor['shape'][3]} channels; the app shows RGB or gray images")
    _check_palette(input_tensor, json_path)
    _check_against_model(description, model_path, json_path)
    return description


def _example_image(example, index: int) -> Image.Image:
    if isinstance(example, np.ndarray):
        if example.dtype != np.uint8 or example.ndim not in (2, 3) or (example.ndim == 3 and example.shape[2] != 3):
            raise ValueError(
                f"example {index}: an array must be uint8 (H, W) or (H, W, 3), got {example.dtype} {example.shape}"
            )
        return Image.fromarray(example)
    path = os.fspath(example)
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError) as err:
        _fail(path, f"not a readable image ({err})")


def install_bundle(bundle_dir: str, app_dir: str, examples: Iterable = ()) -> list[str]:
    """Validate a bundle and copy it into the Android demo's ``app/src/main/assets/``, replacing the previous one.

    The assets get ``model.tflite``, ``model.json``, ``examples/`` (the bundle's ``sample_input.png``, then
    ``examples``: the app's "Example" button cycles through them) and the bundle's ``sample_output.png`` (the
    expected output for the sample input, for checks). Everything is staged beside the assets folder
    and swapped in at the end, so a failure leaves the app's assets as they were; files in ``assets/`` that are not
    the bundle's are kept.

    Args:
        bundle_dir: A bundle folder (``tfgancomp export --out``).
        app_dir: The Android demo folder (the one holding ``settings.gradle.kts`` and ``app/``).
        examples: Extra example sketches: image files, or uint8 ``(H, W)`` / ``(H, W, 3)`` arrays (e.g. held-out
            inputs of the dataset), saved as ``examples/example_NN.png``.

    Returns:
        The paths written (absolute), sorted.

    Raises:
        ValueError: one line naming the file and the problem (see :func:`validate_bundle`), or an ``app_dir`` that
            is not the demo app, or an example that is not an image.
    """
    bundle_dir, app_dir = os.fspath(bundle_dir), os.fspath(app_dir)
    if not os.path.isfile(os.path.join(app_dir, APP_MARKER)):
        _fail(app_dir, f"not the Android demo app (no {APP_MARKER})")
    validate_bundle(bundle_dir)
    images = []
    sample = os.path.join(bundle_dir, "sample_input.png")
    if os.path.isfile(sample):
        images.append(("sample_input.png", _example_image(sample, 0)))
    for i, example in enumerate(examples):
        images.append((f"example_{i:02d}.png", _example_image(example, i)))

    assets = os.path.abspath(os.path.join(app_dir, ASSETS_DIR))
    parent = os.path.dirname(assets)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".assets-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the assets folder is an ordinary one
    try:
        if os.path.isdir(assets):  # keep what is not ours
            for name in os.listdir(assets):
                if name not in _MANAGED:
                    source, target = os.path.join(assets, name), os.path.join(staging, name)
                    (shutil.copytree if os.path.isdir(source) else shutil.copy2)(source, target)
        for name in (MODEL_FILE, DESCRIPTION_FILE, SAMPLE_OUTPUT):
            if name != SAMPLE_OUTPUT or os.path.isfile(os.path.join(bundle_dir, name)):
                shutil.copyfile(os.path.join(bundle_dir, name), os.path.join(staging, name))
        if images:
            os.mkdir(os.path.join(staging, EXAMPLES_DIR))
            for name, image in images:
                image.save(os.path.join(staging, EXAMPLES_DIR, name))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_folder(staging, assets)
    written = [os.path.join(assets, MODEL_FILE), os.path.join(assets, DESCRIPTION_FILE)]
    if os.path.isfile(os.path.join(assets, SAMPLE_OUTPUT)):
        written.append(os.path.join(assets, SAMPLE_OUTPUT))
    written += [os.path.join(assets, EXAMPLES_DIR, name) for name, _ in images]
    return sorted(written)


USAGE = "usage: python -m mobile_export.android_assets BUNDLE_DIR [APP_DIR (default android_demo)] [EXAMPLE_IMAGE ...]"


def main(argv: list[str] | None = None) -> int:
    """Command line: install ``BUNDLE_DIR`` into ``APP_DIR``'s assets, with optional example images; print the files.

    Returns:
        0 on success, 1 for a bundle (or app folder, or example) that cannot be installed, 2 for bad usage.
    """
    import sys

    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE, file=sys.stderr if not args else sys.stdout)
        return 0 if args else 2
    bundle_dir, app_dir, examples = args[0], (args[1] if len(args) > 1 else "android_demo"), args[2:]
    try:
        written = install_bundle(bundle_dir, app_dir, examples)
    except ValueError as err:
        print(f"android_assets: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
