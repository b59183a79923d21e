"""Any message trace JSON, handed to the reader of its shape: graph (Graph responses and the
`trace fetch` file), rws (Reporting Web Service) or powershell (ConvertTo-Json).

One entry in collect.py's reader registry covers all three; the readers live in those modules.
"""

from __future__ import annotations

from pathlib import Path

from ...model import InputProblem, Location, Parsed
from ...model.trace import TraceEvent
from ..textio import read_head
from . import graph, powershell, rws

KIND = "message-trace-json"
_READERS = (graph, rws, powershell)


def sniff(head: str) -> bool:
    return any(reader.sniff(head) for reader in _READERS)


def parse(path: str | Path) -> Parsed[TraceEvent]:
    head = read_head(path)
    for reader in _READERS:
        if reader.sniff(head):
            return reader.parse(path)
    return Parsed(problems=[InputProblem(Location(str(path), 1), (
        "not a message trace JSON export (PowerShell ConvertTo-Json, Microsoft Graph or "
        "Reporting Web Service)"))])
