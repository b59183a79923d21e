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
    write(sys.stderr, f"mailflow-doctor: {escaped(message)}\n")


def warn(problems: Iterable[object]) -> None:
    """Each input problem as one line on stderr; the rest of the input is still used."""
    for problem in problems:
        write(sys.stderr, f"warning: {escaped(str(problem))}\n")


def emit(text: str, output: Path | None) -> bool:
    """The report to stdout, or to `output`; False (after saying why) when it cannot be written."""
    if output is None:
        write(sys.stdout, text)
        return True
    try:
        output.write_text(text, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        error(f"{output}: cannot write report: {exc.strerror}")
        return False
    return True


def write(stream, text: str) -> None:
    """`text` on a standard stream, flushed: nothing when the stream is closed (None, as
    click.echo does), and UTF-8 when the stream's encoding cannot hold the text (an ASCII
    PYTHONIOENCODING or C locale), what UTF-8 cannot hold either as a backslash escape."""
    if stream is None:
        return
    try:
        stream.write(text)
    except UnicodeEncodeError:  # raised before anything of `text` is written
        stream.flush()
        stream.buffer.write(text.encode("utf-8", "backslashreplace"))
    stream.flush()
