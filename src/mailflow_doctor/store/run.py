"""What `mailflow-doctor logs sessions|summary` call: paths and options in, a result out.

Opening the store, registering the paths, reading what the question needs and asking it are
done here so that the CLI stays a thin layer and logs_command.py runs the same code without
loading Typer. Errors the admin can fix (bad address, locked store) raise `QueryError` with a
one-line message; bad lines in the logs never do.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..ipspace import PrefixSet
from ..model import InputProblem
from ..model.exchange import SmtpSession
from .db import Opening, StoreError, open_store
from .files import Registration, register
from .load import count_sessions, query_sessions
from .load import problems as stored_problems
from .queries import SessionFilter

if TYPE_CHECKING:  # summary.py is imported by the one command that needs it
    from .summary import Summary

MAX_PROBLEMS_SHOWN = 50
StoreArg = str | Path | Opening | None  # a path (None: temporary), or an Opening (its owner closes)


class QueryError(Exception):
    """Bad usage or an unusable store: the CLI prints it as one line and exits 2."""


@dataclass
class RunInfo:
    """How the answer was obtained, for the report's footer."""

    store: str | None  # None: a temporary store, deleted afterwards
    registration: Registration
    ingested: int = 0  # files read now
    skipped: int = 0  # files already in the store, unchanged
    deferred: int = 0  # files outside the window, left unread
    python_reader: int = 0
    bad_lines: int = 0  # in the files of this run
    problems: list[InputProblem] = field(default_factory=list)  # the first ones, with lines


@dataclass
class SessionsResult:
    filter: SessionFilter
    sessions: list[SmtpSession]
    info: RunInfo


@dataclass
class DiagnosisSessions:
    """What `diagnose` takes from the logs: the sessions it asked for and how many there were."""

    sessions: list[SmtpSession]
    total: int  # sessions of any source in the window
    info: RunInfo


@dataclass
class SummaryResult:
    summary: Summary
    info: RunInfo


def _ingest(store, since, until, progress, reg: Registration) -> RunInfo:
    from . import ingest

    try:
        stats = ingest(store, since, until, progress)
    except StoreError as exc:
        raise QueryError(str(exc)) from None
    shown, total = stored_problems(store, MAX_PROBLEMS_SHOWN) if stats.bad_lines_total \
        else ([], 0)
    return RunInfo(None if store.temporary else str(store.path), reg, stats.ingested,
                   stats.skipped, stats.deferred, stats.python_reader, total,
                   reg.problems + shown)


def run_sessions_query(paths: Iterable[str | Path], store_path: StoreArg = None, *,
                       ip: str | None = None, cidr: str | None = None, eop: bool | str = False,
                       since: datetime | None = None, until: datetime | None = None,
                       progress=None) -> SessionsResult:
    """`logs sessions PATH... [--ip|--range] [--since] [--until] [--store]`.

    `cidr` may be the word `eop` (the EOP ranges of `eop`'s instance, worldwide by default).
    With no paths and a store, the whole store is asked. The store may be a path or a
    db.Opening under way (the commands start one before importing the rest).
    """
    _check_window(since, until)
    if cidr and cidr.strip().lower() == "eop":
        cidr, eop = None, eop or True
    query = SessionFilter(ip, cidr, eop, since, until)
    try:
        prefixes = query.prefixes()
    except ValueError as exc:
        raise QueryError(str(exc)) from None
    with _opened(store_path) as store:
        reg = _logs_found(store, paths)
        info = _ingest(store, since, until, progress, reg)
        return SessionsResult(query, query_sessions(store, since, until, prefixes), info)


def sessions_for_diagnosis(paths: Iterable[str | Path], store_path: str | Path | None = None,
                           *, prefixes: PrefixSet | None = None, ehlo_suffix: str | None = None,
                           since: datetime | None = None, until: datetime | None = None,
                           progress=None) -> DiagnosisSessions:
    """The sessions from `prefixes` (or announcing `ehlo_suffix`) in the window, through the
    store, so that gigabytes of logs give the diagnosis only the sessions its checks read."""
    with _opened(store_path) as store:
        reg = _register(store, paths)
        info = _ingest(store, since, until, progress, reg)
        found = query_sessions(store, since, until, prefixes, ehlo_suffix=ehlo_suffix)
        return DiagnosisSessions(found, count_sessions(store, since, until), info)


def run_summary_query(paths: Iterable[str | Path], store_path: StoreArg = None, *,
                      by: str = "source-prefix", instance: str = "worldwide",
                      since: datetime | None = None, until: datetime | None = None,
                      progress=None) -> SummaryResult:
    """`logs summary PATH... [--by source-prefix|server|hour] [--store]`."""
    from .summary import GROUPINGS, summary

    _check_window(since, until)
    if by not in GROUPINGS:
        raise QueryError(f"unknown grouping {by!r}; choose one of {', '.join(GROUPINGS)}")
    with _opened(store_path) as store:
        reg = _logs_found(store, paths)
        info = _ingest(store, since, until, progress, reg)
        try:
            return SummaryResult(summary(store, by, instance, since, until), info)
        except ValueError as exc:  # an unknown instance
            raise QueryError(str(exc)) from None


def _check_window(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until < since:
        raise QueryError(f"--until {until:%Y-%m-%d %H:%M}Z is before --since "
                         f"{since:%Y-%m-%d %H:%M}Z")


def _opened(store_path: StoreArg):
    """The store as a context: closed at its end when opened here; an Opening's store is left
    to its owner, who may close it while rendering (Opening.close_behind)."""
    try:
        if isinstance(store_path, Opening):
            return nullcontext(store_path.store())
        return open_store(store_path)
    except StoreError as exc:
        raise QueryError(str(exc)) from None


def _register(store, paths) -> Registration:
    paths = list(paths)
    if not paths and store.temporary:
        raise QueryError("no protocol logs given")
    try:
        return register(store, paths) if paths else Registration()
    except StoreError as exc:
        raise QueryError(str(exc)) from None


def _logs_found(store, paths) -> Registration:
    """_register for the `logs` commands, where paths holding no protocol log at all are an
    error: a mistyped folder must not read as "no sessions"."""
    paths = list(paths)
    reg = _register(store, paths)
    if paths and not reg.files:
        why = "; ".join(str(p) for p in reg.problems[:3])
        raise QueryError(f"no SMTP protocol log found in {', '.join(str(p) for p in paths)}"
                         + (f" ({why})" if why else ""))
    return reg
