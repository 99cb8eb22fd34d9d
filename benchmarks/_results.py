"""Shared output of the benchmark scripts: the machine description and the results JSON file."""

from __future__ import annotations

import json
import os
import platform


def machine(tensorflow_version: str) -> dict:
    """What the figures were measured on."""
    return {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "tensorflow": tensorflow_version}  # fmt: skip


def write_results(path: str, results: dict) -> None:
    """Write ``results`` as indented JSON to ``path`` (folders created) and print it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps(results, indent=2))
