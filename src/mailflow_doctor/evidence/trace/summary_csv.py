"""Summary-level message trace CSVs: `Get-MessageTraceV2 | Export-Csv`, the EAC summary export,
and the EAC enhanced summary report.

A summary row says where a message stands (Status), not what happened when: it becomes one event
named "summary" with the status in lower case. FromIP is the address that handed the message to
Exchange Online (the sending side of the whole passage, not an EOP server) and ToIP where the
service sent it. The enhanced summary instead lists, per recipient, the events seen
(`u@contoso.com##Receive, Send;v@contoso.com##Receive, Fail`): one event per recipient and listed
event, all at the message's origin time and marked summary-level (`is_summary`), so that
trace.merge drops them, like "summary" events, where detailed exports describe the message.

The EAC summary export's header spelling is not documented (formats.md §3.4 [UNV]); names are
compared without case, blanks or underscores, and a `Date (UTC+01:00)` style header is honoured.
The EAC's own summary export may lack the Message ID column (its visible columns are Date,
Sender, Recipient, Subject, Status): each row's message is then named after its date, sender and
subject (`<…@eac-summary.invalid>`, one name for the rows of one message to several recipients),
and one note says that these rows cannot be matched with other exports of the same messages.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from ...model import InputProblem, Location, Parsed
from ...model.trace import TraceEvent
from ._csvtable import Row, Table, header_columns, open_table

KIND = "message-trace-summary"
WHAT = "message trace summary export"

SUMMARY = "summary"  # the event name of a summary row
LEVEL = "_trace_level"  # TraceEvent.data key marking the enhanced summary's coarse events

# Canonical names (lower case, no blanks/underscores/dashes) → spellings met or expected.
_SENDER = ("senderaddress", "sender")
_RECIPIENT = ("recipientaddress", "recipient")
_MESSAGE_ID = ("messageid",)
_TRACE_ID = ("messagetraceid",)
_FROM_IP = ("fromip", "fromipaddress")
_TO_IP = ("toip", "toipaddress")
_KEEP = ("subject", "size")
# Date/Received, optionally with its zone: `Date (UTC)`, `Received (UTC+01:00)`.
_TIME = re.compile(r"(?:date|received|datetime|datereceived)"
                   r"(?:\((?:utc|gmt)?([+-])?(\d{1,2})?(?::?(\d{2}))?\))?")
_ORIGIN = ("origin_timestamp_utc", "origin_timestamp")
_ENHANCED_KEEP = ("network_message_id", "directionality", "connector_id", "delivery_priority",
                  "original_client_ip", "message_subject", "total_bytes")
_DETAIL_COLUMNS = {"event", "event_id", "date_time_utc", "detail"}


def canonical(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name)


def is_summary(event: TraceEvent) -> bool:
    """True for coarse events (summary rows, enhanced summary listings) that detail outranks."""
    return event.event == SUMMARY or event.data.get(LEVEL) == SUMMARY


def summary_event(cells: dict[str, str], when: datetime, message_id: str, location: Location,
                  excerpt: str) -> TraceEvent:
    """One summary event from PowerShell-named fields (lower case), wherever they came from:
    Export-Csv, ConvertTo-Json, the Reporting Web Service or Graph (renamed)."""
    data = {k: v for k in _KEEP if (v := cells.get(k, "").strip())}
    return TraceEvent(
        time_utc=when, message_id=message_id, recipient=cells.get("recipientaddress", "").strip(),
        event=SUMMARY, location=location, excerpt=excerpt,
        trace_id=cells.get("messagetraceid", "").strip() or None,
        sender=cells.get("senderaddress", "").strip() or None,
        status=cells.get("status", "").strip().lower() or None,
        source_ip=cells.get("fromip", "").strip() or None,
        target_ip=cells.get("toip", "").strip() or None, data=data)


def _columns(columns: list[str]) -> dict[str, str]:
    """Canonical name → the file's normalised column name (first spelling wins)."""
    found: dict[str, str] = {}
    for column in columns:
        found.setdefault(canonical(column), column)
    return found


def _time_column(columns: dict[str, str]) -> tuple[str, timedelta] | None:
    for name, column in columns.items():
        m = _TIME.fullmatch(name)
        if m:
            sign, hours, minutes = m.groups()
            offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
            return column, -offset if sign == "-" else offset
    return None


def _pick(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def _shape(columns: set[str]) -> str | None:
    """"enhanced", "summary" or None (another export) for a set of normalised column names."""
    if columns & _DETAIL_COLUMNS:
        return None
    if "recipient_status" in columns and "message_id" in columns:
        return "enhanced" if any(c in columns for c in _ORIGIN) else None
    canon = _columns(sorted(columns))
    if _time_column(canon) and _pick(canon, _RECIPIENT) and "status" in canon:
        return "summary"
    return None


def sniff(head: str) -> bool:
    return _shape(header_columns(head)) is not None


def parse(path: str | Path) -> Parsed[TraceEvent]:
    """Every usable row as events (sorted by time); every unusable row as a problem."""
    table, parsed = open_table(path, (), WHAT)
    if table is None:
        return parsed
    shape = _shape(set(table.columns))
    if shape is None:
        return Parsed(problems=[InputProblem(
            Location(table.path, table.header_line or 1),
            f"not a {WHAT}: the header has no date, recipient and status columns "
            "(nor the enhanced summary's origin_timestamp_utc and recipient_status)")])
    if shape == "enhanced":
        origin = next(c for c in _ORIGIN if c in table.columns)
        events = _enhanced(table, origin)
    else:
        events = _summary(table, parsed)
    events.sort(key=lambda e: (e.time_utc, e.location.line or 0))
    parsed.records = events
    parsed.problems.extend(table.problems)
    return parsed


def _summary(table: Table, parsed: Parsed) -> list[TraceEvent]:
    columns = _columns(table.columns)
    timing = _time_column(columns)
    id_col, recipient_col = _pick(columns, _MESSAGE_ID), _pick(columns, _RECIPIENT)
    if id_col is None:
        parsed.problems.append(InputProblem(
            Location(table.path, table.header_line or 1),
            "no Message ID column: each message is named after its date, sender and subject, "
            "so these rows cannot be matched with other exports of the same messages; export "
            "the trace with its Message ID column (or use Get-MessageTraceV2) for that"))
    if timing is None or recipient_col is None:
        return []  # _shape has ruled this out
    time_col, offset = timing
    rename = {column: key for key, names in (
        ("senderaddress", _SENDER), ("recipientaddress", _RECIPIENT),
        ("messagetraceid", _TRACE_ID), ("fromip", _FROM_IP), ("toip", _TO_IP),
        ("status", ("status",)), ("subject", ("subject",)), ("size", ("size",)))
        if (column := _pick(columns, names))}
    events = []
    repeats: dict[tuple, int] = {}  # without ids: how often a recipient met the same message
    for row in table.rows():
        when = table.time(row, time_col)
        cells = {key: row.get(column) for column, key in rename.items()}
        message_id = (table.required(row, id_col) if id_col else
                      _named(when, cells, row.get(recipient_col), repeats)) if when else None
        if when is None or message_id is None or table.required(row, recipient_col) is None:
            continue
        events.append(summary_event(cells, _to_utc(when, offset), message_id,
                                    Location(table.path, row.line), row.excerpt))
    return events


def _named(when: datetime, cells: dict[str, str | None], recipient: str | None,
           repeats: dict[tuple, int]) -> str:
    """A Message-ID for a row of an export without one, in a domain that cannot exist (RFC
    2606): the same for every recipient of one message (same time, sender and subject). Two
    such messages in the same minute are told apart by order: a recipient's second row of the
    same time, sender and subject belongs to the second message."""
    import hashlib

    message = (when.isoformat(), cells.get("senderaddress") or "", cells.get("subject") or "")
    seen = (*message, (recipient or "").strip().lower())
    n = repeats[seen] = repeats.get(seen, -1) + 1
    key = "\n".join((*message, str(n)))
    return f"<{hashlib.blake2b(key.encode(), digest_size=8).hexdigest()}@eac-summary.invalid>"


def _to_utc(when: datetime, offset: timedelta) -> datetime:
    """parse_time reads a zone-less time as UTC; a header that names an offset corrects it."""
    if not offset:
        return when
    return when.replace(tzinfo=timezone(offset)).astimezone(UTC)


def _enhanced(table: Table, origin: str) -> list[TraceEvent]:
    events = []
    for row in table.rows():
        when = table.time(row, origin)
        message_id = table.required(row, "message_id") if when else None
        status = table.required(row, "recipient_status") if message_id else None
        if when is None or message_id is None or status is None:
            continue
        listed = _recipient_events(status)
        if not listed:
            table.reject(row, f"column {table.name('recipient_status')}: no recipient in "
                              f"{status[:40]!r}; row skipped")
            continue
        events.extend(_enhanced_events(table, row, when, message_id, listed))
    return events


def _enhanced_events(table: Table, row: Row, when: datetime, message_id: str,
                     listed: list[tuple[str, list[str]]]) -> list[TraceEvent]:
    data = {c: v for c in _ENHANCED_KEEP if (v := row.get(c))}
    data[LEVEL] = SUMMARY
    client = row.get("original_client_ip") or None
    location = Location(table.path, row.line)
    return [TraceEvent(time_utc=when, message_id=message_id, recipient=recipient, event=event,
                       location=location, excerpt=row.excerpt,
                       trace_id=row.get("network_message_id") or None,
                       sender=row.get("sender_address") or None,
                       # the original client is the sending side of the Receive only
                       source_ip=client if event == "receive" else None, data=data)
            for recipient, names in listed for event in names]


def _recipient_events(field: str) -> list[tuple[str, list[str]]]:
    """`a@x##Receive, Send;b@x##Receive` → [(a@x, [receive, send]), (b@x, [receive])]."""
    out = []
    for part in field.split(";"):
        recipient, _, events = part.partition("##")
        names = [" ".join(e.lower().split()) for e in events.split(",") if e.strip()]
        if recipient.strip():
            out.append((recipient.strip(), names or [SUMMARY]))
    return out
