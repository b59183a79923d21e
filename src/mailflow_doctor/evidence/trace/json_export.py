"""Message traces as JSON: PowerShell `ConvertTo-Json` of Get-MessageTraceV2 and
Get-MessageTraceDetailV2, the legacy Reporting Web Service (OData `value`), Microsoft Graph
`messageTraces` and `getDetailsByRecipient` responses, and the file `trace fetch` writes.

All of them carry the same facts under two spellings (PowerShell's PascalCase, Graph's
camelCase); Graph names are renamed to the PowerShell ones and every record then goes through
the same mapping as the CSV exports. A summary record (one per message and recipient, with a
Status) becomes one event named "summary". Times without a zone are UTC (RWS `Received`);
PowerShell's `/Date(ms)/` form is understood by timefmt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from ...model import InputProblem, Location, Parsed, TraceEvent
from ..textio import UnreadableInput, read_text
from ..timefmt import parse_time
from .detail_csv import detail_event

KIND = "message-trace-json"
FETCH_SCHEMA = "mailflow-doctor/graph-trace/v1"

_GRAPH_NAMES = {"receiveddatetime": "received", "datetime": "date", "description": "detail",
                "id": "messagetraceid", "fromip": "fromip", "toip": "toip"}
_SNIFF_KEYS = re.compile(r'"(MessageTraceId|messageTraceId|receivedDateTime|RecipientAddress|'
                         r'recipientAddress|odata\.metadata|@odata\.context)"')


def sniff(head: str) -> bool:
    start = head.lstrip()[:1]
    return start in ("[", "{") and (FETCH_SCHEMA in head[:300] or bool(_SNIFF_KEYS.search(head)))


def _records(doc: object) -> Iterator[tuple[dict, str | None]]:
    """(record, recipient from the wrapper) for every trace record in any of the shapes."""
    if isinstance(doc, list):
        for item in doc:
            yield from _records(item)
    elif isinstance(doc, dict):
        if doc.get("schema") == FETCH_SCHEMA:
            yield from ((t, None) for t in doc.get("traces", []) if isinstance(t, dict))
            for key, detail in (doc.get("details") or {}).items():
                if isinstance(detail, dict):
                    for item in detail.get("value", []):
                        if isinstance(item, dict):
                            yield {**item, "messagetraceid": key}, detail.get("recipientAddress")
        elif isinstance(doc.get("value"), list):
            yield from _records(doc["value"])
        elif isinstance(doc.get("d"), dict) and isinstance(doc["d"].get("results"), list):
            yield from _records(doc["d"]["results"])
        else:
            yield doc, None


def _cells(record: dict, recipient: str | None) -> dict[str, str]:
    cells: dict[str, str] = {}
    for key, value in record.items():
        name = key.lower()
        name = _GRAPH_NAMES.get(name, name)
        cells[name] = "" if value is None else str(value)
    if recipient and not cells.get("recipientaddress"):
        cells["recipientaddress"] = recipient
    return cells


def _event(cells: dict[str, str], location: Location, excerpt: str
           ) -> tuple[TraceEvent | None, str | None]:
    stamp = cells.get("date") or cells.get("received", "")
    when = parse_time(stamp)
    if when is None:
        return None, f"cannot read {stamp[:40]!r} as a date and time; record skipped"
    message_id = cells.get("messageid", "")
    if not message_id:
        return None, "no MessageId; record skipped"
    if cells.get("event"):
        return detail_event(cells, when, message_id, cells["event"].strip().lower(), location,
                            excerpt)
    return TraceEvent(
        time_utc=when, message_id=message_id, recipient=cells.get("recipientaddress", ""),
        event="summary", location=location, excerpt=excerpt,
        trace_id=cells.get("messagetraceid") or None, sender=cells.get("senderaddress") or None,
        status=cells.get("status", "").lower() or None, target_ip=cells.get("toip") or None,
    ), None


def parse(path: str | Path) -> Parsed[TraceEvent]:
    source = str(path)
    try:
        text, problems = read_text(path)
        doc = json.loads(text)
    except UnreadableInput as exc:
        return Parsed(problems=[exc.problem])
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        return Parsed(problems=[InputProblem(Location(source, line),
                                             f"not valid JSON: {getattr(exc, 'msg', exc)}")])
    parsed: Parsed[TraceEvent] = Parsed(problems=list(problems))
    for n, (record, recipient) in enumerate(_records(doc), 1):
        excerpt = json.dumps(record, ensure_ascii=False)[:300]
        location = Location(f"{source}#record{n}")
        event, problem = _event(_cells(record, recipient), location, excerpt)
        if problem:
            parsed.problems.append(InputProblem(location, problem))
        if event:
            parsed.records.append(event)
    if not parsed.records and not parsed.problems:
        parsed.problems.append(InputProblem(Location(source), "no message trace records"))
    parsed.records.sort(key=lambda e: e.time_utc)
    return parsed
