"""`mailflow-doctor logs ...`: SMTP protocol logs through the case store.

The options, for Typer; the work is logs_command.run, which launch.py also calls without
loading Typer for the plain form of these commands. A repeated query is timed in tenths of a
second, so `mailflow-doctor logs ...` loads this group alone (see launch.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..logs_command import run
from . import Format, FormatOpt, Instance, InstanceOpt, OutputOpt, StoreOpt

logs_app = typer.Typer(no_args_is_help=True, help=(
    "Ask Exchange SMTP protocol logs (any volume) through the case store: sessions, summary."))
LogPathsArg = Annotated[Optional[list[Path]], typer.Argument(
    help="SmtpReceive/SmtpSend protocol log files or folders; none: ask the --store as it is.")]
SinceOpt = Annotated[Optional[str], typer.Option(
    help="Sessions from this time on (UTC unless a zone is given), e.g. 2026-11-27T08:00.")]
UntilOpt = Annotated[Optional[str], typer.Option(help="Sessions up to this time.")]


@logs_app.command("sessions")
def logs_sessions(
    paths: LogPathsArg = None,
    ip: Annotated[Optional[str], typer.Option(help="Sessions from this address.")] = None,
    cidr: Annotated[Optional[str], typer.Option(
        "--range", help="Sessions from this CIDR, or `eop` for the EOP ranges.")] = None,
    since: SinceOpt = None, until: UntilOpt = None, store: StoreOpt = None,
    instance: InstanceOpt = Instance.worldwide, fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
) -> None:
    """Reconstructed SMTP sessions: EHLO, STARTTLS, TLS, certificate, replies, disconnect."""
    raise typer.Exit(run("sessions", paths=paths or [], ip=ip, cidr=cidr, since=since,
                         until=until, store=store, instance=instance.value, fmt=fmt.value,
                         output=output))


@logs_app.command("summary")
def logs_summary(
    paths: LogPathsArg = None,
    by: Annotated[str, typer.Option(help="Group by source-prefix, server or hour.")] = (
        "source-prefix"),
    since: SinceOpt = None, until: UntilOpt = None, store: StoreOpt = None,
    instance: InstanceOpt = Instance.worldwide, fmt: FormatOpt = Format.text,
    output: OutputOpt = None,
) -> None:
    """EOP's traffic: which ranges and /24s connected when, TLS outcomes, certificates shown."""
    raise typer.Exit(run("summary", paths=paths or [], by=by, since=since, until=until,
                         store=store, instance=instance.value, fmt=fmt.value, output=output))
