"""mobile_export.web_assets: bundles checked, copied atomically into the web demo, listed in its index (no browser)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mobile_export import web_assets
from mobile_export.web_assets import check_bundle, install_bundle, read_index

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "web_demo" / "public" / "models"


@pytest.fixture
def app(tmp_path) -> Path:
    """An empty web demo app folder (what install_bundle recognizes: package.json + index.html)."""
    web = tmp_path / "web"
    web.mkdir()
    (web / "package.json").write_text("{}")
    (web / "index.html").write_text("<!doctype html>")
    return web


@pytest.fixture
def bundle(tmp_path) -> Path:
    """A copy of a bundle shipped with the page (a real export: model.tflite with our metadata, model.json...)."""
    index = json.loads((SHIPPED / "index.json").read_text())
    source = SHIPPED / index["models"][0]["path"]
    target = tmp_path / "bundle"
    shutil.copytree(source, target)
    return target


def edit_json(bundle: Path, change) -> None:
    description = json.loads((bundle / "model.json").read_text())
    change(description)
    (bundle / "model.json").write_text(json.dumps(description))


def test_install_copies_the_bundle_and_lists_it(app, bundle):
    written = install_bundle(str(bundle), str(app), "compressed")
    target = app / "public" / "models" / "compressed"
    assert written[-1] == str(app / "public" / "models" / "index.json")
    assert {Path(p).name for p in written[:-1]} == {p.name for p in bundle.iterdir()}
    for path in written[:-1]:
        assert Path(path).read_bytes() == (bundle / Path(path).name).read_bytes()
    index = read_index(str(app))
    assert index["default"] == "compressed"
    assert [m["name"] for m in index["models"]] == ["compressed"]
    assert index["models"][0]["path"] == "compressed/"
    assert (target.stat().st_mode & 0o777) != 0o700, "the served folder must be readable like any other"
    # a second bundle: the teacher is listed after the compressed model, the default stays
    install_bundle(str(bundle), str(app), "teacher")
    install_bundle(str(bundle), str(app), "another")
    assert [m["name"] for m in read_index(str(app))["models"]] == ["compressed", "teacher", "another"]
    assert read_index(str(app))["default"] == "compressed"
    assert [p.name for p in (app / "public" / "models").iterdir() if p.name.startswith(".")] == []


def test_reinstall_replaces_the_bundle_whole(app, bundle, tmp_path):
    install_bundle(bundle, app, "compressed")
    (app / "public" / "models" / "compressed" / "stale.txt").write_text("left from an older install")
    smaller = tmp_path / "smaller"
    smaller.mkdir()
    for name in ("model.tflite", "model.json"):
        shutil.copy(bundle / name, smaller / name)
    written = install_bundle(smaller, app, "compressed")
    assert sorted(p.name for p in (app / "public" / "models" / "compressed").iterdir()) == [
        "model.json",
        "model.tflite",
    ]
    assert len(written) == 3
    assert len(read_index(app)["models"]) == 1


def _missing_json(b: Path):
    (b / "model.json").unlink()


def _bad_json(b: Path):
    (b / "model.json").write_text("{not json")


def _bad_dtype(b: Path):
    edit_json(b, lambda d: d["input"].update(dtype="float64"))


def _three_dims(b: Path):
    edit_json(b, lambda d: d["output"].update(shape=[1, 64, 64]))


def _label_input(b: Path):
    edit_json(b, lambda d: d["input"].update(shape=[1, 64, 64, 9]))


def _no_range(b: Path):
    edit_json(b, lambda d: d["input"].pop("range"))


def _version(b: Path):
    edit_json(b, lambda d: d.update(format_version=7))


def _disagrees_with_metadata(b: Path):
    edit_json(b, lambda d: d.update(precision="int8"))


def _not_a_model(b: Path):
    (b / "model.tflite").write_bytes(b"\x00" * 64)


BAD = {
    "missing model.json": (_missing_json, "model.json: missing"),
    "invalid json": (_bad_json, "model.json: not valid JSON"),
    "dtype": (_bad_dtype, "input.dtype is 'float64'"),
    "shape": (_three_dims, "output.shape is [1, 64, 64]"),
    "channels": (_label_input, "handles 1 or 3 channels, not 9"),
    "range": (_no_range, "input.range is None"),
    "version": (_version, "format_version is 7"),
    "metadata": (_disagrees_with_metadata, "differs at precision"),
    "not tflite": (_not_a_model, "is not a TFLite model"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_bundle_is_refused_in_one_line_and_nothing_changes(app, bundle, case):
    install_bundle(bundle, app, "compressed")
    before = {p.name: p.read_bytes() for p in (app / "public" / "models" / "compressed").iterdir()}
    index_before = (app / "public" / "models" / "index.json").read_text()
    damage, phrase = BAD[case]
    damage(bundle)
    with pytest.raises(ValueError) as err:
        install_bundle(bundle, app, "compressed")
    message = str(err.value)
    assert "\n" not in message
    assert phrase in message
    assert str(bundle) in message, "the message names the file"
    assert {p.name: p.read_bytes() for p in (app / "public" / "models" / "compressed").iterdir()} == before
    assert (app / "public" / "models" / "index.json").read_text() == index_before


def test_model_json_must_match_the_real_tensors(app, bundle):
    """Without the embedded copy to compare with, the tensor shapes and dtypes are still checked on the model."""
    from mobile_export import metadata

    edit_json(bundle, lambda d: d["input"].update(shape=[1, 32, 32, 3]))
    description = json.loads((bundle / "model.json").read_text())
    assert metadata.read(bundle / "model.tflite") != description
    with pytest.raises(ValueError, match="differs at input"):
        check_bundle(bundle)
    with pytest.raises(ValueError, match=r"input.shape is \[1, 32, 32, 3\], but .*model.tflite has \[1, \d+, \d+, 3\]"):
        web_assets._check_tensors(
            str(bundle / "model.tflite"),
            str(bundle / "model.json"),
            {"input": description["input"], "output": description["output"]},
        )


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../up", "x" * 65, "with space"])
def test_bad_names_and_folders_are_refused(app, bundle, name):
    with pytest.raises(ValueError, match="model name"):
        install_bundle(bundle, app, name)


def test_not_an_app_folder_or_not_a_bundle(app, bundle, tmp_path):
    with pytest.raises(ValueError, match="not the web demo app"):
        install_bundle(bundle, tmp_path / "nowhere", "compressed")
    with pytest.raises(ValueError, match="not a folder"):
        install_bundle(tmp_path / "nothing", app, "compressed")
    (app / "public" / "models").mkdir(parents=True)
    (app / "public" / "models" / "index.json").write_text('{"models": 3}')
    with pytest.raises(ValueError, match="index.json: models is not a list"):
        install_bundle(bundle, app, "compressed")


def test_command_line(app, bundle):
    done = subprocess.run(
        [sys.executable, "-m", "mobile_export.web_assets", "--web-dir", str(app), f"compressed={bundle}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "installed" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "mobile_export.web_assets", "--web-dir", str(app), "teacher"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "expected NAME=BUNDLE_DIR" in done.stderr


def test_no_tensorflow_at_import():
    code = "import sys, mobile_export.web_assets; assert 'tensorflow' not in sys.modules; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr
