"""Stand-in executables (adb, ssh, benchmark_model) for the tests of the remote benchmark targets.

Each stand-in is a Python script put first on ``PATH`` that appends its argv (and the size of its standard input) to
``calls.jsonl`` in its folder, then runs a body of Python given by the test (``argv`` and ``data`` = stdin bytes).
"""

from __future__ import annotations

import json
import sys
import textwrap


def stand_in(bin_dir, name: str, body: str) -> None:
    """An executable ``name`` in ``bin_dir`` that logs its call to ``calls.jsonl``, then runs ``body``."""
    path = bin_dir / name
    path.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            f"""
            import json, os, subprocess, sys
            argv = sys.argv[1:]
            data = sys.stdin.buffer.read() if not sys.stdin.isatty() else b""
            with open(os.path.join({str(bin_dir)!r}, "calls.jsonl"), "a") as f:
                f.write(json.dumps({{"tool": {name!r}, "argv": argv, "stdin_bytes": len(data)}}) + "\\n")
            """
        )
        + textwrap.dedent(body)
    )
    path.chmod(0o755)


def calls(bin_dir) -> list[dict]:
    """Every logged call, in order: ``{"tool", "argv", "stdin_bytes"}``."""
    return [json.loads(line) for line in (bin_dir / "calls.jsonl").read_text().splitlines()]
