"""The browser demo (``web_demo/``) end to end: the BUILT page, served on the loopback interface, in headless Chromium.

Debian's ``chromium`` is driven by npm's ``playwright-core`` (``web_demo/scripts/browser.mjs``; nothing is
downloaded). The page's own code path — sketch pad pixels → tensor → LiteRT.js (WASM / XNNPACK) → output canvas — is
compared with the Python LiteRT interpreter (``mobile_export.runtime``) on the same input, for every bundle the page
lists; a stroke drawn with synthetic mouse events changes the output; a malformed ``model.json``, a model that does
not load, a missing runtime and a browser without WASM SIMD each end in an on-page message (the malformed file's
message names the wrong key).

``make test`` installs what this needs (``apt-get install chromium`` when /usr/bin/chromium is missing, ``npm ci``
and ``npm run build`` in web_demo/). Run outside make without them, these tests FAIL with a message saying so,
rather than skip: a missing browser must not pass silently as green. Set ``TFGANCOMP_SKIP_BROWSER_TESTS=1`` to skip
them on purpose (a machine that cannot install Chromium); ``TFGANCOMP_CHROMIUM`` names another Chromium binary.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mobile_export.runtime import run

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web_demo"
DIST = WEB / "dist"
SKIP_ENV = "TFGANCOMP_SKIP_BROWSER_TESTS"
CHROMIUM = os.environ.get("TFGANCOMP_CHROMIUM", "/usr/bin/chromium")
#: Least PSNR of the page's output pixels against Python LiteRT's on the same input. Both run the same float32
#: XNNPACK kernels on the same weights; what differs is summation order (WASM SIMD vs x86 vectors, thread
#: partitioning), ~1e-6 relative, which moves a pixel across a rounding boundary now and then: a handful of ±1
#: levels is ~60 dB and more. 40 dB still fails a real defect — a wrong scaling, a channel swap, a one-pixel shift
#: of the input (see test_psnr_bound_catches_a_shifted_input).
MIN_PSNR = 40.0
SOURCES = ("index.html", "vite.config.js", "package-lock.json", "src", "public")


def _problems() -> list[str]:
    problems = []
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    if shutil.which("node") is None:
        problems.append("no `node` on PATH (Node.js 20+)")
    if not (WEB / "node_modules" / "playwright-core").is_dir():
        problems.append("web_demo/node_modules is not installed (cd web_demo && npm ci)")
    if not (DIST / "index.html").is_file():
        problems.append("web_demo/dist is not built (cd web_demo && npm run build)")
    else:
        built = (DIST / "index.html").stat().st_mtime
        newer = [
            str(p.relative_to(WEB))
            for name in SOURCES
            for p in ([WEB / name] if (WEB / name).is_file() else sorted((WEB / name).rglob("*")))
            if p.is_file() and p.stat().st_mtime > built
        ]
        if newer:
            problems.append(f"web_demo/dist is older than {newer[0]} (rebuild: cd web_demo && npm run build)")
    return problems


@pytest.fixture(scope="module")
def browser_ready():
    problems = _problems()
    if problems:
        if os.environ.get(SKIP_ENV) == "1":
            pytest.skip(f"browser tests skipped ({SKIP_ENV}=1): {'; '.join(problems)}")
        pytest.fail(
            f"the browser test cannot run: {'; '.join(problems)}. Run `make test`, which installs and builds all of "
            f"this, or set {SKIP_ENV}=1 to skip the browser tests on purpose.",
            pytrace=False,
        )


@contextlib.contextmanager
def serve(models_dir: Path | None = None, root: Path | None = None):
    """The built page on 127.0.0.1 (a free port) by web_demo/serve.mjs, optionally with another models folder (or
    another copy of the built page)."""
    command = ["node", str(WEB / "serve.mjs"), "--port", "0"]
    if models_dir is not None:
        command += ["--models", str(models_dir)]
    if root is not None:
        command += ["--root", str(root)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("serving http://127.0.0.1:"):
            proc.kill()
            raise AssertionError(f"serve.mjs did not start: {line!r} {proc.stderr.read()}")
        yield line.split()[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def drive(job: dict, timeout: float = 120) -> dict:
    """Run one job of web_demo/scripts/browser.mjs; returns its JSON result (fails with the page's console)."""
    done = subprocess.run(
        ["node", str(WEB / "scripts" / "browser.mjs")],
        input=json.dumps({"chromium": CHROMIUM, **job}),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=WEB,
    )
    try:
        result = json.loads(done.stdout)
    except json.JSONDecodeError:
        output = f"{done.stdout[-2000:]} {done.stderr[-2000:]}"
        raise AssertionError(f"browser driver failed (exit {done.returncode}): {output}") from None
    assert result["ok"], f"{result.get('error') or result.get('state')}\n" + "\n".join(result.get("console", []))
    return result


def decode_png(data_url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB"))


def encode_png(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def to_pixels(images: np.ndarray) -> np.ndarray:
    """[-1, 1] → uint8, the formula of mobile_export.convert.to_pixels (that module imports TensorFlow)."""
    return np.clip(np.floor((np.asarray(images, np.float32) + 1.0) * 127.5 + 0.5), 0, 255).astype(np.uint8)


def psnr_uint8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def fixed_sketch(height: int, width: int) -> np.ndarray:
    """A deterministic edge sketch (black outlines on white, like edges2shapes' inputs): a circle and a triangle."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse([0.08 * width, 0.15 * height, 0.45 * width, 0.52 * height], outline="black", width=1)
    draw.polygon([(0.72 * width, 0.45 * height), (0.55 * width, 0.85 * height), (0.92 * width, 0.85 * height)],
                 outline="black", width=1)  # fmt: skip
    draw.line([(0.1 * width, 0.9 * height), (0.4 * width, 0.65 * height)], fill="black", width=1)
    return np.asarray(image)


def python_reference(model_path: Path, spec: dict, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(raw output, output pixels)`` of the Python LiteRT interpreter for the page's input pixels, converted the
    way model.json says (the same rules as the page: linear map of [0, 255] onto input.range, and back)."""
    lo, hi = spec["input"]["range"]
    if spec["input"]["dtype"] == "uint8":
        x = pixels[None]
    elif (lo, hi) == (-1, 1):
        x = pixels[None].astype(np.float32) / 127.5 - 1.0  # mobile_export.convert.from_pixels
    else:
        x = (lo + pixels[None].astype(np.float32) * ((hi - lo) / 255)).astype(np.float32)
    y = run(str(model_path), x)[0]
    lo, hi = spec["output"]["range"]
    if spec["output"]["dtype"] == "uint8":
        out = y[0]
    elif (lo, hi) == (-1, 1):
        out = to_pixels(y[0])
    else:
        out = np.clip(np.floor((y[0] - lo) / (hi - lo) * 255 + 0.5), 0, 255).astype(np.uint8)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return y[0], out


def installed_models(folder: Path = DIST / "models") -> list[dict]:
    """The bundles a models folder lists (index.json), each with its model.json as "description"."""
    index = json.loads((folder / "index.json").read_text())
    for entry in index["models"]:
        entry["description"] = json.loads((folder / entry["path"] / "model.json").read_text())
    return index["models"]


def test_page_output_matches_python_litert(browser_ready):
    models = installed_models()
    sketches = {}
    for m in models:
        _, h, w, _ = m["description"]["input"]["shape"]
        sketches[m["name"]] = fixed_sketch(h, w)
    started = time.perf_counter()
    with serve() as url:
        result = drive({"url": url + "?accelerator=wasm", "kind": "parity", "models": [m["name"] for m in models],
                        "sketches": {k: encode_png(v) for k, v in sketches.items()}})  # fmt: skip
    assert [r["name"] for r in result["results"]] == [m["name"] for m in models]
    dtypes = set()
    for m, page in zip(models, result["results"], strict=True):
        spec = m["description"]
        assert page["current"]["accelerator"] == "wasm"
        pad = decode_png(page["pad"])
        np.testing.assert_array_equal(pad, sketches[m["name"]], err_msg="the page did not feed the sketch as given")
        raw, expected = python_reference(DIST / "models" / m["path"] / "model.tflite", spec, pad)
        got = decode_png(page["output"])
        assert got.shape == expected.shape
        score = psnr_uint8(got, expected)
        page_raw = np.asarray(page["raw"], np.float64).reshape(raw.shape)
        max_abs = float(np.max(np.abs(page_raw - raw)))
        timing = f"one frame {page['frameMs']:.1f} ms (run {page['runMs']:.1f} ms)"
        print(f"{m['name']}: page vs Python LiteRT {score:.1f} dB on pixels, max |Δ| {max_abs:.3g} on the raw "
              f"{spec['output']['dtype']} output; {timing}")  # fmt: skip
        assert score >= MIN_PSNR, f"{m['name']}: page output is {score:.2f} dB from Python LiteRT's"
        assert float(np.std(expected)) > 1.0, "degenerate model output: the comparison would prove nothing"
        dtypes.add(spec["input"]["dtype"])
    print(f"dtypes covered: {sorted(dtypes)}; {time.perf_counter() - started:.1f} s")


def test_psnr_bound_catches_a_shifted_input():
    """The 40 dB bound is not vacuous: the output for the sketch moved by one pixel is far below it."""
    shipped = WEB / "public" / "models"  # the sources of dist/models: no build needed here
    m = installed_models(shipped)[0]
    _, h, w, _ = m["description"]["input"]["shape"]
    sketch = fixed_sketch(h, w)
    path = shipped / m["path"] / "model.tflite"
    _, reference = python_reference(path, m["description"], sketch)
    _, shifted = python_reference(path, m["description"], np.roll(sketch, 1, axis=1))
    assert psnr_uint8(reference, shifted) < MIN_PSNR


def test_stroke_with_the_mouse_changes_the_output(browser_ready):
    with serve() as url:
        result = drive({"url": url + "?accelerator=wasm", "kind": "stroke"})
    before, after = result["before"], result["after"]
    assert after["frames"] > before["frames"]
    pad_before, pad_after = decode_png(before["pad"]), decode_png(after["pad"])
    assert (pad_before == 255).all(), "the pad was not cleared"
    drawn = int(np.count_nonzero(pad_after.min(axis=-1) < 128))
    assert drawn >= 10, f"the stroke drew {drawn} dark pixels"
    out_before, out_after = decode_png(before["output"]), decode_png(after["output"])
    changed = int(np.count_nonzero(np.abs(out_before.astype(int) - out_after.astype(int)).max(axis=-1) > 8))
    assert changed >= 10, f"the output changed in only {changed} pixels after the stroke"
    assert "ms" in after["latency"]
    models = [m["name"] for m in installed_models()]
    if len(models) > 1:  # the teacher / compressed toggle switches the generator and reruns the same sketch
        toggled = result["toggled"]
        assert toggled["current"] == toggled["checked"] == models[1]
        assert toggled["frames"] > after["frames"]
        assert not np.array_equal(decode_png(toggled["output"]), out_after), "another model, the same output"


def _mutate(description: dict, key: str, value) -> dict:
    result = json.loads(json.dumps(description))
    node = result
    *parents, last = key.split(".")
    for part in parents:
        node = node[part]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return result


_DELETE = object()
# case -> (what is done to the default bundle, the key the message must name, a phrase of the message)
ERROR_CASES = {
    "dtype": ("input.dtype", "float64", "input.dtype", "float64"),
    "missing-range": ("output.range", _DELETE, "output.range", "missing"),
    "shape-rank": ("input.shape", [1, 64, 64], "input.shape", "[1, height, width, channels]"),
    "version": ("format_version", 99, "format_version", "99"),
    "dtype-vs-model": ("input.dtype", "flip", "input.dtype", "model.tflite's input is"),
    "bad-tflite": ("model.tflite", b"not a flatbuffer at all" * 8, None, "could not load"),
    "no-index": ("index.json", None, None, "HTTP 404"),
    "no-simd": (None, None, None, "WebAssembly SIMD is not supported"),
    "no-runtime": ("litert", None, None, "The LiteRT.js runtime could not be loaded"),
}


@pytest.fixture(scope="module")
def error_pages(browser_ready, tmp_path_factory):
    """Every ERROR_CASES page in one browser run: {case: the page's error state and message}."""
    models = installed_models()
    default = models[0]
    source = DIST / "models" / default["path"]
    servers, pages = contextlib.ExitStack(), []
    with servers:
        for case, (target, value, _, _) in ERROR_CASES.items():
            folder = tmp_path_factory.mktemp(f"models-{case}")
            bundle = folder / "m"
            shutil.copytree(source, bundle)
            (folder / "index.json").write_text(json.dumps({"models": [{"name": "m", "path": "m/"}]}))
            if target == "model.tflite":
                (bundle / "model.tflite").write_bytes(value)
            elif target == "index.json":
                (folder / "index.json").unlink()
            elif target is not None:
                description = default["description"]
                if value == "flip":
                    flipped = "float32" if description["input"]["dtype"] == "uint8" else "uint8"
                    value = {"float32": [-1.0, 1.0], "uint8": [0, 255]}[flipped]
                    description = _mutate(description, "input.range", value)
                    value = flipped
                (bundle / "model.json").write_text(json.dumps(_mutate(description, target, value)))
            root = None
            if target == "litert":  # the page built without LiteRT.js's WASM files
                root = tmp_path_factory.mktemp("dist-without-litert") / "dist"
                shutil.copytree(DIST, root, ignore=lambda d, names: ["litert"] if Path(d) == DIST else [])
            url = servers.enter_context(serve(folder, root))
            pages.append({"url": url + "?accelerator=wasm", "noSimd": case == "no-simd"})
        result = drive({"kind": "errors", "pages": pages})
    return dict(zip(ERROR_CASES, result["pages"], strict=True))


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_failures_show_an_on_page_message(error_pages, case):
    _, _, key, phrase = ERROR_CASES[case]
    page = error_pages[case]
    assert page["state"] == "error", page
    assert page["visible"], "the error message is not shown on the page"
    message = page["message"]
    assert phrase in message, message
    if key is not None:
        assert page["error"]["key"] == key, page["error"]
        assert key in message, message
        assert "model.json" in message, message
