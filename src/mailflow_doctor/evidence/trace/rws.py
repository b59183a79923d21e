"""Reader for the legacy Reporting Web Service (`reporting.svc/MessageTrace` and
`/MessageTraceDetail`, being retired from April 2026) saved as JSON.

Two wrappers: OData JSON light, `{"odata.metadata": ".../$metadata#MessageTrace", "value": [...]}`
[DOC jj984335 / OBS SumoLogic sample, formats.md §3.3], and OData verbose,
`{"d": {"results": [{"__metadata": {"type": "TenantReporting.MessageTrace"}, ...}]}}` (also
`{"d": [...]}`) with `/Date(ms)/` times [OBS: SIEM connector documentation; not in Microsoft's
pages]. Records use PowerShell's property names, so they go through the same mapping as the
cmdlet exports. `Received` carries no zone (`2022-09-05T18:10:13.4907658`) and is UTC; `Data` may
be URI-escaped XML, which detail_csv.parse_data undoes.
"""

from __future__ import annotations

from pathlib import Path

from ...model import Parsed
from ...model.trace import TraceEvent
from ._jsondoc import Records, Where, head_keys, label, load
from .powershell import SPELL

KIND = "message-trace-rws"
WHAT = "Reporting Web Service message trace response"

_PASCAL = {"MessageId", "MessageTraceId", "RecipientAddress"}


def sniff(head: str) -> bool:
    found = head_keys(head)
    if found is None:
        return False
    keys, values = found
    if "@odata.context" in keys:
        return False
    if "odata.metadata" in keys:
        meta = values.get("odata.metadata", "").lower()
        return "#messagetrace" in meta or "reporting.svc" in meta
    if keys[:1] == ["d"]:
        types = "tenantreporting.messagetrace" in head.lower()
        return types or bool(_PASCAL & set(keys))
    return False


def _want(path: Where, kind: str) -> str | bool:
    """Walk into the containers that hold records; a container of the wrong kind is taken
    whole so that `take` can say so."""
    depth = len(path)
    if not depth:
        return "open" if kind == "{" else False
    top = path[0]
    if top in ("odata.metadata", "@odata.context"):
        return depth == 1
    if top == "value":
        return ("open" if kind == "[" else True) if depth == 1 else depth == 2
    if top == "d":
        if depth == 1:
            return "open" if kind else True
        if path[1] == "results":
            return ("open" if kind == "[" else True) if depth == 2 else depth == 3
        return isinstance(path[1], int) and depth == 2
    return False


def parse(path: str | Path) -> Parsed[TraceEvent]:
    """Every usable record as a TraceEvent (sorted by time), every unusable one as a problem
    with the line it starts on."""
    records = Records(str(path), WHAT, SPELL)
    text = load(path, records)
    if text is None:
        return records.parsed
    seen = {"metadata": False, "graph": False, "wrapped": False, "pascal": False}

    def take(where: Where, line: int, value: object) -> None:
        if where[0] == "@odata.context":
            seen["graph"] = True
            return
        if where[0] == "odata.metadata":
            seen["metadata"] = "#messagetrace" in str(value).lower()
            return
        if where in (("value",), ("d",), ("d", "results")):
            wrong = "an object or a list" if where == ("d",) else "a list"
            records.problem(line, f"{label(where)} is not {wrong}; skipped")
            return
        seen["wrapped"] |= where[0] == "d"
        seen["pascal"] |= isinstance(value, dict) and bool(_PASCAL & value.keys())
        records.add(value, line, label(where))

    records.read(text, _want, take)
    records.shape = not seen["graph"] and (
        seen["metadata"] or bool(records.seen) and (seen["wrapped"] or seen["pascal"]))
    return records.finish()
