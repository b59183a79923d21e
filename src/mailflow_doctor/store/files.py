"""Which log files a run is about, and which of them the store already holds unchanged.

A file is unchanged when its size, modification time and status-change time (ctime, which no
tool can set back) match what was recorded: no bytes are read, so a repeated query on hundreds
of files stays fast. When only the ctime moved (a chmod, a restore that kept the mtime), a hash
of the first and last 64 KiB decides. An append — the usual change to a log — changes the
size. A changed file loses its old sessions and problems and is read again.

Files that are not protocol logs (a README, a marker, another tool's output) are remembered too,
as state `other`, so a repeated query does not open them again to find that out.

Each new file also gets its time span from its first and last rows (Exchange appends rows as
events happen), so a query for a time window reads only the files that can hold it.

An archive (.zip, .tar.gz, .gz) stands for the files it holds: they are extracted beside the
store (evidence/archives.py) once, and registered like any file; an unchanged archive is found
extracted on the next run, so its members are unchanged files too.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..evidence.archives import Unpacker, archive_kind, store_folder
from ..evidence.textio import NOT_A_FILE, is_empty
from ..model import InputProblem, Location
from .db import CaseStore, cannot_write, duckdb, naive_utc

EDGE = 65536  # bytes hashed at each end
_LOG_TYPE = re.compile(r"^#\s*log-type\s*:\s*smtp (receive|send) protocol log\s*$", re.I | re.M)


@dataclass
class Registration:
    """What `register` found: counts for the report and unusable inputs."""

    files: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    unpacked: int = 0  # archives extracted now (0 when all were found extracted)
    not_logs: list[str] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


def _walk(paths: Iterable[str | Path], reg: Registration, unpack: Unpacker,
          own: str) -> Iterator[tuple[str, bool]]:
    """(absolute path, named explicitly) for every file under `paths`, folders sorted.

    Archives give their members (never named: a README in a zip is no problem). The store's own
    files (`own`: its path, WAL, the archive folder beside it) are left out of folder walks; a
    member extracted there may be named (`collect` extracts beside the store too).
    """
    for item in paths:
        root = os.path.abspath(item)
        if os.path.isdir(root):
            for folder, dirs, names in os.walk(root):
                dirs[:] = sorted(d for d in dirs if not os.path.join(folder, d).startswith(own))
                for name in sorted(names):
                    path = os.path.join(folder, name)
                    if not path.startswith(own):
                        yield from _expand(path, False, unpack)
        elif os.path.isfile(root):
            if not root.startswith(own) or root.startswith(str(unpack.root)):
                yield from _expand(root, True, unpack)
        else:
            reg.problems.append(InputProblem(Location(str(item)), NOT_A_FILE if os.path.exists(
                root) else "no such file or folder"))


def _expand(path: str, named: bool, unpack: Unpacker) -> Iterator[tuple[str, bool]]:
    if archive_kind(path) is None:
        yield path, named
    else:
        yield from ((str(member), False) for member in unpack.expand(path))


def fingerprint(path: str, size: int) -> str:
    import hashlib  # here: an unchanged file needs only its stat

    with open(path, "rb", buffering=0) as fh:
        head = fh.read(EDGE)
        tail = os.pread(fh.fileno(), EDGE, max(EDGE, size - EDGE)) if size > EDGE else b""
    return hashlib.blake2b(head + tail, digest_size=16).hexdigest()


def log_type(head: str) -> str:
    """`receive` or `send`: from `#Log-type`, else guessed as the Python reader guesses."""
    if m := _LOG_TYPE.search(head):
        return m.group(1).lower()
    first = next((ln for ln in head.splitlines() if ln.strip() and not ln.startswith("#")), "")
    parts = first.split(",")
    return "receive" if len(parts) > 1 and "\\" in parts[1] else "send"


def _describe(path: str, st: os.stat_result) -> list | None:
    """The `files` columns of a new or changed file; None when it is not a protocol log."""
    from ..evidence.exchange import protocol_log
    from ..evidence.exchange._w3c import time_span
    from ..evidence.textio import _encoding_of, read_head

    head = read_head(path)
    if not protocol_log.sniff(head):
        return None
    first, last = map(naive_utc, time_span(path, st.st_size))
    with open(path, "rb") as fh:
        encoding = _encoding_of(fh.read(200))
    reader = "duckdb" if encoding.startswith("utf-8") else "python"  # UTF-16: Python reads it
    return [path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, fingerprint(path, st.st_size),
            log_type(head), first, last, reader]


def register(store: CaseStore, paths: Iterable[str | Path]) -> Registration:
    """Record the protocol logs under `paths` and set the store's scope to them."""
    reg = Registration()
    con = store.con
    # `state` compared here, not in SQL: DuckDB's first comparison in a projection costs ~5 ms
    known = {r[1]: (*r[:6], r[6] == "other") for r in con.execute(
        "SELECT file_id, path, size, mtime_ns, ctime_ns, fingerprint, state FROM files"
    ).fetchall()}
    logs_known = sum(1 for r in known.values() if not r[6])
    scope: list[int] = []
    inserts: list[list] = []
    updates: list[tuple[int, list]] = []
    next_id = max((r[0] for r in known.values()), default=0) + 1
    own = os.path.abspath(store.path)  # the store's file, its WAL and anything kept beside it
    unpack = Unpacker(store_folder(store.path))  # kept: a temporary store's folder goes with it
    seen: set[str] = set()
    for path, named in _walk(paths, reg, unpack, own):
        if path in seen:  # given twice, or an archive and its folder
            continue
        seen.add(path)
        if not path.isascii() and not _utf8(path):  # DuckDB keeps text as UTF-8
            _not_utf8(reg, path, named)
            continue
        try:
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):  # a FIFO in a folder: opening it would wait
                reg.problems.append(InputProblem(Location(path), NOT_A_FILE))
                continue
            old = known.get(path)
            if old is not None and (old[2], old[3]) == (st.st_size, st.st_mtime_ns) and (
                    old[4] == st.st_ctime_ns or old[5] == fingerprint(path, st.st_size)):
                if old[6]:
                    _not_a_log(reg, path, named)
                else:
                    reg.unchanged += 1
                    scope.append(old[0])
                continue
            values = _describe(path, st)
        except OSError as exc:
            reg.problems.append(InputProblem(Location(path),
                                             f"cannot read file: {exc.strerror or exc}"))
            continue
        if values is None:
            _not_a_log(reg, path, named)
            values = [path, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                      fingerprint(path, st.st_size), None, None, None, None]
        if old is None:
            file_id, next_id = next_id, next_id + 1
            inserts.append([file_id, *values])
            reg.new += values[5] is not None
        else:
            file_id = old[0]
            updates.append((file_id, values))
            reg.changed += values[5] is not None
        if values[5] is not None:
            scope.append(file_id)
    reg.unpacked = unpack.extracted
    reg.problems.extend(unpack.problems)
    if inserts or updates:
        _save(store, inserts, updates)
    reg.files = len(scope)
    everything = len(set(scope)) == logs_known + sum(1 for row in inserts if row[6] is not None)
    store.scope = None if everything else scope  # no IN list when the run asks about every file
    return reg


def _utf8(path: str) -> bool:
    """False for a name with bytes that are not UTF-8 (Python holds them as surrogates)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _not_utf8(reg: Registration, path: str, named: bool) -> None:
    """A file the store cannot name is left out: a problem when it was named or is a protocol
    log, shown with its odd bytes as `\\xNN` so that every report can print it; other files
    are passed over, as files that are not logs are."""
    from ..evidence.exchange import protocol_log
    from ..evidence.textio import read_head

    if named or protocol_log.sniff(read_head(path)):
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        reg.problems.append(InputProblem(Location(shown), "left out: its name is not UTF-8, "
                                         "which the case store keeps"))


def _not_a_log(reg: Registration, path: str, named: bool) -> None:
    reg.not_logs.append(path)
    if named:
        reg.problems.append(InputProblem(Location(path), "empty file" if is_empty(path)
                                         else "not an SMTP protocol log"))


def _state(values: list) -> str:
    """`pending` for a log not read yet, `other` for a file that is not a protocol log."""
    return "pending" if values[5] is not None else "other"


def _save(store: CaseStore, inserts: list[list], updates: list[tuple[int, list]]) -> None:
    from .rows import insert_rows

    con = store.con
    con.execute("BEGIN")
    try:
        for file_id, values in updates:  # UPDATE: DuckDB's key index dislikes delete + insert
            con.execute("DELETE FROM sessions WHERE file_id = ?", [file_id])
            con.execute("DELETE FROM problems WHERE file_id = ?", [file_id])
            con.execute("UPDATE files SET size = ?, mtime_ns = ?, ctime_ns = ?, fingerprint = ?, "
                        "log_type = ?, first_time = ?, last_time = ?, reader = ?, "
                        "state = ?, rows = NULL, bad_lines = NULL, ingested_at = NULL "
                        "WHERE file_id = ?", [*values[1:], _state(values), file_id])
        insert_rows(con, "files (file_id, path, size, mtime_ns, ctime_ns, fingerprint, log_type, "
                         "first_time, last_time, reader, state)",
                    [[*row, _state(row[1:])] for row in inserts])
        con.execute("COMMIT")
    except BaseException as exc:
        with contextlib.suppress(duckdb.Error):  # a failed COMMIT has ended the transaction
            con.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):
            raise cannot_write(store, exc) from None
        raise
