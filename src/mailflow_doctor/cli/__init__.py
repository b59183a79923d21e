"""Thin command-line layer: arguments → evidence → diagnosis → renderer → exit code.

Exit codes and the lines printed besides a report: console.py (Typer-free, shared with
launch.py's quick path).

One module per command group (`trace`, `firewall`, `logs`) and `app.py` for the whole app with
the top-level commands; here, what they all share. Each command imports what only it needs
(HTTP and MSAL for `trace fetch`, the checks for `diagnose`, ...): a start-up that loaded
everything would cost ~0.3 s on every command.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .. import console
from ..console import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, warn

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "Format", "FormatOpt", "Instance",
           "InstanceOpt", "OutputOpt", "StoreOpt", "emit", "fail", "root", "warn"]


def root() -> typer.Typer:
    """The top level of the app, before any command is added. `app.py` adds them all; for
    `mailflow-doctor logs ...` launch.py adds only the `logs` group, so that no other command is
    loaded or built (tests/test_launch.py holds the two answering alike)."""
    return typer.Typer(
        add_completion=False, no_args_is_help=True,
        help="Find out why mail from Exchange Online is not reaching on-premises Exchange.")


class Format(str, Enum):
    text = "text"
    json = "json"


class Instance(str, Enum):
    worldwide = "worldwide"
    usgovdod = "usgovdod"
    usgovgcchigh = "usgovgcchigh"
    china = "china"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Report format.")]
OutputOpt = Annotated[Optional[Path], typer.Option(
    "--output", "-o", help="Write the report to this file instead of the terminal.")]
InstanceOpt = Annotated[Instance, typer.Option(
    help="Microsoft 365 cloud whose EOP ranges apply.")]
StoreOpt = Annotated[Optional[Path], typer.Option(
    help="Case store (DuckDB file) for protocol logs: created if missing, and a later run "
         "reads only new or changed logs. Default: a temporary store.")]


def fail(message: str) -> typer.Exit:
    """One clear line on stderr and exit code 2: for bad usage and unusable input."""
    console.error(message)
    return typer.Exit(EXIT_USAGE)


def emit(text: str, output: Path | None) -> None:
    if not console.emit(text, output):
        raise typer.Exit(EXIT_USAGE)
