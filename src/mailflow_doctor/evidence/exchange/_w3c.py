"""The line loop of Exchange's W3C-style logs (protocol and message tracking logs), written once.

Both are CSV rows under `#` header lines (`#Fields`, `#Log-type`, `#Software`, ...) that may
repeat anywhere (a service restart writes them again). A reader subclass says what a header and
a row mean; the loop skips blank lines, passes on decoding problems, and turns a file that
cannot be read into one problem instead of an exception.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from ...model import InputProblem, Location
from ..textio import capped, iter_lines

R = TypeVar("R")

HEADER = re.compile(r"#\s*([A-Za-z-]+)\s*:\s*(.*)")  # `#Key: value`, one line
# The same headers found in a file's first block of text (sniffing):
LOG_TYPE_LINE = re.compile(r"^#\s*log-type\s*:\s*(.*?)\s*$", re.I | re.M)
FIELDS_LINE = re.compile(r"^#\s*fields\s*:\s*(.*?)\s*$", re.I | re.M)


class W3CLogReader(ABC, Generic[R]):
    """Reads one file: `items()` gives records (R) and problems in file order."""

    def __init__(self, source: str) -> None:
        self.source = source

    @classmethod
    def stream(cls, path: str | Path) -> Iterator[R | InputProblem]:
        """Records and problems of the file at `path` as read, problems capped; never raises."""
        source = str(path)
        return capped(source, cls(source).items())

    def items(self) -> Iterator[R | InputProblem]:
        try:
            for entry in iter_lines(self.source):
                if isinstance(entry, InputProblem):
                    yield entry
                    continue
                number, text, complete = entry
                if not text.strip():
                    continue
                if text.startswith("#"):
                    if problem := self._header(number, text):
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
