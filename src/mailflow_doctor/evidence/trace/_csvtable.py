"""The CSV plumbing shared by the message-trace readers, written once.

Both exports (PowerShell `Export-Csv` of Get-MessageTraceDetailV2, and the EAC extended report)
are CSV with a header row whose spelling and case vary, sometimes after a `#TYPE` line, in UTF-8
or UTF-16. Fields may hold quoted line breaks, so a row's line number is taken from the csv
reader, and the raw text of each row is kept for evidence excerpts. A row that cannot be used
becomes an InputProblem naming its line; the other rows go on.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ...model import InputProblem, Location, Parsed
from ..textio import UnreadableInput, open_text
from ..timefmt import parse_time

EXCERPT_CHARS = 300


def normalise(name: str) -> str:
    """Column names compare without case, quotes, BOMs or surrounding blanks."""
    return name.strip().strip("\ufeff").strip('"').strip().lower()


def header_columns(head: str) -> set[str]:
    """Normalised column names of the header line in a file's first few KB (for sniff)."""
    for line in head.splitlines()[:5]:
        stripped = line.strip().lstrip("\ufeff")
        if not stripped or stripped.startswith("#TYPE"):
            continue
        try:
            cells = next(csv.reader([stripped]))
        except (csv.Error, StopIteration):
            return set()
        return {normalise(c) for c in cells}
    return set()


@dataclass(frozen=True)
class Row:
    """One data row: cells by normalised column name, its first physical line, its raw text."""

    line: int
    cells: dict[str, str]
    raw: str

    def get(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    @property
    def excerpt(self) -> str:
        return self.raw.rstrip("\r\n")[:EXCERPT_CHARS]


class _LineTap:
    """Feeds lines to csv.reader and remembers them, so each row's raw text can be quoted."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.taken: list[str] = []

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        return line

    def drain(self) -> str:
        raw = "".join(self.taken)
        self.taken.clear()
        return raw


class Table:
    """A CSV export opened with a known header; iterate `rows()` for the usable rows."""

    def __init__(self, path: str, lines: Iterator[str]) -> None:
        self.path = path
        self.problems: list[InputProblem] = []
        self.display: dict[str, str] = {}  # normalised name -> as written in the header
        self.header_line = 0
        self._tap = _LineTap(lines)
        self._reader = csv.reader(self._tap)
        self.columns = self._read_header()

    def _read_header(self) -> list[str]:
        for row, line, _raw in self._physical_rows():
            if not any(cell.strip() for cell in row):
                continue
            if row[0].lstrip("\ufeff").startswith("#TYPE"):
                continue
            self.header_line = line
            columns = [normalise(c) for c in row]
            for written, name in zip(row, columns):
                self.display.setdefault(name, written.strip().strip('"') or name)
            return columns
        return []

    def _physical_rows(self) -> Iterator[tuple[list[str], int, str]]:
        """(cells, first line, raw text) per CSV record; csv errors become problems."""
        while True:
            start = self._reader.line_num + 1
            try:
                row = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._tap.drain()
                self.problems.append(InputProblem(Location(self.path, start),
                                                  f"unreadable CSV record: {exc}"))
                if self._reader.line_num < start:
                    return
                continue
            yield row, start, self._tap.drain()

    def rows(self) -> Iterator[Row]:
        """Data rows with as many fields as the header; others are reported and skipped."""
        width = len(self.columns)
        for cells, line, raw in self._physical_rows():
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if len(cells) != width:
                self.problems.append(InputProblem(
                    Location(self.path, line),
                    f"row has {len(cells)} fields but the header has {width}; row skipped"))
                continue
            if "\ufffd" in raw:
                self.problems.append(InputProblem(Location(self.path, line),
                                                  "undecodable bytes in this row were replaced"))
            yield Row(line, dict(zip(self.columns, cells)), raw)

    def name(self, column: str) -> str:
        """A column as the file spells it, for messages."""
        return self.display.get(column, column)

    def reject(self, row: Row, message: str) -> None:
        self.problems.append(InputProblem(Location(self.path, row.line), message))

    def required(self, row: Row, column: str) -> str | None:
        """The cell's value, or None after reporting the row when it is empty."""
        value = row.get(column)
        if not value:
            self.reject(row, f"column {self.name(column)} is empty; row skipped")
            return None
        return value

    def time(self, row: Row, column: str) -> datetime | None:
        """The cell read as a UTC time, or None after reporting the row."""
        value = row.get(column)
        when = parse_time(value)
        if when is None:
            shown = value if len(value) <= 40 else value[:40] + "..."
            self.reject(row, f"column {self.name(column)}: cannot read {shown!r} as a date and "
                             "time; row skipped")
        return when

    def event_basics(self, row: Row, time_column: str, id_column: str, event_column: str
                     ) -> tuple[datetime, str, str] | None:
        """Time, message id and lower-case event name of a row, or None after reporting it."""
        when = self.time(row, time_column)
        if when is None:
            return None
        message_id = self.required(row, id_column)
        if message_id is None:
            return None
        event = " ".join(row.get(event_column).lower().split())
        if not event:
            self.reject(row, f"column {self.name(event_column)} is empty; row skipped")
            return None
        return when, message_id, event


def _closing(stream: io.TextIOWrapper) -> Iterator[str]:
    """Lines of the stream; the file is closed when they run out (or the reader is dropped)."""
    with stream:
        yield from stream


def open_table(
    path: str | Path, required: Iterable[str], what: str
) -> tuple[Table | None, Parsed]:
    """Open `path` as a CSV export whose header holds `required` columns.

    Returns the table and a Parsed already holding decoding problems, or (None, Parsed with one
    problem) when the file is unreadable or is not this kind of export at all.
    """
    source = str(path)
    try:
        stream = open_text(path)
    except UnreadableInput as exc:
        return None, Parsed(problems=[exc.problem])
    problems: list[InputProblem] = []
    table = Table(source, _closing(stream))
    if not table.columns:
        return None, Parsed(problems=[InputProblem(Location(source, 1),
                                                   f"no header row; not a {what}")])
    missing = [c for c in required if c not in table.columns]
    if missing:
        return None, Parsed(problems=[InputProblem(
            Location(source, table.header_line or 1),
            f"not a {what}: header lacks column(s) {', '.join(missing)}")])
    return table, Parsed(problems=list(problems))
