"""Reader for the extended message trace report (EAC download / Start-HistoricalSearch
-ReportType MessageTraceDetail): the Exchange Online message-tracking log as CSV.

Columns follow the header (documented set: date_time_utc, client_ip, client_hostname, server_ip,
server_hostname, source_context, connector_id, source, event_id, internal_message_id,
message_id, network_message_id, recipient_address, recipient_status, ..., custom_data); header
case varies (`Recipient_status`), the file is UTF-8 or UTF-16 with a BOM, and rows come
unsorted, so events are returned sorted by time. On SEND/DEFER/FAIL rows client_ip is the EOP
server that sent and server_ip/server_hostname the destination; recipient_status may hold the
LED reason string, which is decoded.
"""

from __future__ import annotations

from pathlib import Path
from sys import intern

from ...model import Location, Parsed, TraceEvent
from ._csvtable import header_columns, open_table
from .reason import decode_reason

KIND = "message-trace-extended"
WHAT = "extended message trace report"

_SNIFF = {"date_time_utc", "event_id", "message_id"}
_REQUIRED = ("date_time_utc", "event_id", "message_id")
_OUTBOUND = {"send", "defer", "fail", "sendexternal"}
_DECODE_EVENTS = {"defer", "fail"}
# Columns kept in TraceEvent.data besides those with their own field.
_EXTRAS = ("client_hostname", "connector_id", "source_context", "directionality",
           "original_client_ip", "message_subject")


def sniff(head: str) -> bool:
    """True for a header with the extended report's own columns (snake_case, date_time_utc)."""
    return _SNIFF <= header_columns(head)


def _recipients(field: str) -> list[str]:
    """One event per recipient: the log lists several recipients `;`-separated on one row."""
    found = [r.strip() for r in field.split(";") if r.strip()]
    return found or [""]


def parse(path: str | Path) -> Parsed[TraceEvent]:
    """Every usable row as TraceEvents (sorted by time); every unusable row as a problem."""
    table, parsed = open_table(path, _REQUIRED, WHAT)
    if table is None:
        return parsed
    events: list[TraceEvent] = []
    for row in table.rows():
        basics = table.event_basics(row, "date_time_utc", "message_id", "event_id")
        if basics is None:
            continue
        when, message_id, event = basics
        status = row.get("recipient_status")
        reason = None
        if event in _DECODE_EVENTS or "LED=" in status:
            reason = decode_reason(status)
        outbound = event in _OUTBOUND
        target_ip = row.get("server_ip") if outbound else ""
        target_fqdn = row.get("server_hostname") if outbound else ""
        # Only the columns worth keeping; repeated values are shared (a report has a million
        # rows and a handful of connectors and hosts).
        data = {c: intern(v) for c in _EXTRAS if (v := row.get(c))}
        excerpt = row.excerpt if outbound else ""  # only attempts are ever cited
        for recipient in _recipients(row.get("recipient_address")):
            events.append(TraceEvent(
                time_utc=when,
                message_id=message_id,
                recipient=recipient,
                event=event,
                location=Location(table.path, row.line),
                excerpt=excerpt,
                # [UNV] the network message id is believed to equal the MessageTraceId.
                trace_id=row.get("network_message_id") or None,
                sender=row.get("sender_address") or None,
                status=status or None,
                source_ip=(row.get("client_ip") or None) if outbound else None,
                target_ip=target_ip or (reason.target_ip if reason else None),
                target_fqdn=target_fqdn or (reason.target_host if reason else None),
                detail=status,
                reason=reason,
                data=data,
            ))
    events.sort(key=lambda e: (e.time_utc, e.location.line or 0))
    parsed.records = events
    parsed.problems.extend(table.problems)
    return parsed
