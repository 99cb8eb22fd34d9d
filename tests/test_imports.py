"""The house rules: one TensorFlow / Keras import point per package, no tf.keras, no Lambda layers; the algorithm
rooms (train, distill, search) never import the pipeline (the run-dir floor above them)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# mobile_export/_runner.py is sent alone to remote boards, where full TensorFlow may be the only TFLite runtime.
IMPORT_POINTS = {"tfgancomp/backend.py", "mobile_export/_backend.py", "mobile_export/_runner.py"}
FORBIDDEN_EVERYWHERE = ("keras", "tf_keras")  # only tfgancomp/backend.py may import these
TENSORFLOW = "tensorflow"


def violations(source: str, path: str) -> list[str]:
    """Rule breaches in one module's source."""
    found = []
    tree = ast.parse(source, filename=path)
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if top in FORBIDDEN_EVERYWHERE and path != "tfgancomp/backend.py":
                found.append(f"{path}:{node.lineno} imports {name}")
            if top == TENSORFLOW and path not in IMPORT_POINTS:
                found.append(f"{path}:{node.lineno} imports {name}")
        if isinstance(node, ast.Attribute) and node.attr == "keras":
            base = node.value
            if isinstance(base, ast.Name) and base.id in ("tf", "tensorflow"):
                found.append(f"{path}:{node.lineno} uses {base.id}.keras")
        if isinstance(node, ast.Attribute) and node.attr == "Lambda":
            found.append(f"{path}:{node.lineno} uses a Lambda layer")
    return found


def package_sources():
    for package in ("tfgancomp", "mobile_export"):
        for file in sorted((ROOT / package).rglob("*.py")):
            yield file.relative_to(ROOT).as_posix(), file.read_text()


def test_only_the_backends_import_tensorflow_or_keras():
    problems = [v for path, src in package_sources() for v in violations(src, path)]
    assert problems == []


def test_checker_catches_each_kind_of_breach():
    bad = (
        "import keras\nimport tf_keras as k\nfrom tensorflow import nn\nimport tensorflow as tf\n"
        "x = tf.keras.layers.Dense(1)\ny = k.layers.Lambda(lambda t: t)\n"
    )
    found = violations(bad, "tfgancomp/models/foo.py")
    assert len(found) == 6, found
    assert violations("import tensorflow as tf\nimport tf_keras\n", "tfgancomp/backend.py") == []
    assert violations("import tf_keras\n", "mobile_export/_backend.py") != []


def test_backend_sets_legacy_keras_and_quiet_logging():
    import os

    from tfgancomp.backend import keras, tf

    assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") is not None
    assert keras.__name__.startswith("tf_keras")
    assert tf.__version__.startswith("2.21")


ALGORITHM_ROOMS = ("tfgancomp/train/", "tfgancomp/distill/", "tfgancomp/search/")


def pipeline_imports(source: str, path: str) -> list[str]:
    """Imports of ``tfgancomp.pipeline`` (at any depth, top level or inside a function) in one module."""
    found = []
    for node in ast.walk(ast.parse(source, filename=path)):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        hits = [n for n in names if n == "tfgancomp.pipeline" or n.startswith("tfgancomp.pipeline.")]
        found += [f"{path}:{node.lineno} imports {hits[0]}"] if hits else []
    return found


def test_algorithm_rooms_never_import_the_pipeline():
    problems = [v for path, src in package_sources() if path.startswith(ALGORITHM_ROOMS)
                for v in pipeline_imports(src, path)]  # fmt: skip
    assert problems == []
    # the checker sees each form of the import
    bad = "def f():\n    import tfgancomp.pipeline\n    from tfgancomp.pipeline.rundir import read_json\n"
    bad += "    from tfgancomp import pipeline\n"
    assert [f.split()[0] for f in pipeline_imports(bad, "x.py")] == ["x.py:2", "x.py:3", "x.py:4"]
    assert pipeline_imports("import tfgancomp.pipelines\nfrom tfgancomp import pipeline_x\n", "x.py") == []
