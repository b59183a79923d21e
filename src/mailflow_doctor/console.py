"""What every command prints besides its report, and where the report goes; no Typer here.

cli/ wraps these for its commands, and logs_command.py uses them as they are when launch.py
runs a query without loading Typer, so both print the same lines.
Exit codes (a contract): 0 nothing wrong found, 1 problems found, 2 bad usage or no usable input.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from .report.terminal import escaped

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def error(message: str) -> None:
    """One clear line on stderr (the message may quote the input, so it is escaped)."""
    sys.stderr.write(f"mailflow-doctor: {escaped(message)}\n")
    sys.stderr.flush()


def warn(problems: Iterable[object]) -> None:
    """Each input problem as one line on stderr; the rest of the input is still used."""
    for problem in problems:
        sys.stderr.write(f"warning: {escaped(str(problem))}\n")
    sys.stderr.flush()


def emit(text: str, output: Path | None) -> bool:
    """The report to stdout, or to `output`; False (after saying why) when it cannot be written."""
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return True
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        error(f"{output}: cannot write report: {exc.strerror}")
        return False
    return True
