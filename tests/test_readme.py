"""Every Python snippet of the README runs as written, in order, in one fresh interpreter in an empty folder.

They form one session (a later snippet uses the models and files an earlier one made), at the tiny sizes the
snippets themselves state. The figures a snippet prints in its comments are checked where they are exact.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"^```python\n(?P<code>.*?)^```", re.S | re.M)

# benchmark_model's output lines (desktop form) for the `parse(open("phone_run.log").read())` snippet.
PHONE_RUN_LOG = """INFO: Num threads: [4]
INFO: Replacing 41 out of 41 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions for the whole \
graph.
INFO: count=50 first=5200 curr=4900 min=4800 max=5300 avg=4980.5 std=110 p5=4810 median=4950 p95=5210
INFO: Inference timings in us: Init: 119515, First inference: 5200, Warmup (avg): 5100.2, Inference (avg): 4980.5
"""


def readme_blocks() -> list[tuple[int, str]]:
    """``(line, code)`` of every ```python block of the README."""
    text = README.read_text()
    return [(text[: m.start()].count("\n") + 2, m.group("code")) for m in BLOCK.finditer(text)]


def test_the_readme_has_python_snippets_and_runs_them_all():
    assert len(readme_blocks()) >= 8
    assert "<!-- not run" not in README.read_text()  # no snippet is exempt


DRIVER = textwrap.dedent(
    """
    import json, sys, traceback
    blocks = json.load(open(sys.argv[1]))
    namespace = {"__name__": "__readme__"}
    for line, code in blocks:
        print(f"=== README.md:{line}", flush=True)
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except BaseException:
            traceback.print_exc()
            print(f"README snippet at line {line} failed", file=sys.stderr)
            sys.exit(1)
    """
)


def test_every_runnable_snippet_runs_as_written(tmp_path):
    runnable = readme_blocks()
    (tmp_path / "blocks.json").write_text(json.dumps(runnable))
    (tmp_path / "driver.py").write_text(DRIVER)
    work = tmp_path / "work"
    work.mkdir()
    (work / "phone_run.log").write_text(PHONE_RUN_LOG)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    done = subprocess.run([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json")], cwd=work,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        pytest.fail(f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}")
    out = done.stdout
    assert out.count("=== README.md:") == len(runnable)
    # The figures the API snippet's comments give: the published sub-mobile cost, and the export's verdict.
    assert "2.670067712 1.962278912 341627" in out
    assert "_down2_act" in out and "_block9_out" in out and "Parity(max_abs=" in out
    assert (work / "generator.tflite").stat().st_size > 0
