"""Install export bundles into the browser demo (``web_demo/``): checked, copied atomically, listed in its index.

The page (``web_demo/src/main.js``) reads ``public/models/index.json`` and each bundle's ``model.json``; a bundle is
installed as ``public/models/<name>/`` (``model.tflite``, ``model.json`` and the sample PNGs when present). A bundle
the page could not use — files missing, ``model.json`` malformed or disagreeing with the model, an input the sketch
pad cannot draw — is refused with a one-line :class:`ValueError` naming the file and the problem, and nothing is
changed. No TensorFlow: only the pure-Python metadata reader and the LiteRT interpreter (for the tensor check).

Command line (``make web-assets``)::

    python -m mobile_export.web_assets --web-dir web_demo compressed=export/e2s teacher=export/e2s_teacher
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile

from mobile_export import metadata
from mobile_export.files import replace_folder

#: The ``model.json`` layouts the page reads (``format_version``).
FORMAT_VERSIONS = (1,)
#: Tensor types the page feeds and reads.
DTYPES = ("float32", "uint8")
#: Files copied when present; the first two are required.
REQUIRED_FILES = ("model.tflite", "model.json")
OPTIONAL_FILES = ("sample_input.png", "sample_output.png")
#: Where bundles live inside the app, and the list the page reads.
MODELS_DIR = os.path.join("public", "models")
INDEX_FILE = "index.json"
_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


def _check_tensor(path: str, description: dict, key: str) -> dict:
    spec = description.get(key)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: {key} is {spec!r}; expected an object")
    shape = spec.get("shape")
    if not (isinstance(shape, list) and len(shape) == 4 and all(type(d) is int and d > 0 for d in shape)):
        raise ValueError(f"{path}: {key}.shape is {shape!r}; expected [1, height, width, channels] of positive ints")
    if shape[0] != 1:
        raise ValueError(f"{path}: {key}.shape is {shape}; expected batch 1")
    if shape[3] not in (1, 3):
        raise ValueError(f"{path}: {key}.shape is {shape}; the sketch pad handles 1 or 3 channels, not {shape[3]}")
    if spec.get("dtype") not in DTYPES:
        raise ValueError(f"{path}: {key}.dtype is {spec.get('dtype')!r}; expected one of {', '.join(DTYPES)}")
    if spec.get("layout") != "NHWC":
        raise ValueError(f"{path}: {key}.layout is {spec.get('layout')!r}; expected 'NHWC'")
    value_range = spec.get("range")
    if not (
        isinstance(value_range, list)
        and len(value_range) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value_range)
        and value_range[0] < value_range[1]
    ):
        raise ValueError(f"{path}: {key}.range is {value_range!r}; expected [low, high] with low < high")
    if spec["dtype"] == "uint8" and list(value_range) != [0, 255]:
        raise ValueError(f"{path}: {key}.range is {value_range}; a uint8 tensor holds pixels, expected [0, 255]")
    return spec


def check_bundle(bundle_dir: str) -> dict:
    """Check that ``bundle_dir`` is a bundle the page can use; returns its ``model.json`` content.

    Raises:
        ValueError: one line naming the file and the problem (missing file, not a TFLite model, malformed or
            inconsistent ``model.json``, a tensor the page cannot feed or show).
    """
    bundle_dir = os.fspath(bundle_dir)
    if not os.path.isdir(bundle_dir):
        raise ValueError(f"{bundle_dir}: not a folder (expected an export bundle: {', '.join(REQUIRED_FILES)})")
    for name in REQUIRED_FILES:
        if not os.path.isfile(os.path.join(bundle_dir, name)):
            raise ValueError(f"{os.path.join(bundle_dir, name)}: missing (a bundle needs {', '.join(REQUIRED_FILES)})")
    model_path, json_path = (os.path.join(bundle_dir, name) for name in REQUIRED_FILES)
    try:
        with open(json_path, encoding="utf-8") as f:
            description = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{json_path}: not valid JSON ({err})") from None
    if not isinstance(description, dict):
        raise ValueError(f"{json_path}: expected a JSON object, got {type(description).__name__}")
    if description.get("format_version") not in FORMAT_VERSIONS:
        raise ValueError(
            f"{json_path}: format_version is {description.get('format_version')!r}; the page reads "
            f"{', '.join(map(str, FORMAT_VERSIONS))}"
        )
    if not isinstance(description.get("precision"), str):
        raise ValueError(f"{json_path}: precision is {description.get('precision')!r}; expected a string")
    specs = {key: _check_tensor(json_path, description, key) for key in ("input", "output")}
    try:
        found = metadata.entries(model_path)
    except metadata.MetadataError as err:
        raise ValueError(str(err).replace("\n", " ")) from None
    if metadata.METADATA_NAME in found:
        try:
            embedded = metadata.read(model_path)
        except metadata.MetadataError as err:
            raise ValueError(str(err).replace("\n", " ")) from None
        differing = sorted(k for k in set(embedded) | set(description) if embedded.get(k) != description.get(k))
        if differing:
            raise ValueError(
                f"{json_path}: does not match the description embedded in {model_path} "
                f"(differs at {', '.join(differing)}): the files come from different exports"
            )
    _check_tensors(model_path, json_path, specs)
    return description


def _check_tensors(model_path: str, json_path: str, specs: dict) -> None:
    """The model's real input / output shapes and dtypes are what ``model.json`` says (LiteRT interpreter)."""
    from mobile_export.runtime import make_interpreter

    try:
        interpreter = make_interpreter(model_path)
    except ValueError as err:
        raise ValueError(str(err).replace("\n", " ")) from None
    for key, details in (("input", interpreter.get_input_details()), ("output", interpreter.get_output_details())):
        if len(details) != 1:
            raise ValueError(f"{model_path}: has {len(details)} {key} tensors; the page feeds and reads exactly one")
        shape = [int(d) for d in details[0]["shape"]]
        dtype = getattr(details[0]["dtype"], "__name__", str(details[0]["dtype"]))
        if shape != specs[key]["shape"]:
            raise ValueError(f"{json_path}: {key}.shape is {specs[key]['shape']}, but {model_path} has {shape}")
        if dtype != specs[key]["dtype"]:
            raise ValueError(f"{json_path}: {key}.dtype is {specs[key]['dtype']!r}, but {model_path} has {dtype!r}")


def _models_dir(web_dir: str) -> str:
    if not os.path.isfile(os.path.join(web_dir, "package.json")) or not os.path.isfile(
        os.path.join(web_dir, "index.html")
    ):
        raise ValueError(f"{web_dir}: not the web demo app (expected its package.json and index.html)")
    return os.path.join(web_dir, MODELS_DIR)


def read_index(web_dir: str) -> dict:
    """The app's ``public/models/index.json`` (an empty index when there is none)."""
    path = os.path.join(_models_dir(os.fspath(web_dir)), INDEX_FILE)
    if not os.path.exists(path):
        return {"format_version": 1, "default": None, "models": []}
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    models = index.get("models") if isinstance(index, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("name"), str) for m in models):
        raise ValueError(f"{path}: models is not a list of {{name, path}} entries")
    return index


def _write_json_atomically(path: str, value: dict) -> None:
    handle, staging = tempfile.mkstemp(prefix=".index-", suffix=".json", dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            json.dump(value, f, indent=2)
            f.write("\n")
        os.chmod(staging, _default_mode(directory=False))
        os.replace(staging, path)
    except BaseException:
        if os.path.exists(staging):
            os.remove(staging)
        raise


def _label(name: str, description: dict) -> str:
    io = ", uint8 I/O" if description["input"]["dtype"] == "uint8" else ""
    return f"{name.replace('_', ' ').capitalize()} ({description['precision']}{io})"


def _default_mode(directory: bool) -> int:
    """Permissions of a new file / folder under the current umask (mkdtemp / mkstemp make them private)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def install_bundle(bundle_dir: str, web_dir: str, name: str) -> list[str]:
    """Check the export bundle ``bundle_dir`` and install it into the web demo ``web_dir`` as model ``name``.

    The bundle is copied to ``web_dir/public/models/<name>/`` (an existing bundle of that name is replaced whole,
    never left half-written) and listed in ``public/models/index.json``, which the page reads; the page shows a
    teacher / compressed toggle when more than one bundle is listed, and opens ``compressed`` first when present.
    Rebuild the page afterwards (``make web-demo`` does).

    Args:
        bundle_dir: An export bundle (``model.tflite``, ``model.json``; ``sample_input.png`` /
            ``sample_output.png`` are copied too when present).
        web_dir: The web demo app folder (``web_demo/``, with its ``package.json`` and ``index.html``).
        name: The model's name on the page, e.g. ``"compressed"`` or ``"teacher"`` (letters, digits, ``_ - .``).

    Returns:
        The paths written (the copied files, then ``index.json``).

    Raises:
        ValueError: one line naming the file and the problem; nothing was changed.
    """
    bundle_dir, web_dir = os.fspath(bundle_dir), os.fspath(web_dir)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"model name {name!r}: use 1-64 letters, digits, '_', '-' or '.' (not starting with '.')")
    models_dir = _models_dir(web_dir)
    description = check_bundle(bundle_dir)
    index = read_index(web_dir)
    os.makedirs(models_dir, exist_ok=True)
    target = os.path.join(models_dir, name)
    staging = tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir)
    try:
        files = [f for f in REQUIRED_FILES + OPTIONAL_FILES if os.path.isfile(os.path.join(bundle_dir, f))]
        for file in files:
            shutil.copyfile(os.path.join(bundle_dir, file), os.path.join(staging, file))
        os.chmod(staging, _default_mode(directory=True))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_folder(staging, target)
    entry = {"name": name, "path": f"{name}/", "label": _label(name, description)}
    models = [m for m in index["models"] if m.get("name") != name] + [entry]
    order = {"compressed": 0, "teacher": 1}
    models.sort(key=lambda m: (order.get(m["name"], 2), m["name"]))
    names = [m["name"] for m in models]
    default = index.get("default") if index.get("default") in names else None
    index = {"format_version": 1, "default": default or ("compressed" if "compressed" in names else names[0]),
             "models": models}  # fmt: skip
    index_path = os.path.join(models_dir, INDEX_FILE)
    _write_json_atomically(index_path, index)
    return [os.path.join(target, f) for f in files] + [index_path]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mobile_export.web_assets",
        description="Install export bundles into the browser demo (web_demo/public/models/), then rebuild it "
        "(make web-demo).",
    )
    parser.add_argument("bundles", nargs="+", metavar="NAME=BUNDLE_DIR", help="e.g. compressed=export/e2s")
    parser.add_argument("--web-dir", default="web_demo", help="the web demo app folder (default web_demo)")
    args = parser.parse_args(argv)
    try:
        pairs = []
        for item in args.bundles:
            name, sep, path = item.partition("=")
            if not sep or not path:
                raise ValueError(f"{item!r}: expected NAME=BUNDLE_DIR, e.g. compressed=export/e2s")
            pairs.append((name, path))
        for _, path in pairs:
            check_bundle(path)  # all checked before any is installed
        for name, path in pairs:
            written = install_bundle(path, args.web_dir, name)
            print(f"installed {path} as {name!r}: {', '.join(written)}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
