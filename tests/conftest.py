"""Fixtures shared by several test modules."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    """A folder first on ``PATH`` for stand-in executables (:mod:`tests.stand_ins`), with an empty call log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (bin_dir / "calls.jsonl").write_text("")
    return bin_dir
