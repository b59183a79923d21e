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
from functools import lru_cache
from pathlib import Path

from ...model import InputProblem, Location, Parsed
from ..textio import UnreadableInput, open_text
from ..timefmt import parse_time, slash_order

EXCERPT_CHARS = 300


def normalise(name: str) -> str:
    """Column names compare without case, quotes, BOMs or surrounding blanks."""
    return name.strip().strip("\ufeff").strip('"').strip().lower()


def _type_line(text: str) -> bool:
    """PowerShell's `#TYPE <type name>` line above an Export-Csv header (maybe after a BOM)."""
    return text.lstrip("\ufeff").startswith("#TYPE")


def header_columns(head: str) -> set[str]:
    """Normalised column names of the header line in a file's first few KB (for sniff)."""
    for line in head.splitlines()[:5]:
        stripped = line.strip().lstrip("\ufeff")
        if not stripped or _type_line(stripped):
            continue
        try:
            cells = next(csv.reader([stripped]))
        except (csv.Error, StopIteration):
            return set()
        return {normalise(c) for c in cells}
    return set()


def raw_excerpt(raw: str) -> str:
    """What evidence quotes of a row's raw text."""
    return raw.rstrip("\r\n")[:EXCERPT_CHARS]


@lru_cache(maxsize=256)
def _event_name(text: str) -> str:
    """`RECEIVE`, ` Send` -> `receive`, `send`: a report spells a few names a million times."""
    return " ".join(text.lower().split())


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
        return raw_excerpt(self.raw)


class _LineTap:
    """The file's lines, counted as they are read; csv.reader is fed through it too.

    A line handed back is read again by csv.reader (its record may go on over more lines), and
    the lines the reader takes are kept, so that each record's raw text can be quoted.
    """

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines  # who reads from here directly counts the lines it takes
        self._back: str | None = None
        self.count = 0  # lines read so far
        self.taken: list[str] = []

    def give_back(self, line: str) -> None:
        self._back = line

    def __iter__(self) -> _LineTap:
        return self

    def __next__(self) -> str:
        line = self._back
        if line is None:
            line = next(self.lines)
            self.count += 1
        else:
            self._back = None
        self.taken.append(line)
        return line

    def drain(self) -> str:
        raw = "".join(self.taken)
        self.taken.clear()
        return raw


def _another_header(cells: list[str], columns: list[str]) -> bool:
    """A PowerShell `#TYPE` line or a copy of the header (any case, after a byte-order mark)."""
    if len(cells) == 1:
        return _type_line(cells[0])
    return len(cells) == len(columns) and [normalise(c) for c in cells] == columns


class Table:
    """A CSV export opened with a known header; iterate `rows()` for the usable rows."""

    def __init__(self, path: str, lines: Iterator[str]) -> None:
        self.path = path
        self.problems: list[InputProblem] = []
        self._orders: dict[str, dict[str, tuple[int, str]]] = {}  # see _date_order
        self._mixed_order: set[str] = set()
        self.display: dict[str, str] = {}  # normalised name -> as written in the header
        self.header_line = 0
        self._tap = _LineTap(lines)
        self._reader = csv.reader(self._tap)
        self.columns = self._read_header()

    def _read_header(self) -> list[str]:
        for row, line, _raw in self._physical_rows():
            if not any(cell.strip() for cell in row):
                continue
            if _type_line(row[0]):
                continue
            self.header_line = line
            columns = [normalise(c) for c in row]
            for written, name in zip(row, columns):
                self.display.setdefault(name, written.strip().strip('"') or name)
            return columns
        return []

    def _physical_rows(self) -> Iterator[tuple[list[str], int, str]]:
        """(cells, first line, raw text) per CSV record; csv errors become problems.

        A line without a quote is a whole record, and its comma-separated parts are what
        csv.reader would make of it, at a fraction of the cost (lines come from a text stream
        opened with newline="", so a line ends at its only line break). Other lines go through
        the reader.
        """
        tap = self._tap
        limit = csv.field_size_limit()
        for line in tap.lines:  # the tap's own source: csv.reader below takes from it too
            tap.count += 1
            start = tap.count
            if '"' not in line and len(line) <= limit:
                content = line.rstrip("\r\n")
                yield content.split(",") if content else [], start, line
                continue
            tap.give_back(line)
            try:
                row = next(self._reader)
            except csv.Error as exc:
                tap.drain()
                self.problems.append(InputProblem(Location(self.path, start),
                                                  f"unreadable CSV record: {exc}"))
                continue
            yield row, start, tap.drain()

    def rows(self) -> Iterator[Row]:
        """Data rows with as many fields as the header; others are reported and skipped."""
        columns = self.columns
        for line, cells, raw in self.records():
            yield Row(line, dict(zip(columns, cells)), raw)

    def records(self) -> Iterator[tuple[int, list[str], str]]:
        """(first line, cells, raw text) of the rows `rows()` gives, without a dict per row.

        Cells are read by `index()`; one empty cell is appended to each row and stands for
        every column the header lacks, so a missing column reads as empty, as in `Row.get`.
        """
        width = len(self.columns)
        name = len(self.columns[0]) if self.columns else 0
        for cells, line, raw in self._physical_rows():
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            # The first cell's length sorts out almost every data row before the full test
            # (this runs on each row of million-row reports).
            if (len(cells) == 1 or 0 <= len(cells[0]) - name <= 4) and \
                    _another_header(cells, self.columns):
                continue  # exports joined into one file: the next one's header
            if len(cells) != width:
                self.problems.append(InputProblem(
                    Location(self.path, line),
                    f"row has {len(cells)} fields but the header has {width}; row skipped"))
                continue
            if "\x00" in raw:  # never in an export's text: a damaged copy (as logs skip them)
                self.problems.append(InputProblem(Location(self.path, line),
                                                  "NUL byte in this row; row skipped"))
                continue
            if "\ufffd" in raw:
                self.problems.append(InputProblem(Location(self.path, line),
                                                  "undecodable bytes in this row were replaced"))
            cells.append("")
            yield line, cells, raw

    def index(self, column: str) -> int:
        """Where a column's cell is in a `records()` row (the last one of a repeated name, as in
        `rows()`), or where the appended empty cell is when the header lacks it."""
        where = len(self.columns)
        for i, name in enumerate(self.columns):
            if name == column:
                where = i
        return where

    def name(self, column: str) -> str:
        """A column as the file spells it, for messages."""
        return self.display.get(column, column)

    def reject(self, row: Row, message: str) -> None:
        self.reject_line(row.line, message)

    def reject_line(self, line: int, message: str) -> None:
        self.problems.append(InputProblem(Location(self.path, line), message))

    def required(self, row: Row, column: str) -> str | None:
        """The cell's value, or None after reporting the row when it is empty."""
        return self._required(row.line, column, row.get(column))

    def _required(self, line: int, column: str, value: str) -> str | None:
        if not value:
            self.reject_line(line, f"column {self.name(column)} is empty; row skipped")
            return None
        return value

    def time(self, row: Row, column: str) -> datetime | None:
        """The cell read as a UTC time, or None after reporting the row."""
        return self._time(row.line, column, row.get(column))

    def _time(self, line: int, column: str, value: str) -> datetime | None:
        when = parse_time(value)
        if when is None:
            shown = value if len(value) <= 40 else value[:40] + "..."
            self.reject_line(line, f"column {self.name(column)}: cannot read {shown!r} as a date "
                                   "and time; row skipped")
        elif "/" in value and column not in self._mixed_order:
            self._date_order(line, column, value)
        return when

    def _date_order(self, line: int, column: str, value: str) -> None:
        """24-hour slash dates are read day-first unless only month-first can read them; a
        column that holds both a month-first-only date and ambiguous ones (day and month 12
        or less, so read day-first) may have some dates wrong: said once, with both rows."""
        order = slash_order(value)
        if order not in ("either", "month-first"):
            return
        seen = self._orders.setdefault(column, {})
        seen.setdefault(order, (line, value))
        if "either" in seen and "month-first" in seen:
            self._mixed_order.add(column)
            month_line, month_value = seen["month-first"]
            either_line, either_value = seen["either"]
            self.reject_line(min(month_line, either_line), (
                f"column {self.name(column)}: dates read month-first at line {month_line} "
                f"({month_value!r}) and day-first where both readings are possible (line "
                f"{either_line}: {either_value!r}): some dates may be wrong; export the trace "
                "with ISO 8601 times or a 12-hour clock"))

    def event_basics(self, row: Row, time_column: str, id_column: str, event_column: str
                     ) -> tuple[datetime, str, str] | None:
        """Time, message id and lower-case event name of a row, or None after reporting it."""
        return self.basics(row.line, (time_column, id_column, event_column),
                           (row.get(time_column), row.get(id_column), row.get(event_column)))

    def basics(self, line: int, columns: tuple[str, str, str], values: tuple[str, str, str]
               ) -> tuple[datetime, str, str] | None:
        """`event_basics` from the stripped cells of those three columns."""
        time_column, id_column, event_column = columns
        when_text, message_id, event_text = values
        when = self._time(line, time_column, when_text)
        if when is None or self._required(line, id_column, message_id) is None:
            return None
        event = _event_name(event_text)
        if not event:
            self.reject_line(line, f"column {self.name(event_column)} is empty; row skipped")
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
