"""The line loop of Exchange's W3C-style logs (protocol and message tracking logs), written once.

Both are CSV rows under `#` header lines (`#Fields`, `#Log-type`, `#Software`, ...) that may
repeat anywhere (a service restart writes them again). A reader subclass says what a header and
a row mean; the loop skips blank lines, passes on decoding problems, and turns a file that
cannot be read into one problem instead of an exception.

Both also start each row with its date-time, and Exchange appends rows as events happen, so a
file's first and last rows give its time span (`time_span`): a question about a time window
can leave a file outside it unread.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, TypeVar

from ...model import InputProblem, Location
from ..textio import capped, iter_lines

R = TypeVar("R")

HEADER = re.compile(r"#\s*([A-Za-z-]+)\s*:\s*(.*)")  # `#Key: value`, one line
# The same headers found in a file's first block of text (sniffing):
LOG_TYPE_LINE = re.compile(r"^#\s*log-type\s*:\s*(.*?)\s*$", re.I | re.M)
FIELDS_LINE = re.compile(r"^#\s*fields\s*:\s*(.*?)\s*$", re.I | re.M)
_ROW_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
SPAN_BYTES = 16384  # bytes read at each end of a file to find its first and last row times


def row_time(text: str) -> datetime | None:
    """A row's date-time in UTC; None for anything else, including years no Exchange ever
    logged."""
    text = text.strip()
    if not _ROW_TIME.fullmatch(text):
        return None
    try:
        value = datetime.fromisoformat(text)
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return value if value.year >= 1990 else None  # keeps `time - IDLE` arithmetic safe


def time_span(path: str, size: int) -> tuple[datetime | None, datetime | None]:
    """Earliest of the first rows' times and latest of the last rows' (UTC), from SPAN_BYTES
    at each end; None where no row time is readable (UTF-16, say). Raises OSError."""
    with open(path, "rb", buffering=0) as fh:
        head = fh.read(SPAN_BYTES)
        tail = os.pread(fh.fileno(), SPAN_BYTES, max(0, size - SPAN_BYTES))
    head_lines = head.splitlines()
    if size > SPAN_BYTES:
        head_lines = head_lines[:-1]  # may be cut
    tail_lines = tail.splitlines()[1 if size > SPAN_BYTES else 0:]
    first, last = _times(head_lines), _times(reversed(tail_lines))
    return min(first) if first else None, max(last) if last else None


def _times(lines: Iterable[bytes], wanted: int = 16) -> list[datetime]:
    """Times of the first `wanted` rows among `lines` that start with a readable time."""
    out = []
    for raw in lines:
        if raw[:1].isdigit():
            t = row_time(raw.split(b",", 1)[0].decode("ascii", "replace"))
            if t is not None:
                out.append(t)
                if len(out) == wanted:
                    break
    return out


def header_line(text: str) -> str | None:
    """A `#` line as text, None for a data line. A byte-order mark may start one in the middle
    of a file too: Exchange starts each log with one, and logs get joined with `cat`."""
    if text.startswith("#"):
        return text
    return text[1:] if text.startswith("\ufeff#") else None


class W3CLogReader(ABC, Generic[R]):
    """Reads one file: `items()` gives records (R) and problems in file order."""

    def __init__(self, source: str) -> None:
        self.source = source

    @classmethod
    def stream(cls, path: str | Path, *args: object) -> Iterator[R | InputProblem]:
        """Records and problems of the file at `path` as read, problems capped; never raises.
        `args` go to the reader's constructor after the path."""
        source = str(path)
        return capped(source, cls(source, *args).items())

    def items(self) -> Iterator[R | InputProblem]:
        try:
            for entry in iter_lines(self.source):
                if isinstance(entry, InputProblem):
                    yield entry
                    continue
                number, text, complete = entry
                if not text.strip():
                    continue
                if (header := header_line(text)) is not None:
                    if problem := self._header(number, header):
                        yield problem
                    continue
                yield from self._row(number, text, complete)
        except OSError as exc:
            yield InputProblem(Location(self.source), f"cannot read file: {exc.strerror or exc}")
        yield from self._end()

    def _problem(self, number: int, message: str) -> InputProblem:
        return InputProblem(Location(self.source, number), message)

    @abstractmethod
    def _header(self, number: int, text: str) -> InputProblem | None:
        """Take in a `#` line; a problem when it cannot be followed."""

    @abstractmethod
    def _row(self, number: int, text: str, complete: bool) -> Iterable[R | InputProblem]:
        """What a data line gives; `complete` is False for a last line without its line end."""

    def _end(self) -> Iterable[R | InputProblem]:
        """What is left at the end of the file (nothing, unless the reader holds records)."""
        return ()
