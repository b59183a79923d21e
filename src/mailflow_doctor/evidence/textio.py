"""Reading evidence files whose encoding nobody wrote down.

Exchange and PowerShell exports arrive as UTF-8 with or without a BOM, or as UTF-16 with a BOM
(`Export-Csv -Encoding Unicode`, the EAC extended report). Every reader decodes through here so
the choice is made once, and a file that is not text is rejected with a clear message.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from ..model import InputProblem, Location, Parsed

HEAD_BYTES = 8192
MAX_LINE = 64 * 1024  # longer "lines" are junk, not records; never buffer more than this
MAX_PROBLEMS = 100  # per file; a binary file must not turn into a million problems

T = TypeVar("T")

# A pipe is consumed by sniffing it, and opening a FIFO waits for a writer: neither is read.
NOT_A_FILE = "not a regular file (a pipe or a device): save what it holds to a file first"


def is_empty(path: str | Path) -> bool:
    """No bytes, or a byte-order mark alone."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in (b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    except OSError:
        return False


def _looks_binary(head: bytes) -> bool:
    """Real binaries are full of NULs; a log with one junk line is still a log."""
    return head.count(0) > max(2, len(head) // 200)


class UnreadableInput(Exception):
    """A whole file could not be used (binary, unknown encoding, unreadable)."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.problem = InputProblem(location, message)


def _encoding_of(raw: bytes) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a BOM: every other byte of ASCII text is NUL.
    sample = raw[:200]
    if len(sample) >= 4 and sample[1::2].count(0) > len(sample) // 4 and 0 not in sample[0::2][:4]:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > len(sample) // 4 and 0 not in sample[1::2][:4]:
        return "utf-16-be"
    return "utf-8"


def decode(raw: bytes, source: str) -> tuple[str, list[InputProblem]]:
    """Decode bytes to text; undecodable bytes are replaced and reported, NUL-heavy data refused."""
    encoding = _encoding_of(raw)
    if encoding == "utf-8" and _looks_binary(raw[:HEAD_BYTES]):
        raise UnreadableInput(Location(source), "binary data, not a text export or log")
    problems: list[InputProblem] = []
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = (before.count(b"\n") if encoding.startswith("utf-8") else
                before.decode(encoding, errors="replace").count("\n")) + 1
        if encoding.startswith("utf-8"):
            # Windows logs sometimes carry single-byte text; keep it readable rather than fail.
            text = raw.decode("cp1252", errors="replace")
            problems.append(InputProblem(Location(source, line),
                                         "not valid UTF-8; read as Windows-1252"))
        else:
            text = raw.decode(encoding, errors="replace")
            problems.append(InputProblem(Location(source, line),
                                         f"invalid {encoding} data replaced"))
    return text.lstrip("\ufeff"), problems


def read_text(path: str | Path) -> tuple[str, list[InputProblem]]:
    """Read a whole evidence file as text (see `decode`)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UnreadableInput(Location(source), f"cannot read file: {exc.strerror}") from None
    return decode(raw, source)


def open_text(path: str | Path) -> io.TextIOWrapper:
    """A text stream for big exports, decoded as `decode` would, without holding the file.

    Undecodable bytes become U+FFFD; readers report the records that contain one.
    """
    source = str(path)
    try:
        raw = open(source, "rb")  # noqa: SIM115 - handed to the wrapper, closed with it
    except OSError as exc:
        raise UnreadableInput(Location(source), f"cannot read file: {exc.strerror}") from None
    head = raw.read(HEAD_BYTES)
    raw.seek(0)
    encoding = _encoding_of(head)
    if encoding == "utf-8" and _looks_binary(head):
        raw.close()
        raise UnreadableInput(Location(source), "binary data, not a text export or log")
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")


def read_head(path: str | Path) -> str:
    """The first few KB as text, for sniffing a file's kind; empty when not text."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(HEAD_BYTES)
    except OSError:
        return ""
    encoding = _encoding_of(raw)
    if encoding == "utf-8" and _looks_binary(raw):
        return ""
    return raw.decode(encoding, errors="ignore").lstrip("\ufeff")


def iter_lines(path: str | Path, max_line: int = MAX_LINE
               ) -> Iterator[tuple[int, str, bool] | InputProblem]:
    """Stream (line number, text, ended with a newline) for big logs, in bounded memory.

    UTF-8 (with or without BOM) is decoded line by line so one stray Windows-1252 byte costs a
    single note, not the file; lines holding NUL bytes are binary junk and are reported and
    skipped; over-long lines are skipped whole. UTF-16 files are decoded as a stream.
    """
    source = str(path)
    with open(source, "rb") as raw:
        encoding = _encoding_of(raw.read(200))
        raw.seek(0)
        utf16 = encoding.startswith("utf-16")
        stream = (io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="\n")
                  if utf16 else raw)
        newline = "\n" if utf16 else b"\n"
        number, warned = 0, False
        while chunk := stream.readline(max_line):
            number += 1
            complete = chunk.endswith(newline)
            if not complete and len(chunk) >= max_line:
                while chunk and not chunk.endswith(newline):
                    chunk = stream.readline(max_line)
                yield InputProblem(Location(source, number),
                                   f"line longer than {max_line // 1024} KiB; skipped")
                continue
            if isinstance(chunk, bytes):
                if b"\0" in chunk:
                    yield InputProblem(Location(source, number),
                                       "binary data (NUL bytes), not a text line; skipped")
                    continue
                try:
                    chunk = chunk.decode("utf-8")
                except UnicodeDecodeError:
                    chunk = chunk.decode("cp1252", errors="replace")
                    if not warned:
                        warned = True
                        yield InputProblem(Location(source, number),
                                           "not valid UTF-8; read as Windows-1252 "
                                           "(first such line)")
            text = chunk.rstrip("\r\n")
            yield number, text.lstrip("\ufeff") if number == 1 else text, complete


def capped(source: str, items: Iterable[T | InputProblem]) -> Iterator[T | InputProblem]:
    """Records and problems of one file as read, with at most MAX_PROBLEMS problems listed;
    the others are counted in one closing line."""
    shown = hidden = 0
    for item in items:
        if isinstance(item, InputProblem):
            if shown >= MAX_PROBLEMS:
                hidden += 1
                continue
            shown += 1
        yield item
    if hidden:
        yield InputProblem(Location(source), f"{hidden} more unusable lines not listed")


def gathered(items: Iterable[T | InputProblem]) -> Parsed[T]:
    """A stream of records and problems, as one Parsed (records in stream order)."""
    out: Parsed[T] = Parsed()
    for item in items:
        if isinstance(item, InputProblem):
            out.problems.append(item)
        else:
            out.records.append(item)
    return out
