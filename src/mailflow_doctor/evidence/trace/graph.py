"""Reader for Microsoft Graph v1.0 message trace JSON, and the file `trace fetch` writes.

Three shapes (formats.md §3.2):

* a `messageTraces` list page: `{"@odata.context": "...#admin/exchange/tracing/messageTraces",
  "value": [exchangeMessageTrace...], "@odata.nextLink": "..."}`; each exchangeMessageTrace
  (fromIP, id, messageId, receivedDateTime, recipientAddress, senderAddress, size, status,
  subject, toIP) becomes one "summary" event;
* a `getDetailsByRecipient` response: `{"@odata.context": "...exchangeMessageTraceDetail)",
  "value": [exchangeMessageTraceDetail...]}`; each detail (id, messageId, dateTime, event,
  action, description, data) becomes one event. The response does not name the recipient, so its
  events have none until trace.merge matches them with the message's other records;
* the fetch file, FETCH_SCHEMA, which the Graph fetch client writes and `diagnose` reads:

      {"schema": "mailflow-doctor/graph-trace/v1",
       "fetched_at": "<ISO 8601 UTC>",                  # when the fetch ran
       "tenant": "...", "window": {"start": ..., "end": ...},   # optional, informative
       "traces": [<exchangeMessageTrace>, ...],          # as Graph returned them
       "details": {"<trace id>": {"recipientAddress": "<address>",
                                  "value": [<exchangeMessageTraceDetail>, ...]}}}

  Detail events take their recipient from `recipientAddress` and their trace id from the key.

Graph's names are renamed to PowerShell's (receivedDateTime→Received, dateTime→Date,
description→Detail, id→MessageTraceId; the docs' detail example repeats the trace id in `id`),
so records go through the same mapping as every other export: the Detail of Defer/Fail is
decoded with decode_reason and `data` (`<root><MEP .../></root>`) read by detail_csv.parse_data.
A bare array of Graph records (a saved `value`) is read too.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...model import Parsed
from ...model.trace import TraceEvent
from ._jsondoc import Records, Where, head_keys, label, load

KIND = "message-trace-graph"
WHAT = "Microsoft Graph message trace response"
FETCH_SCHEMA = "mailflow-doctor/graph-trace/v1"

_RENAME = {"receiveddatetime": "received", "datetime": "date", "description": "detail",
           "id": "messagetraceid"}
_SPELL = {"received": "receivedDateTime", "date": "dateTime", "messageid": "messageId",
          "event": "event", "data": "data"}
_CONTEXT = re.compile(r"messagetrac", re.IGNORECASE)
_CAMEL = {"messageId", "receivedDateTime", "dateTime", "recipientAddress"}


def sniff(head: str) -> bool:
    found = head_keys(head)
    if found is None:
        return False
    keys, values = found
    if "schema" in values:
        return values["schema"] == FETCH_SCHEMA
    if "odata.metadata" in keys:
        return False
    if "@odata.context" in keys and _CONTEXT.search(values.get("@odata.context", "")):
        return True
    names = set(keys)
    return "messageId" in names and ("receivedDateTime" in names or {"dateTime", "event"} <= names)


def _want(path: Where, kind: str) -> str | bool:
    """Walk into the containers that hold records; a container of the wrong kind is taken
    whole so that `take` can say so."""
    depth = len(path)
    if not depth:
        return "open" if kind else False
    top = path[0]
    if isinstance(top, int) or top in ("@odata.context", "schema"):
        return depth == 1
    if top in ("value", "traces"):
        return ("open" if kind == "[" else True) if depth == 1 else depth == 2
    if top == "details":
        if depth <= 2:
            return "open" if kind == "{" else True
        if path[2] == "value":
            return ("open" if kind == "[" else True) if depth == 3 else depth == 4
        return depth == 3 and path[2] == "recipientAddress"
    return False


class _Reader:
    """Walk state: the document's markers and the detail entry being gathered."""

    def __init__(self, records: Records) -> None:
        self.records = records
        self.context = self.fetch = self.camel = False
        self.schema: str | None = None
        self.entry: str | None = None
        self.recipient = ""
        self.pending: list[tuple[int, int, object]] = []

    def take(self, where: Where, line: int, value: object) -> None:
        top, depth = where[0], len(where)
        if top == "@odata.context":
            self.context = bool(_CONTEXT.search(str(value)))
        elif top == "schema":
            self.schema = str(value)
            self.fetch = value == FETCH_SCHEMA
        elif isinstance(top, int) or (top in ("value", "traces") and depth == 2):
            self.camel |= isinstance(value, dict) and bool(_CAMEL & value.keys())
            self.records.add(value, line, label(where))
        elif top == "details" and depth == 4:  # details.<trace id>.value[i]
            self._entry(where[1])
            self.pending.append((line, where[3], value))
        elif top == "details" and depth == 3 and where[2] == "recipientAddress":
            self._entry(where[1])
            self.recipient = value if isinstance(value, str) else ""
        else:  # a container of the wrong kind
            wrong = "a list" if top != "details" or depth == 3 else "an object"
            self.records.problem(line, f"{label(where)} is not {wrong}; skipped")

    def _entry(self, key: object) -> None:
        if key != self.entry:
            self.flush()
            self.entry = str(key)

    def flush(self) -> None:
        """Details of one entry, once its recipientAddress (which may come last) is known."""
        # The entry's key is the trace id asked for; its recipientAddress the recipient.
        forced = {"messagetraceid": self.entry or "", "recipientaddress": self.recipient}
        for line, index, value in self.pending:
            self.records.add(value, line, f"details[{self.entry!r}].value[{index}]", forced)
        self.pending, self.recipient = [], ""

    @property
    def shape(self) -> bool:
        if self.schema is not None:
            return self.fetch
        return self.context or (self.camel and self.records.seen > 0)


def parse(path: str | Path) -> Parsed[TraceEvent]:
    """Every usable record as a TraceEvent (sorted by time), every unusable one as a problem
    with the line it starts on."""
    records = Records(str(path), WHAT, _SPELL, _RENAME)
    text = load(path, records)
    if text is None:
        return records.parsed
    reader = _Reader(records)
    records.read(text, _want, reader.take)
    reader.flush()
    records.shape = reader.shape
    if reader.schema is not None and not reader.fetch and records.broken is None:
        records.broken = (1, f"schema {reader.schema[:60]!r} is not {FETCH_SCHEMA}")
    return records.finish()
