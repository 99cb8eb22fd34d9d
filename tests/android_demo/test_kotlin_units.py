"""Compile the app's plain-Kotlin parts with a real Kotlin compiler and run their JUnit tests (`./gradlew test`'s
job, without Gradle or the Android SDK, which these machines cannot fetch).

Needs ``kotlinc`` (``$KOTLINC``, on ``PATH``, or ``android_demo/.tools`` from
``npm install --prefix android_demo/.tools kotlin-compiler``) and JUnit 4 (``$JUNIT_CLASSPATH``, or Debian's
``junit4`` package); skipped, saying which is missing, otherwise. Only ``model/`` is compiled: the Android side
(``Generator``, ``MainActivity``, ``DrawingView``) needs the Android SDK and LiteRT's AARs.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

import pytest

APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "android_demo")
MODULE = os.path.join(APP, "app")
DEBIAN_JUNIT = ("/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar")


def _kotlinc() -> str | None:
    for candidate in (
        os.environ.get("KOTLINC"),
        shutil.which("kotlinc"),
        os.path.join(APP, ".tools", "node_modules", "kotlin-compiler", "bin", "kotlinc"),
    ):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _junit() -> str | None:
    if os.environ.get("JUNIT_CLASSPATH"):
        return os.environ["JUNIT_CLASSPATH"]
    return os.pathsep.join(DEBIAN_JUNIT) if all(os.path.isfile(p) for p in DEBIAN_JUNIT) else None


def test_pure_kotlin_parts_compile_and_their_junit_tests_pass(tmp_path):
    kotlinc, junit = _kotlinc(), _junit()
    if kotlinc is None:
        pytest.skip(
            "no Kotlin compiler ($KOTLINC, kotlinc on PATH, or android_demo/.tools: see android_demo/README.md)"
        )
    if junit is None:
        pytest.skip("no JUnit 4 ($JUNIT_CLASSPATH or Debian's junit4 package)")
    if shutil.which("java") is None:
        pytest.skip("no java")
    stdlib = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(kotlinc))), "lib", "kotlin-stdlib.jar")
    if not os.path.isfile(stdlib):
        pytest.skip(f"{kotlinc} has no lib/kotlin-stdlib.jar beside it")
    main = sorted(glob.glob(os.path.join(MODULE, "src", "main", "kotlin", "org", "tfgancomp", "demo", "model", "*.kt")))
    tests = sorted(glob.glob(os.path.join(MODULE, "src", "test", "kotlin", "**", "*.kt"), recursive=True))
    assert main and tests
    out = tmp_path / "classes"
    compiled = subprocess.run(
        [kotlinc, "-jvm-target", "17", "-Werror", "-cp", junit, "-d", str(out), *main, *tests],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    classes = []
    for path in tests:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        package = re.search(r"^package ([\w.]+)", source, re.M).group(1)
        classes += [f"{package}.{name}" for name in re.findall(r"^class (\w+Test)\b", source, re.M)]
    assert len(classes) == len(tests)
    ran = subprocess.run(
        ["java", "-cp", os.pathsep.join([str(out), stdlib, junit]), "org.junit.runner.JUnitCore", *classes],
        cwd=MODULE, capture_output=True, text=True, timeout=300,  # Gradle runs unit tests in the module folder
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    assert re.search(r"^OK \((\d+) tests\)$", ran.stdout, re.M), ran.stdout[-2000:]
