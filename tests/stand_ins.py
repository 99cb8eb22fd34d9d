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


def phone_adb(bin_dir, device, serial: str) -> None:
    """A stand-in ``adb -s serial`` whose phone keeps ``/data/local/tmp`` in the folder ``device``.

    ``push`` copies there; ``shell`` runs the command with sh here, the phone's paths mapped into ``device``.
    """
    stand_in(bin_dir, "adb", f"""
        device = {str(device)!r}
        if argv[:2] != ["-s", {serial!r}]:
            sys.exit("adb: no serial")
        if argv[2] == "push":
            import shutil
            shutil.copy(argv[3], device + argv[4])
            print("1 file pushed")
        elif argv[2] == "shell":
            command = argv[3].replace("/data/local/tmp", device + "/data/local/tmp")
            done = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
            print(done.stdout, end="")
            print(done.stderr, end="", file=sys.stderr)
            sys.exit(done.returncode)
        """)  # fmt: skip


def ssh_that_runs_locally(bin_dir, host: str) -> None:
    """A stand-in ssh for ``host``: runs the remote command with sh here, standard input passed through."""
    stand_in(bin_dir, "ssh", f"""
        if argv[:3] != ["-o", "BatchMode=yes", {host!r}]:
            print("ssh: unexpected arguments", argv, file=sys.stderr)
            sys.exit(255)
        done = subprocess.run(["sh", "-c", argv[3]], input=data, capture_output=True)
        sys.stdout.buffer.write(done.stdout)
        sys.stderr.buffer.write(done.stderr)
        sys.exit(done.returncode)
        """)  # fmt: skip
