"""The notebooks in ``notebooks/`` ship without outputs and run top to bottom (nbclient, kernel ``python3``)."""

from __future__ import annotations

import os
import re
import time

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks")
CELL_TIMEOUT_S = 600


def _outputs(nb) -> list[dict]:
    return [output for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs]


def _text(nb) -> str:
    """Everything the executed notebook printed or displayed as text (streams, plain text, markdown)."""
    parts = []
    for output in _outputs(nb):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("display_data", "execute_result"):
            parts += [output.data.get(kind, "") for kind in ("text/plain", "text/markdown")]
    return "\n".join(parts)


def _markdown(nb) -> list[str]:
    return [o.data["text/markdown"] for o in _outputs(nb) if "text/markdown" in o.get("data", {})]


def _png_count(nb) -> int:
    return sum("image/png" in o.get("data", {}) for o in _outputs(nb))


def _check_quickstart(nb) -> None:
    tables = [t for t in _markdown(nb) if "| teacher (float16) |" in t]
    assert tables, "the report's table is not displayed"
    assert "| compressed float16 |" in tables[0] and "| compressed int8 |" in tables[0]
    assert _png_count(nb) >= 3  # a dataset image and the report's figures
    text = _text(nb)
    assert "chosen configuration:" in text and "done before, skipped" in text


def _check_stages(nb) -> None:
    tables = [t for t in _markdown(nb) if "The search's best trials" in t]
    assert tables and re.search(r"\| `\d+(_\d+){7}` \|", tables[0]), "the search's results are not displayed"
    summary = [t for t in _markdown(nb) if "| int8 QAT (Keras) |" in t]
    assert summary and "| fine-tuned |" in summary[0]
    assert _png_count(nb) >= 2  # the distillation samples and the search scatter
    assert '"target": "float"' in _text(nb)  # the QAT record of the int8 bundle


def _check_export(nb) -> None:
    text = _text(nb)
    parsed = re.search(r"parsed median latency: ([0-9.eE+-]+) ms", text)
    assert parsed and float(parsed.group(1)) > 0, "the parsed benchmark_model latency is missing"
    host = re.findall(r"host median latency of student_(\w+): ([0-9.]+) ms", text)
    assert {p for p, _ in host} == {"float32", "float16", "int8"} and all(float(ms) > 0 for _, ms in host)
    assert any("Speedup of student_float32/model.tflite over teacher_float32/model.tflite" in t for t in _markdown(nb))
    assert "GPU delegate compatible: True" in text
    assert _png_count(nb) >= 2  # the bundle's sample input and output


CHECKS = {
    "01_quickstart.ipynb": _check_quickstart,
    "02_distill_search_quantize.ipynb": _check_stages,
    "03_export_and_benchmark.ipynb": _check_export,
}


def test_every_notebook_is_tested():
    assert sorted(n for n in os.listdir(NOTEBOOKS) if n.endswith(".ipynb")) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_is_committed_without_outputs(name):
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs before committing"


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's tempfile.mkdtemp() working folder: under tmp_path
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    start = time.monotonic()
    client.execute()  # raises CellExecutionError (with the cell and its traceback) on any error
    print(f"{name}: executed in {time.monotonic() - start:.1f} s")
    errors = [o for o in _outputs(nb) if o.output_type == "error"]
    assert not errors, errors
    CHECKS[name](nb)
