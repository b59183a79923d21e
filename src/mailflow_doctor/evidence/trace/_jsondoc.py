"""The JSON plumbing shared by the message-trace JSON readers (PowerShell, Graph, RWS).

Exports are arrays of records, sometimes inside a wrapper (`value`, `d.results`, the trace fetch
file). Parsing the whole document with json.loads would lose every record of a file that was cut
short, and would give no line numbers; so the wrapper is walked here with the json module's own
scanners and each record is decoded on its own, remembering the line it starts on. A syntax error
costs the rest of the file (JSON cannot be resynchronised), never the records before it.

Records carry PowerShell's property names (Graph's are renamed by the reader) and are turned into
events by the same functions as the CSV exports: detail_csv.detail_event and
summary_csv.summary_event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from json.decoder import scanstring
from pathlib import Path

from ...model import InputProblem, Location, Parsed
from ...model.trace import TraceEvent
from ..textio import UnreadableInput, read_text
from ..timefmt import parse_time
from ._csvtable import EXCERPT_CHARS
from .detail_csv import detail_event
from .summary_csv import summary_event

_WS = re.compile(r"[ \t\r\n]*")
_STRING_REST = re.compile(r'((?:[^"\\]|\\.)*+)"(\s*:)?')  # after an opening quote
_DECODER = json.JSONDecoder()
Where = tuple  # a value's place in the document: (key or index, ...)
# want(path, kind) with kind "{", "[" or "" (a scalar): "open" to walk into a container, True to
# yield the value whole, False to skip it.
Want = Callable[[Where, str], "str | bool"]


class JsonSyntax(Exception):
    """Where (character offset) and why the text stops being JSON."""

    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos, self.message = pos, message


def walk(text: str, want: Want) -> Iterator[tuple[Where, int, object]]:
    """(path, start offset, value) of every value `want` selects, in document order.

    Raises JsonSyntax (with the offset) where the text stops being JSON."""
    pos = _WS.match(text, 0).end()
    if pos >= len(text):
        raise JsonSyntax(pos, "empty document")
    pos = yield from _value(text, pos, (), want)
    pos = _WS.match(text, pos).end()
    if pos < len(text):
        raise JsonSyntax(pos, "extra data after the JSON document")


def _value(text: str, pos: int, path: Where, want: Want):
    kind = text[pos] if text[pos] in "{[" else ""
    mode = want(path, kind)
    if mode == "open" and kind:
        return (yield from _container(text, pos, path, want))
    try:
        value, end = _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        raise JsonSyntax(exc.pos, exc.msg) from None
    except RecursionError:
        raise JsonSyntax(pos, "nested too deeply") from None
    if mode:
        yield path, pos, value
    return end


def _container(text: str, pos: int, path: Where, want: Want):
    close = "}" if text[pos] == "{" else "]"
    pos = _WS.match(text, pos + 1).end()
    if text.startswith(close, pos):
        return pos + 1
    index = 0
    while True:
        if close == "}":
            if not text.startswith('"', pos):
                raise JsonSyntax(pos, "expecting a property name in double quotes")
            try:
                key, pos = scanstring(text, pos + 1)
            except json.JSONDecodeError as exc:
                raise JsonSyntax(exc.pos, exc.msg) from None
            pos = _WS.match(text, pos).end()
            if not text.startswith(":", pos):
                raise JsonSyntax(pos, "expecting ':' after a property name")
            pos = _WS.match(text, pos + 1).end()
            step: str | int = key
        else:
            step = index
        if pos >= len(text):
            raise JsonSyntax(pos, "unexpected end of data (file cut short?)")
        pos = yield from _value(text, pos, path + (step,), want)
        index += 1
        pos = _WS.match(text, pos).end()
        if text.startswith(",", pos):
            pos = _WS.match(text, pos + 1).end()
        elif text.startswith(close, pos):
            return pos + 1
        else:
            raise JsonSyntax(pos, "unexpected end of data (file cut short?)" if pos >= len(text)
                             else f"expecting ',' or '{close}'")


# -- sniffing --------------------------------------------------------------------------------------


def head_keys(head: str) -> tuple[list[str], dict[str, str]] | None:
    """Property names in a JSON head, in order, and the string value right after each (first
    seen); None when the head does not start like JSON. Escaped `\\/` reads as `/`."""
    if head.lstrip()[:1] not in ("{", "["):
        return None
    keys: list[str] = []
    values: dict[str, str] = {}
    key, key_end = None, -1
    start = head.find('"')
    while start >= 0:  # one string at a time, left to right: linear even on junk
        m = _STRING_REST.match(head, start + 1)
        if m is None:
            break  # the head ends inside a string
        if m.group(2):
            key, key_end = m.group(1), m.end()
            keys.append(key)
        else:
            if key is not None and not head[key_end:start].strip():
                values.setdefault(key, m.group(1).replace("\\/", "/"))
            key = None
        start = head.find('"', m.end())
    return keys, values


def label(where: Where) -> str:
    """A record's place for messages: `value[3]`, `d.results[0]`, `element 4`."""
    if isinstance(where[0], int):
        return f"element {where[0] + 1}"
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where).lstrip(".")


# -- records → events ------------------------------------------------------------------------------


@dataclass
class Records:
    """Turns the records of one file into events and collects what could not be used."""

    source: str
    what: str
    spell: dict[str, str]  # canonical name → the name as this export writes it, for messages
    rename: dict[str, str] = field(default_factory=dict)  # lower-case key → canonical name
    parsed: Parsed[TraceEvent] = field(default_factory=Parsed)
    shape: bool = False  # set by the reader once the document's wrapper is its own
    seen: int = 0  # records that looked like trace records at all
    broken: tuple[int, str] | None = None  # where and why the text stopped being JSON
    _mark: tuple[int, int] = (0, 1)  # (offset, line) last asked: offsets only grow in a walk

    def line(self, text: str, pos: int) -> int:
        start, line = self._mark if pos >= self._mark[0] else (0, 1)
        line += text.count("\n", start, pos)
        self._mark = (pos, line)
        return line

    def problem(self, line: int | None, message: str) -> None:
        self.parsed.problems.append(InputProblem(Location(self.source, line), message))

    def cells(self, record: dict, forced: dict[str, str] | None = None) -> dict[str, str]:
        """Scalar fields by canonical name; non-empty `forced` values win over the record's."""
        cells = {}
        for key, value in record.items():
            if isinstance(value, (dict, list)):
                continue  # __metadata and the like
            name = key.lower()
            cells[self.rename.get(name, name)] = "" if value is None else str(value)
        if forced:
            cells.update((k, v) for k, v in forced.items() if v)
        return cells

    def add(self, record: object, line: int, name: str,
            forced: dict[str, str] | None = None) -> None:
        """One record starting at `line`; `name` says where it is in messages (e.g. "value[3]")."""
        if not isinstance(record, dict):
            self.problem(line, f"{name} is not an object; skipped")
            return
        cells = self.cells(record, forced)
        if not _TRACE_FIELDS & cells.keys():
            self.problem(line, f"{name} is not a message trace record; skipped")
            return
        self.seen += 1
        # A detail record has Event and Date, a summary record Received.
        detail = "event" in cells or ("date" in cells and "received" not in cells)
        stamp_key = "date" if detail else "received"
        stamp = cells.get(stamp_key, "").strip()
        when = parse_time(stamp)
        if when is None:
            shown = f"{stamp[:40]!r} is not a date and time" if stamp else "is missing"
            self.problem(line, f"{name}: field {self.spell[stamp_key]} {shown}; skipped")
            return
        message_id = cells.get("messageid", "").strip()
        if not message_id:
            self.problem(line, f"{name}: field {self.spell['messageid']} is empty; skipped")
            return
        location = Location(self.source, line)
        excerpt = json.dumps(record, ensure_ascii=False, separators=(",", ":"))[:EXCERPT_CHARS]
        if not detail:
            self.parsed.records.append(summary_event(cells, when, message_id, location, excerpt))
            return
        event = " ".join(cells.get("event", "").lower().split())
        if not event:
            self.problem(line, f"{name}: field {self.spell['event']} is missing or empty; skipped")
            return
        found, bad_xml = detail_event(cells, when, message_id, event, location, excerpt)
        if bad_xml:  # the event is still good; only its extra properties are lost
            self.problem(line, f"{name}: field {self.spell['data']}: {bad_xml}; "
                               "properties ignored")
        self.parsed.records.append(found)

    def read(self, text: str, want: Want, take: Callable[[Where, int, object], None]) -> None:
        """Walk the document, handing each selected value (with its line) to `take`."""
        try:
            for path, pos, value in walk(text, want):
                take(path, self.line(text, pos), value)
        except JsonSyntax as exc:
            line = self.line(text, exc.pos)
            self.broken = (line, f"not valid JSON: {exc.message}")
            tail = "; the rest of the file is ignored" if self.seen else ""
            self.problem(line, f"not valid JSON: {exc.message}{tail}")

    def finish(self) -> Parsed[TraceEvent]:
        """The result; a document of another kind gives no records and exactly one problem.

        Readers set `shape` once the document is recognisably theirs (its wrapper, or at least
        one trace record)."""
        if not self.shape:
            line, why = self.broken or (1, "")
            return Parsed(problems=[InputProblem(Location(self.source, line),
                                                 f"not a {self.what}" + (f": {why}" if why
                                                                         else ""))])
        self.parsed.records.sort(key=lambda e: (e.time_utc, e.location.line or 0))
        return self.parsed


_TRACE_FIELDS = {"messageid", "received", "date", "event", "messagetraceid"}


def load(path: str | Path, records: Records) -> str | None:
    """The file's text (decoding notes go to `records`), or None when it cannot be read."""
    try:
        text, problems = read_text(path)
    except UnreadableInput as exc:
        records.parsed.problems.append(exc.problem)
        return None
    records.parsed.problems.extend(problems)
    return text
