"""Reader for `Get-MessageTraceDetailV2 | Export-Csv` (and the V1 Get-MessageTraceDetail).

Columns (any order, any case): Organization, MessageId, MessageTraceId, RecipientAddress,
SenderAddress, Date, Event, Action, Detail, Data; optionally after a `#TYPE` line. Date is UTC,
in US culture or ISO. Detail of Defer/Fail events holds the reason string, decoded here; Data
is a small XML document of `<MEP Name=".." String=".."/>` properties, parsed with defusedxml
because it is data from the service, not from us.
"""

from __future__ import annotations

import html
import ipaddress
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from ...model import Location, Parsed
from ...model.trace import TraceEvent
from ._csvtable import header_columns, open_table
from .reason import decode_reason

KIND = "message-trace-detail"
WHAT = "Get-MessageTraceDetail export"

_SNIFF = {"date", "event", "detail", "messageid", "recipientaddress"}
_REQUIRED = ("date", "event", "messageid")
_DECODE_EVENTS = {"defer", "fail"}
# MEP names that have been seen or are plausible for the address a message came from. The
# exact names are not documented (formats.md §3.1), so several spellings are accepted.
_SOURCE_IP_MEPS = ("clientip", "client_ip", "clientipaddress", "sendingip", "sourceip",
                   "sourceipaddress", "connectingip", "originalclientip", "fromip")
_TARGET_IP_MEPS = ("serverip", "server_ip", "destinationip", "targetip", "toip")
_VALUE_ATTRS = ("String", "Integer", "Long", "Blob", "Value")
_MAX_DATA_CHARS = 1_000_000


def sniff(head: str) -> bool:
    """True for a header with the detail export's own columns (not the extended report's)."""
    return _SNIFF <= header_columns(head)


def parse_data(text: str) -> tuple[dict[str, str], str | None]:
    """The MEP properties of a Data cell, and a problem description when it is not XML."""
    s = text.strip()
    if not s:
        return {}, None
    if len(s) > _MAX_DATA_CHARS:
        return {}, "too large to parse"
    if s[:3].lower() == "%3c":  # the Reporting Web Service sends it URI-escaped
        s = unquote(s)
    elif s.startswith("&lt;"):
        s = html.unescape(s)
    try:
        root = fromstring(s)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        return {}, f"not well-formed XML ({type(exc).__name__})"
    data: dict[str, str] = {}
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.rsplit("}", 1)[-1] != "MEP":
            continue
        name = element.get("Name")
        if not name:
            continue
        value = next((element.get(a) for a in _VALUE_ATTRS if element.get(a) is not None), None)
        if value is None:
            value = next((v for k, v in element.attrib.items() if k != "Name"), "")
        data[name] = value
    return data, None


def _ip_from(data: dict[str, str], names: tuple[str, ...]) -> str | None:
    """The first MEP among `names` (any case) whose value is an IP address (port dropped)."""
    lowered = {k.lower(): v for k, v in data.items()}
    for name in names:
        value = lowered.get(name, "").strip().strip("[]")
        if not value:
            continue
        if value.count(":") == 1:  # ipv4:port
            value = value.split(":", 1)[0]
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            continue
    return None


def detail_event(cells: dict[str, str], when: datetime, message_id: str, event: str,
                 location: Location, excerpt: str) -> tuple[TraceEvent, str | None]:
    """One detail event from PowerShell-named fields (lower case), wherever they came from:
    Export-Csv, ConvertTo-Json, the Reporting Web Service or Graph (renamed). Also returns a
    problem text when the Data XML could not be read."""
    data, bad_xml = parse_data(cells.get("data", ""))
    detail = cells.get("detail", "")
    reason = decode_reason(detail) if event in _DECODE_EVENTS or "LED=" in detail else None
    return TraceEvent(
        time_utc=when,
        message_id=message_id,
        recipient=cells.get("recipientaddress", ""),
        event=event,
        location=location,
        excerpt=excerpt,
        trace_id=cells.get("messagetraceid") or None,
        sender=cells.get("senderaddress") or None,
        status=cells.get("action") or None,
        source_ip=_ip_from(data, _SOURCE_IP_MEPS),
        target_ip=(reason.target_ip if reason else None) or _ip_from(data, _TARGET_IP_MEPS),
        target_fqdn=reason.target_host if reason else None,
        detail=detail,
        reason=reason,
        data=data,
    ), bad_xml


def parse(path: str | Path) -> Parsed[TraceEvent]:
    """Every usable row as a TraceEvent (sorted by time); every unusable row as a problem."""
    table, parsed = open_table(path, _REQUIRED, WHAT)
    if table is None:
        return parsed
    events: list[TraceEvent] = []
    for row in table.rows():
        basics = table.event_basics(row, "date", "messageid", "event")
        if basics is None:
            continue
        when, message_id, event = basics
        event_record, bad_xml = detail_event(row.cells, when, message_id, event,
                                             Location(table.path, row.line), row.excerpt)
        if bad_xml:
            # The row is still a good event; only its extra properties are lost.
            table.reject(row, f"column {table.name('data')}: {bad_xml}; properties ignored")
        events.append(event_record)
    events.sort(key=lambda e: (e.time_utc, e.location.line or 0))
    parsed.records = events
    parsed.problems.extend(table.problems)
    return parsed
