"""The Android demo is a standard Gradle (Kotlin DSL) application module, declaring what issue 21 asks for.

Nothing here builds the app (no Android SDK or Google Maven repository on these machines): these are the static
checks a build would otherwise make first — files, dependencies, manifest, resource references.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

import pytest

from tests.android_demo.kotlin_source import code_only

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "android_demo")
MAIN = os.path.join(APP, "app", "src", "main")
KOTLIN = os.path.join(MAIN, "kotlin", "org", "tfgancomp", "demo")
ANDROID = "{http://schemas.android.com/apk/res/android}"


def read(*parts: str) -> str:
    with open(os.path.join(APP, *parts), encoding="utf-8") as f:
        return f.read()


def kotlin(*parts: str) -> str:
    with open(os.path.join(KOTLIN, *parts), encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize(
    "path",
    [
        "settings.gradle.kts",
        "build.gradle.kts",
        "gradle.properties",
        "gradle/wrapper/gradle-wrapper.properties",
        "app/build.gradle.kts",
        "app/src/main/AndroidManifest.xml",
        "app/src/main/res/layout/activity_main.xml",
        "app/src/main/assets/model.tflite",
        "app/src/main/assets/model.json",
        "app/src/test/kotlin/org/tfgancomp/demo/model/TensorCodecTest.kt",
        "README.md",
    ],
)
def test_standard_module_layout(path):
    assert os.path.isfile(os.path.join(APP, path)), path


def test_settings_include_the_app_and_the_google_repository():
    settings = code_only(read("settings.gradle.kts"), keep_strings=True)
    assert re.search(r'include\(\s*":app"\s*\)', settings)
    assert "google()" in settings and "mavenCentral()" in settings
    wrapper = read("gradle", "wrapper", "gradle-wrapper.properties")
    assert re.search(
        r"^distributionUrl=https\\://services\.gradle\.org/distributions/gradle-[\d.]+-bin\.zip$", wrapper, re.M
    )


def test_app_gradle_declares_sdk_levels_litert_and_uncompressed_models():
    gradle = code_only(read("app", "build.gradle.kts"), keep_strings=True)
    assert 'id("com.android.application")' in gradle and 'id("org.jetbrains.kotlin.android")' in gradle
    assert re.search(r"\bminSdk\s*=\s*24\b", gradle) and re.search(r"\btargetSdk\s*=\s*34\b", gradle)
    assert re.search(r"\bcompileSdk\s*=\s*34\b", gradle)
    for artifact in ("litert", "litert-gpu", "litert-support"):
        assert re.search(rf'implementation\("com\.google\.ai\.edge\.litert:{artifact}:\$litert"\)', gradle), artifact
    assert re.search(r'val litert = "\d+\.\d+\.\d+"', gradle)
    # the model is memory-mapped from the APK, which needs it stored uncompressed
    assert re.search(r'noCompress\s*(\+=|\.add\(|\()\s*"tflite"', gradle)
    assert re.search(r'testImplementation\("junit:junit:[\d.]+"\)', gradle)


def test_manifest_launches_an_activity_that_exists():
    root = ET.parse(os.path.join(MAIN, "AndroidManifest.xml")).getroot()
    activities = root.findall("./application/activity")
    launcher = [
        a for a in activities
        if any(c.get(f"{ANDROID}name") == "android.intent.category.LAUNCHER" for c in a.iter("category"))
    ]  # fmt: skip
    assert len(launcher) == 1
    name = launcher[0].get(f"{ANDROID}name").lstrip(".")
    assert launcher[0].get(f"{ANDROID}exported") == "true"  # required for a launcher activity from API 31
    assert re.search(rf"\bclass {name}\b", kotlin(f"{name}.kt"))
    assert root.find("./uses-permission") is None  # photos come through the system picker


def _resources() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    values = os.path.join(MAIN, "res", "values")
    for name in os.listdir(values):
        for element in ET.parse(os.path.join(values, name)).getroot():
            kind = element.get("type") or element.tag
            found.setdefault(kind, set()).add(element.get("name"))
    for folder in os.listdir(os.path.join(MAIN, "res")):
        if folder.startswith("layout"):
            for name in os.listdir(os.path.join(MAIN, "res", folder)):
                found.setdefault("layout", set()).add(name.rsplit(".", 1)[0])
                tree = ET.parse(os.path.join(MAIN, "res", folder, name))
                for element in tree.iter():
                    for attr in element.attrib.values():
                        if attr.startswith("@+id/"):
                            found.setdefault("id", set()).add(attr[len("@+id/") :])
                        elif re.match(r"@(string|color|dimen|integer)/", attr):
                            kind, ref = attr[1:].split("/")
                            assert ref in found.get(kind, set()) or ref in _values_names(kind), f"{name}: {attr}"
    return found


def _values_names(kind: str) -> set[str]:
    values = os.path.join(MAIN, "res", "values")
    names = set()
    for name in os.listdir(values):
        for element in ET.parse(os.path.join(values, name)).getroot():
            if (element.get("type") or element.tag) == kind:
                names.add(element.get("name"))
    return names


def test_every_resource_the_kotlin_uses_is_defined():
    """What aapt and the Kotlin compiler would reject first: an R.x.y without its resource."""
    resources = _resources()
    used = set()
    for root, _, files in os.walk(KOTLIN):
        for name in files:
            with open(os.path.join(root, name), encoding="utf-8") as f:
                used |= set(re.findall(r"\bR\.(\w+)\.(\w+)", code_only(f.read())))
    assert used, "no resource references found"
    missing = sorted(f"R.{kind}.{name}" for kind, name in used if name not in resources.get(kind, set()))
    assert missing == []
    # and a reference to a resource that is not there is caught
    assert "nope" not in resources.get("string", set())


def test_the_pure_parts_import_nothing_from_android():
    """model/ is plain Kotlin (JUnit-testable on any JVM): no Android, AndroidX or LiteRT import."""
    folder = os.path.join(KOTLIN, "model")
    for name in os.listdir(folder):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            imports = re.findall(r"^import ([\w.]+)", f.read(), re.M)
        bad = [i for i in imports if i.startswith(("android.", "androidx.", "org.tensorflow.", "com.google."))]
        assert bad == [], f"{name}: {bad}"
    with open(os.path.join(APP, "app", "src", "test", "kotlin", "org", "tfgancomp", "demo", "model",
                           "TensorCodecTest.kt"), encoding="utf-8") as f:  # fmt: skip
        assert "import org.junit.Test" in f.read()


def test_the_runtime_side_uses_the_gpu_delegate_when_supported_else_xnnpack_off_the_ui_thread():
    generator = code_only(kotlin("Generator.kt"))
    assert "CompatibilityList()" in generator and "isDelegateSupportedOnThisDevice" in generator
    assert "GpuDelegate(" in generator and "setUseXNNPACK(true)" in generator
    assert "FileUtil.loadMappedFile(" in generator  # memory-mapped from assets
    activity = code_only(kotlin("MainActivity.kt"))
    assert "Executors.newSingleThreadExecutor()" in activity
    # the interpreter is only created, run and closed inside worker.execute { ... } blocks
    for call in ("Generator.open(", "model.run(", "generator?.close()"):
        position = activity.index(call)
        assert activity.rfind("worker.execute {", 0, position) > activity.rfind("\n    }", 0, position), call
    assert "R.string.model_load_failed" in activity  # the on-screen message when the model cannot load
