"""`mailflow-doctor logs ...`: SMTP protocol logs through the case store.

A repeated query is timed in tenths of a second, so `mailflow-doctor logs ...` loads this
group alone (see launch.py).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..evidence.timefmt import parse_time
from ..progress import RichProgress
from . import Format, FormatOpt, Instance, InstanceOpt, OutputOpt, StoreOpt, emit, fail, warn

logs_app = typer.Typer(no_args_is_help=True, help=(
    "Ask Exchange SMTP protocol logs (any volume) through the case store: sessions, summary."))
LogPathsArg = Annotated[Optional[list[Path]], typer.Argument(
    help="SmtpReceive/SmtpSend protocol log files or folders; none: ask the --store as it is.")]
SinceOpt = Annotated[Optional[str], typer.Option(
    help="Sessions from this time on (UTC unless a zone is given), e.g. 2026-11-27T08:00.")]
UntilOpt = Annotated[Optional[str], typer.Option(help="Sessions up to this time.")]


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    out = []
    for name, text in (("--since", since), ("--until", until)):
        value = parse_time(text) if text else None
        if text and value is None:
            raise fail(f"{name} {text!r}: not a date and time (use e.g. 2026-11-27T08:00Z)")
        out.append(value)
    return out[0], out[1]


def _logs_query(command: str, store: Path | None, ask, fmt: Format,
                output: Path | None) -> None:
    """Run `ask(run module, store, progress)` and print its result; the store is opened first,
    on a thread (if launch.py has not already started it), so that the imports here overlap
    DuckDB's connect (see store.db.Opening)."""
    from ..store.db import opening as store_opening

    with store_opening(store) as opening:
        from ..report.logs import RENDERERS as LOG_RENDERERS
        from ..store import run

        try:
            with RichProgress() as progress:
                result = ask(run, opening, progress)
        except run.QueryError as exc:
            raise fail(str(exc)) from None
    warn(result.info.problems)
    emit(LOG_RENDERERS[command][fmt.value](result), output)


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
    start, end = _window(since, until)
    eop = instance.value if (cidr or "").strip().lower() == "eop" else False
    _logs_query("sessions", store, lambda run, opened, progress: run.run_sessions_query(
        paths or [], opened, ip=ip, cidr=None if eop else cidr, eop=eop, since=start,
        until=end, progress=progress), fmt, output)


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
    start, end = _window(since, until)
    _logs_query("summary", store, lambda run, opened, progress: run.run_summary_query(
        paths or [], opened, by=by, instance=instance.value, since=start, until=end,
        progress=progress), fmt, output)
