"""Exchange SMTP Receive / Send protocol logs (2010 `14.0.0.0`, 2013–2019/SE `15.0.0.0`).

One file holds many interleaved sessions, possibly several header blocks (the service appends a
new header after a restart), and it may be cut off mid-line while Exchange is still writing it.
The file is read line by line and each session is folded into a small state object that is
turned into an `SmtpSession` as soon as its disconnect (`-`) row arrives, so memory stays
bounded by the sessions open at one time, not by the size of the log.

Bad lines (wrong field count, broken quoting, binary junk, not a time) become `InputProblem`s
naming file and line; every good row is still used.

A session's server is the one its connector id names (receive logs: `EX01\\Default Frontend
EX01`), else the one the folder layout names (layout.py): send logs name none.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from ...model import InputProblem, Parsed
from ...model.exchange import SmtpSession
from ..textio import gathered
from ._smtp_session import Row, SessionState
from ._w3c import FIELDS_LINE, HEADER, LOG_TYPE_LINE, W3CLogReader, row_time
from .layout import origin

KIND = "smtp-protocol-log"

STANDARD_FIELDS = ("date-time", "connector-id", "session-id", "sequence-number", "local-endpoint",
                   "remote-endpoint", "event", "data", "context")
IDLE = timedelta(minutes=30)  # Exchange drops idle sessions long before this
SWEEP_EVERY = 1024  # rows between looks for sessions that ended without a `-` row

_LOG_TYPES: dict[str, Literal["receive", "send"]] = {
    "smtp receive protocol log": "receive",
    "smtp send protocol log": "send",
}
_UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
_SESSION_ID = re.compile(r"[0-9A-Fa-f]{16}")
_ENDPOINT = re.compile(r"\[?[0-9A-Fa-f:.]+(%\w+)?\]?:\d+")
_EVENTS = ("+", "-", "<", ">", "*", "")

Item = SmtpSession | InputProblem


def sniff(head: str) -> bool:
    """True for a protocol log: by its `#Log-type`/`#Fields` header, or by its first row."""
    head = head.lstrip("\ufeff")
    if m := LOG_TYPE_LINE.search(head):
        return m.group(1).lower() in _LOG_TYPES
    if m := FIELDS_LINE.search(head):
        return tuple(n.strip().lower() for n in m.group(1).split(",")) == STANDARD_FIELDS
    first = next((line for line in head.splitlines() if line.strip()), "")
    try:
        values = next(csv.reader([first], strict=True), [])
    except csv.Error:
        return False
    return (len(values) == len(STANDARD_FIELDS)
            and bool(_UTC_TIME.fullmatch(values[0]))
            and bool(values[1].strip())
            and bool(_SESSION_ID.fullmatch(values[2]))
            and values[3].isdecimal()
            and (not values[4] or bool(_ENDPOINT.fullmatch(values[4])))
            and bool(_ENDPOINT.fullmatch(values[5]))
            and values[6] in _EVENTS)


def parse(path: str | Path) -> Parsed[SmtpSession]:
    """All sessions of one log (in order of their first line) and the problems met on the way."""
    out = gathered(iter_sessions(path))
    out.records.sort(key=lambda s: s.location.line or 0)
    return out


def iter_sessions(path: str | Path) -> Iterator[Item]:
    """Stream sessions as they complete, and problems as they are found; never raises."""
    return _LogReader.stream(path)


class _LogReader(W3CLogReader[SmtpSession]):
    """The header state of one file and its open sessions."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.server = origin(source).server
        self.columns = {name: i for i, name in enumerate(STANDARD_FIELDS)}
        self.log_type: Literal["receive", "send"] | None = None
        self.open: dict[tuple[str, str], SessionState] = {}
        self.rows = 0

    def _end(self) -> Iterator[SmtpSession]:
        """Sessions still open when the file ends (cut off, or the log rolled over)."""
        for key in list(self.open):
            yield self.open.pop(key).finish(self.source)

    def _header(self, number: int, text: str) -> InputProblem | None:
        """`#Log-type` and `#Fields` steer the rows below them; other `#` lines are comments."""
        m = HEADER.match(text)
        if not m:
            return None
        key, value = m.group(1).lower(), m.group(2).strip()
        if key == "log-type":
            self.log_type = _LOG_TYPES.get(value.lower())
            if self.log_type is None:
                return self._problem(number,
                                     f"#Log-type {value[:60]!r} is not an SMTP protocol log")
        elif key == "fields":
            names = [n.strip().lower() for n in value.split(",")]
            if "date-time" not in names or "session-id" not in names:
                return self._problem(number, "#Fields lacks date-time or session-id; "
                                             "keeping the previous field list")
            self.columns = {name: i for i, name in enumerate(names)}
        return None

    def _row(self, number: int, text: str, complete: bool) -> Iterator[Item]:
        row_or_problem = self._read_row(number, text)
        if isinstance(row_or_problem, str):
            cut = "" if complete else "incomplete last line (file cut off?): "
            yield self._problem(number, cut + row_or_problem)
            return
        row, session_id, connector = row_or_problem
        log_type = self.log_type or ("receive" if "\\" in connector else "send")
        key = (log_type, session_id)
        state = self.open.get(key)
        if state is None:
            state = self.open[key] = SessionState(session_id, log_type, connector, row,
                                                  self.server)
        state.add(row)
        if row.event == "-":
            yield self.open.pop(key).finish(self.source)
        self.rows += 1
        if self.rows % SWEEP_EVERY == 0:
            yield from self._sweep(row.time - IDLE)

    def _read_row(self, number: int, text: str) -> tuple[Row, str, str] | str:
        """The row, its session id and connector-id; or why the line is not a usable row."""
        try:
            values = next(csv.reader([text], strict=True), [])
        except csv.Error as exc:
            return f"malformed CSV ({exc}); line skipped"
        if len(values) != len(self.columns):
            return f"expected {len(self.columns)} fields, found {len(values)}; line skipped"

        def get(name: str) -> str:
            index = self.columns.get(name)
            return values[index] if index is not None else ""

        time = row_time(get("date-time"))
        if time is None:
            return f"date-time {get('date-time')[:40]!r} is not a valid ISO 8601 time; line skipped"
        session_id = get("session-id").strip()
        if not session_id:
            return "empty session-id; line skipped"
        seq_text = get("sequence-number").strip() or "0"
        if not seq_text.isdecimal():
            return f"sequence-number {seq_text[:20]!r} is not a number; line skipped"
        row = Row(int(seq_text), number, time, get("local-endpoint"), get("remote-endpoint"),
                  get("event").strip(), get("data"), get("context"))
        return row, session_id, get("connector-id").strip()

    def _sweep(self, before: datetime) -> Iterator[SmtpSession]:
        """Finish sessions idle since `before`: they ended without a `-` row (e.g. a restart)."""
        for key in [k for k, s in self.open.items() if s.last_seen < before]:
            yield self.open.pop(key).finish(self.source)
