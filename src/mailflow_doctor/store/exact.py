"""Is DuckDB's reading of a file exact, line for line? And how would the Python reader word it?

DuckDB's CSV reader is fast but sees lines differently in corner cases: it skips blank lines
silently, a stray double quote makes it join lines, its byte positions depend on the line
ending. The ingest trusts it only when every physical line of the file is accounted for as a
row or a rejected line, the line numbers it gives agree with the bytes, and the Python reader
judges each rejected line the same way. Otherwise `NotExact` sends the file to the Python
reader. Rejected lines are then worded exactly as the Python reader words them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..evidence.exchange import protocol_log
from ..evidence.exchange._w3c import header_line
from ..evidence.textio import MAX_LINE


class NotExact(Exception):
    """DuckDB's reading of a file cannot be trusted line for line; use the Python reader."""



def rejected_lines(cur, data: bytes) -> dict[int, int]:
    """Physical line number -> byte offset of each line DuckDB rejected.

    DuckDB's line numbers are checked against the bytes: its byte position is the line start
    for CRLF files and one past it for LF files (line 1 is always given as 1).
    """
    for kind in cur.execute("SELECT DISTINCT error_type::VARCHAR FROM reject_errors").fetchall():
        if kind[0] in ("UNQUOTED VALUE", "INVALID ENCODING", "INVALID STATE"):
            raise NotExact
    out: dict[int, int] = {}
    seen = 0  # newlines before `at`
    at = 0
    for line, pos in sorted(set(cur.execute(
            "SELECT line, line_byte_position FROM reject_errors").fetchall()), key=lambda r: r[1]):
        seen += data.count(b"\n", at, pos)
        at = pos
        if line != seen + 1 or out.get(line, pos) != pos:
            raise NotExact
        if line == 1:
            start = 0
        elif data[pos - 1:pos] == b"\n":
            start = pos
        elif data[pos - 2:pos - 1] == b"\n":
            start = pos - 1
        else:
            raise NotExact
        out[line] = start
    return out


def check_lines(data: bytes, rows: int, rejected: dict[int, int]) -> int:
    """Every physical line must be a row or a rejected line (blank lines are neither, a stray
    quote merges lines); line ends must be all CRLF or all LF; no NUL bytes."""
    newlines = data.count(b"\n")
    physical = newlines + (1 if data and not data.endswith(b"\n") else 0)
    if data.startswith(b"\xef\xbb\xbf") and len(data) == 3:
        physical = 0
    returns = data.count(b"\r")
    if rows + len(rejected) != physical or returns not in (0, newlines) or b"\0" in data:
        raise NotExact
    return physical


def line_starts(data: bytes, lines: Iterable[int]) -> dict[int, int]:
    """Byte offsets of the given (sorted) line numbers, in one pass."""
    out, line, pos = {}, 1, 0
    for wanted in lines:
        while line < wanted:
            pos = data.find(b"\n", pos) + 1
            if pos == 0:
                return out
            line += 1
        out[wanted] = pos
    return out


def line_problem(reader, log_type: str, line: int, raw: bytes) -> str | None:
    """How the Python reader words a line DuckDB did not take; None when it is no problem.

    `raw` is the line without its newline, as `textio.iter_lines` would have seen it.
    """
    if len(raw) + 1 > MAX_LINE:
        return f"line longer than {MAX_LINE // 1024} KiB; skipped"
    try:
        text = raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise NotExact from None
    if not text.strip():
        return None
    if (header := header_line(text)) is not None:
        if reader._header(line, header) is not None or reader.log_type not in (None, log_type) \
                or tuple(reader.columns) != protocol_log.STANDARD_FIELDS:
            raise NotExact
        return None
    result = reader._read_row(line, text)
    if not isinstance(result, str):
        raise NotExact
    return result
