"""Summary-level message trace CSVs: `Get-MessageTraceV2 | Export-Csv`, the EAC summary
export, and the EAC enhanced summary report.

A summary row says where a message stands (Status), not what happened when; it becomes one
event named "summary" with that status. The enhanced summary instead lists, per recipient, the
events seen (`user@contoso.com##Receive, Send;other@contoso.com##Receive, Fail`), and becomes
one event per recipient and listed event, all at the message's origin time. Merging with
detailed exports of the same messages (trace.merge) drops these coarser events.
"""

from __future__ import annotations

from pathlib import Path

from ...model import InputProblem, Location, Parsed, TraceEvent
from ._csvtable import header_columns, open_table

KIND = "message-trace-summary"
WHAT = "message trace summary export"

# Column spellings: Get-MessageTraceV2, then the EAC summary export (header names [UNV]).
_TIME = ("received", "date", "date (utc)", "received (utc)")
_SENDER = ("senderaddress", "sender", "sender address")
_RECIPIENT = ("recipientaddress", "recipient", "recipient address")
_STATUS = ("status",)
_MESSAGE_ID = ("messageid", "message id", "message_id")
_TO_IP = ("toip", "to ip")
_ENHANCED = {"origin_timestamp_utc", "recipient_status", "message_id"}


def _pick(columns: set[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in columns), None)


def sniff(head: str) -> bool:
    cols = header_columns(head)
    if _ENHANCED <= cols:
        return True
    return all(_pick(cols, names) for names in (_TIME, _RECIPIENT, _STATUS)) and not (
        {"event", "event_id", "date_time_utc"} & cols)


def parse(path: str | Path) -> Parsed[TraceEvent]:
    table, parsed = open_table(path, (), WHAT)
    if table is None:
        return parsed
    columns = set(table.columns)
    enhanced = _ENHANCED <= columns
    time_col = "origin_timestamp_utc" if enhanced else _pick(columns, _TIME)
    id_col = "message_id" if enhanced else _pick(columns, _MESSAGE_ID)
    if time_col is None or id_col is None or (not enhanced and not _pick(columns, _RECIPIENT)):
        parsed.problems.append(InputProblem(Location(table.path, table.header_line or 1),
                                            f"not a {WHAT}: no date, message id or recipient "
                                            "column"))
        return parsed
    for row in table.rows():
        when = table.time(row, time_col)
        message_id = table.required(row, id_col) if when else None
        if when is None or message_id is None:
            continue
        common = dict(time_utc=when, message_id=message_id,
                      location=Location(table.path, row.line), excerpt=row.excerpt,
                      sender=row.get(_pick(columns, _SENDER) or "sender_address") or None)
        if enhanced:
            for recipient, events in _recipient_events(row.get("recipient_status")):
                parsed.records += [TraceEvent(recipient=recipient, event=e, **common)
                                   for e in events]
            continue
        parsed.records.append(TraceEvent(
            recipient=row.get(_pick(columns, _RECIPIENT) or ""), event="summary",
            status=row.get("status").strip().lower() or None,
            trace_id=row.get("messagetraceid") or None,
            target_ip=row.get(_pick(columns, _TO_IP) or "") or None, **common))
    parsed.records.sort(key=lambda e: (e.time_utc, e.location.line or 0))
    parsed.problems.extend(table.problems)
    return parsed


def _recipient_events(field: str) -> list[tuple[str, list[str]]]:
    """`a@x##Receive, Send;b@x##Receive` → [(a@x, [receive, send]), (b@x, [receive])]."""
    out = []
    for part in field.split(";"):
        recipient, _, events = part.partition("##")
        names = [e.strip().lower() for e in events.split(",") if e.strip()]
        if recipient.strip():
            out.append((recipient.strip(), names or ["summary"]))
    return out
