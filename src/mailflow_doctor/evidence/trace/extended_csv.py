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

from operator import attrgetter
from pathlib import Path
from sys import intern

from ...model import Location, Parsed
from ...model.trace import TraceEvent
from .._records import cycle_collection_paused, draft_of
from ._csvtable import Table, header_columns, open_table, raw_excerpt
from .reason import decode_reason

KIND = "message-trace-extended"
WHAT = "extended message trace report"

_SNIFF = {"date_time_utc", "event_id", "message_id"}
_REQUIRED = ("date_time_utc", "event_id", "message_id")
_BASICS = ("date_time_utc", "message_id", "event_id")  # as Table.basics takes them
# Cells read per row, in the order _events() unpacks their positions.
_COLUMNS = _BASICS + ("recipient_status", "client_ip", "server_ip", "server_hostname",
                      "recipient_address", "network_message_id", "sender_address")
_OUTBOUND = {"send", "defer", "fail", "sendexternal"}
_DECODE_EVENTS = {"defer", "fail"}
# Columns kept in TraceEvent.data besides those with their own field, and whether their values
# repeat enough to be shared (a report has a million rows but a handful of connectors and EOP
# hosts; interning a value met once only costs time and memory).
_EXTRAS = (("client_hostname", True), ("connector_id", True), ("source_context", False),
           ("directionality", True), ("original_client_ip", False), ("message_subject", False))


def sniff(head: str) -> bool:
    """True for a header with the extended report's own columns (snake_case, date_time_utc)."""
    return _SNIFF <= header_columns(head)


def _recipients(field: str) -> list[str]:
    """One event per recipient: the log lists several recipients `;`-separated on one row."""
    if ";" not in field:  # the usual row: one recipient (or none)
        return [field.strip()]
    found = [r.strip() for r in field.split(";") if r.strip()]
    return found or [""]


# TraceEvent's frozen __init__ would cost about a fifth of a million-row report (see _records).
_EventDraft = draft_of(TraceEvent)


def parse(path: str | Path) -> Parsed[TraceEvent]:
    """Every usable row as TraceEvents (sorted by time); every unusable row as a problem."""
    table, parsed = open_table(path, _REQUIRED, WHAT)
    if table is None:
        return parsed
    with cycle_collection_paused():
        events = _events(table)
    # Rows are read in line order and the sort is stable, so equal times keep their line order.
    events.sort(key=attrgetter("time_utc"))
    parsed.records = events
    parsed.problems.extend(table.problems)
    return parsed


def _events(table: Table) -> list[TraceEvent]:
    """The events of every usable row, in file order."""
    # Cells are read by position: a dict per row would cost more than the rest of the row.
    (at_time, at_id, at_event, at_status, at_client, at_server_ip, at_server_host,
     at_recipients, at_trace, at_sender) = map(table.index, _COLUMNS)
    extras = tuple((column, table.index(column), shared) for column, shared in _EXTRAS)
    events: list[TraceEvent] = []
    for line, cells, raw in table.records():
        basics = table.basics(line, _BASICS, (cells[at_time].strip(), cells[at_id].strip(),
                                                cells[at_event].strip()))
        if basics is None:
            continue
        when, message_id, event = basics
        status = cells[at_status].strip()
        reason = None
        if event in _DECODE_EVENTS or "LED=" in status:
            reason = decode_reason(status)
        outbound = event in _OUTBOUND
        target_ip = cells[at_server_ip].strip() if outbound else ""
        target_fqdn = cells[at_server_host].strip() if outbound else ""
        if reason:
            target_ip = target_ip or reason.target_ip
            target_fqdn = target_fqdn or reason.target_host
        location = Location(table.path, line)
        excerpt = raw_excerpt(raw) if outbound else ""  # only attempts are ever cited
        # [UNV] the network message id is believed to equal the MessageTraceId.
        trace_id = cells[at_trace].strip() or None
        sender = cells[at_sender].strip() or None
        source_ip = (cells[at_client].strip() or None) if outbound else None
        data: dict[str, str] = {}
        for column, i, shared in extras:
            if value := cells[i].strip():
                data[column] = intern(value) if shared else value
        for recipient in _recipients(cells[at_recipients]):
            e = _EventDraft()
            e.time_utc = when
            e.message_id = message_id
            e.recipient = recipient
            e.event = event
            e.location = location
            e.excerpt = excerpt
            e.trace_id = trace_id
            e.sender = sender
            e.status = status or None
            e.source_ip = source_ip
            e.target_ip = target_ip or None
            e.target_fqdn = target_fqdn or None
            e.detail = status
            e.reason = reason
            e.data = data
            e.__class__ = TraceEvent
            events.append(e)  # type: ignore[arg-type]
    return events
