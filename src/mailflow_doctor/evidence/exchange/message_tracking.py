"""Exchange Server message tracking logs (MSGTRK*): 2010 (26 fields) and 2013 and later (30).

A file is W3C-style like the protocol logs: `#Software`, `#Version`, `#Log-type: Message Tracking
Log`, `#Date` and `#Fields` lines, then CSV rows, UTF-8 with a BOM (formats.md §2). Rows are read
by the names in `#Fields`, so a header block further down (the service restarted, perhaps after
an upgrade that changed the field list) switches the columns for the rows below it; before any
`#Fields` the field count tells the layout. The file is streamed line by line.

The subject is never kept, not even in the excerpt. Recipient statuses that read as an SMTP reply
or an LED string (always those of DEFER and FAIL) are decoded with the message-trace reason
decoder: on-premises failures use the same `[{LED=...};{MSG=...};...]` shape as Exchange Online.

Bad lines (wrong field count, broken quoting, binary junk, not a time) become `InputProblem`s
naming file and line; every good row is still used.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator
from pathlib import Path

from ...model import InputProblem, Location, Parsed
from ...model.trace import DeferReason
from ...model.tracking import TrackingEvent, message_key
from ..textio import gathered
from ..timefmt import parse_time
from ..trace.reason import decode_reason
from ._w3c import FIELDS_LINE, HEADER, LOG_TYPE_LINE, W3CLogReader

KIND = "exchange-message-tracking"

LOG_TYPE = "message tracking log"
FIELDS_2013 = ("date-time", "client-ip", "client-hostname", "server-ip", "server-hostname",
               "source-context", "connector-id", "source", "event-id", "internal-message-id",
               "message-id", "network-message-id", "recipient-address", "recipient-status",
               "total-bytes", "recipient-count", "related-recipient-address", "reference",
               "message-subject", "sender-address", "return-path", "message-info",
               "directionality", "tenant-id", "original-client-ip", "original-server-ip",
               "custom-data", "transport-traffic-type", "log-id", "schema-version")
# Exchange 2010 SP1 and later: the same without the four fields 2013 added.
FIELDS_2010 = tuple(name for name in FIELDS_2013 if name not in (
    "network-message-id", "transport-traffic-type", "log-id", "schema-version"))
_BY_COUNT = {len(names): names for names in (FIELDS_2010, FIELDS_2013)}
_REQUIRED = {"date-time", "event-id", "internal-message-id"}  # what makes a tracking #Fields
SUBJECT = "message-subject"
ALWAYS_DECODED = frozenset({"DEFER", "FAIL"})
EXCERPT_CHARS = 300

_EVENT_ID = re.compile(r"[A-Za-z][A-Za-z_]*")
_REPLY_OR_LED = re.compile(r"\s*(?:[2-5]\d\d[ -]|[2-5]\.\d{1,3}\.\d{1,3}(?![\d.])|\{?\[\{LED=)")
# A `;` that starts the next recipient's status, not one inside a status text or LED string.
_NEXT_STATUS = re.compile(r";(?=\s*(?:[2-5]\d\d[ -]|\{?\[\{LED=))")

Item = TrackingEvent | InputProblem


def _field_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in value.split(","))


def sniff(head: str) -> bool:
    """True for a tracking log: by its `#Log-type`/`#Fields` header, or by its first row."""
    head = head.lstrip("\ufeff")
    if m := LOG_TYPE_LINE.search(head):
        return m.group(1).lower() == LOG_TYPE
    if m := FIELDS_LINE.search(head):
        return _REQUIRED <= set(_field_names(m.group(1)))
    first = next((line for line in head.splitlines() if line.strip()), "")
    try:
        values = next(csv.reader([first], strict=True), [])
    except csv.Error:
        return False
    return (len(values) in _BY_COUNT
            and values[0][4:5] == "-" and parse_time(values[0]) is not None
            and bool(_EVENT_ID.fullmatch(values[FIELDS_2013.index("event-id")])))


def parse(path: str | Path, message_ids: Collection[str] | None = None
          ) -> Parsed[TrackingEvent]:
    """The events of one log, in file order, and the problems met on the way.

    With `message_ids` (as `message_key` gives them), only the events of those messages are
    kept: a busy server logs millions of events, and a question is about a few messages.
    """
    return gathered(iter_events(path, message_ids))


def iter_events(path: str | Path, message_ids: Collection[str] | None = None
                ) -> Iterator[Item]:
    """Stream events and problems as they are read; never raises."""
    return _LogReader.stream(path, message_ids)


class _LogReader(W3CLogReader[TrackingEvent]):
    """The header state of one file: which field list the rows below follow."""

    def __init__(self, source: str, message_ids: Collection[str] | None = None) -> None:
        super().__init__(source)
        self.names: tuple[str, ...] | None = None  # None until a #Fields line: go by the count
        self.message_ids = message_ids

    def _row(self, number: int, text: str, complete: bool) -> tuple[Item, ...]:
        event = self._event(number, text)
        if isinstance(event, str):
            cut = "" if complete else "incomplete last line (file cut off?): "
            return (self._problem(number, cut + event),)
        return () if event is None else (event,)

    def _header(self, number: int, text: str) -> InputProblem | None:
        """`#Fields` steers the rows below it; a foreign `#Log-type` is noted; the rest are
        comments (`#Software`, `#Version`, `#Date`)."""
        m = HEADER.match(text)
        if not m:
            return None
        key, value = m.group(1).lower(), m.group(2).strip()
        if key == "log-type" and value.lower() != LOG_TYPE:
            return self._problem(number, f"#Log-type {value[:60]!r} is not a message tracking log")
        if key == "fields":
            names = _field_names(value)
            if not _REQUIRED <= set(names):
                return self._problem(number, "#Fields lacks date-time, event-id or "
                                             "internal-message-id; keeping the previous field list")
            self.names = names
        return None

    def _event(self, number: int, text: str) -> TrackingEvent | str | None:
        """The event of one row; or why the line is not a usable row; None for a good row of a
        message not asked about."""
        try:
            values = next(csv.reader([text], strict=True), [])
        except csv.Error as exc:
            return f"malformed CSV ({exc}); line skipped"
        names = self.names or _BY_COUNT.get(len(values))
        if names is None:
            return f"expected 26 or 30 fields, found {len(values)}; line skipped"
        if len(values) != len(names):
            return f"expected {len(names)} fields, found {len(values)}; line skipped"
        cells = dict(zip(names, values))

        def get(name: str) -> str:
            return cells.get(name, "").strip()

        time = parse_time(get("date-time"))
        if time is None:
            return f"date-time {get('date-time')[:40]!r} is not a valid time; line skipped"
        event_id = get("event-id").upper()
        if not _EVENT_ID.fullmatch(event_id):
            return f"event-id {event_id[:40]!r} is not an event name; line skipped"
        if self.message_ids is not None and message_key(get("message-id")) not in self.message_ids:
            return None
        recipients = tuple(r.strip() for r in get("recipient-address").split(";") if r.strip())
        statuses = _statuses(get("recipient-status"), len(recipients))
        return TrackingEvent(
            time_utc=time,
            event_id=event_id,
            location=Location(self.source, number),
            excerpt=_excerpt(values, names),
            client_ip=get("client-ip") or None,
            client_hostname=get("client-hostname") or None,
            server_ip=get("server-ip") or None,
            server_hostname=get("server-hostname") or None,
            source_context=get("source-context") or None,
            connector_id=get("connector-id") or None,
            source=get("source").upper() or None,
            internal_message_id=get("internal-message-id") or None,
            message_id=get("message-id") or None,
            network_message_id=get("network-message-id") or None,
            recipients=recipients,
            recipient_status=statuses,
            reasons=tuple(_reason(status, event_id) for status in statuses),
            total_bytes=_number(get("total-bytes")),
            recipient_count=_number(get("recipient-count")),
            sender=get("sender-address") or None,
            directionality=get("directionality") or None,
        )


def _statuses(text: str, recipients: int) -> tuple[str, ...]:
    """One status per recipient. A status may itself hold `;` (`550 4.4.7 QUEUE.Expired;<text>`,
    LED strings), so the split is only where a new reply starts; surplus parts stay with the last
    recipient and missing ones are empty, so the positions keep matching the recipients."""
    parts = [p.strip() for p in _NEXT_STATUS.split(text)] if text else []
    if len(parts) > recipients >= 1:
        parts[recipients - 1:] = [";".join(parts[recipients - 1:])]
    return tuple(parts) + ("",) * (recipients - len(parts))


def _reason(status: str, event_id: str) -> DeferReason | None:
    if status and (event_id in ALWAYS_DECODED or _REPLY_OR_LED.match(status)):
        return decode_reason(status)
    return None


def _number(text: str) -> int | None:
    return int(text) if text.isdecimal() and len(text) <= 18 else None


def _excerpt(values: list[str], names: tuple[str, ...]) -> str:
    """The row as logged but without its subject (privacy), cut to EXCERPT_CHARS."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(
        "" if name == SUBJECT else value for name, value in zip(names, values))
    return out.getvalue()[:EXCERPT_CHARS]
