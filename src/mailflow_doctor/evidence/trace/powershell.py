"""Reader for `ConvertTo-Json` output of Get-MessageTraceV2 and Get-MessageTraceDetailV2 (and of
the V1 cmdlets): an array of objects, or one bare object when the cmdlet returned one result.

Property names are PowerShell's (Received, SenderAddress, RecipientAddress, Status, FromIP, ToIP,
MessageId, MessageTraceId; Date, Event, Action, Detail, Data for details), the same as in
`Export-Csv`, so records go through the CSV readers' mappings. Dates are `\\/Date(ms)\\/` from
Windows PowerShell (optionally `+0000` after the milliseconds, still UTC epoch) or ISO 8601 from
PowerShell 7. A summary record becomes one "summary" event; a detail record one event.
The CSV form of Get-MessageTraceV2 is read by summary_csv, of the detail cmdlet by detail_csv.
"""

from __future__ import annotations

from pathlib import Path

from ...model import Parsed
from ...model.trace import TraceEvent
from ._jsondoc import Records, Where, head_keys, label, load

KIND = "message-trace-powershell-json"
WHAT = "PowerShell ConvertTo-Json message trace export"

SPELL = {"received": "Received", "date": "Date", "messageid": "MessageId", "event": "Event",
         "data": "Data"}
# Keys that belong to a wrapper of another export (RWS, Graph, the fetch file), never to a
# PowerShell trace object.
_WRAPPERS = {"odata.metadata", "@odata.context", "__metadata", "schema", "d", "value",
             "traces", "details"}


def sniff(head: str) -> bool:
    found = head_keys(head)
    if found is None:
        return False
    keys = set(found[0])
    return (not keys & _WRAPPERS and bool({"MessageId", "MessageTraceId"} & keys)
            and ("Received" in keys or {"Date", "Event"} <= keys)
            and bool({"RecipientAddress", "SenderAddress"} & keys))


def _want(path: Where, kind: str) -> str | bool:
    if not path:
        return "open" if kind == "[" else True
    return len(path) == 1


def parse(path: str | Path) -> Parsed[TraceEvent]:
    """Every usable record as a TraceEvent (sorted by time), every unusable one as a problem
    with the line it starts on."""
    records = Records(str(path), WHAT, SPELL)
    text = load(path, records)
    if text is None:
        return records.parsed

    def take(where: Where, line: int, value: object) -> None:
        records.add(value, line, label(where) if where else "the object")

    records.read(text, _want, take)
    records.shape = records.seen > 0
    return records.finish()
