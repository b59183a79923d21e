"""Which registered files a question needs read, and reading them (see ingestion.py).

A time window pushed down to whole files: a file's span comes from its first and last rows,
and only files whose span (widened by a margin for rows logged slightly out of order) meets
the window are read; files with no readable span always are. Without a window every pending
file is read, which completes the store. Files left unread stay pending for a later question,
so what the store answers is always complete for the window asked.

This module stays light: the reading code is imported only when there is something to read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .db import CaseStore, naive_utc

Progress = Callable[[int, int | None, str], None]
MARGIN_MINUTES = 10


@dataclass
class IngestStats:
    """What one `ingest` call did."""

    ingested: int = 0  # files read in this call
    python_reader: int = 0  # of which through the Python reader
    skipped: int = 0  # in scope and already in the store, unchanged
    deferred: int = 0  # in scope but outside the asked time window: left for a later query
    sessions: int = 0
    bad_lines: int = 0  # in the files read now
    bad_lines_before: int = 0  # in the files already in the store

    @property
    def bad_lines_total(self) -> int:
        return self.bad_lines + self.bad_lines_before


@dataclass(frozen=True)
class PendingFile:
    file_id: int
    path: str
    log_type: str
    reader: str


def pending(store: CaseStore, since: datetime | None = None, until: datetime | None = None,
            margin_minutes: int = MARGIN_MINUTES) -> tuple[list[PendingFile], IngestStats]:
    """The files to read for [since, until], largest first, and the counts of the others.

    One small query over `files`; the window test runs in Python (hundreds of rows at most).
    """
    margin = timedelta(minutes=margin_minutes)
    low, high = naive_utc(since), naive_utc(until)
    stats = IngestStats()
    files = []
    for file_id, path, log_type, reader, state, first, last, bad, size in store.con.execute(
            "SELECT file_id, path, log_type, reader, state, first_time, last_time, bad_lines, "
            f"size FROM files WHERE state <> 'other' AND {store.scope_sql()}").fetchall():
        if state != "pending":
            stats.skipped += 1
            stats.bad_lines_before += bad or 0
        elif (low is None or last is None or last + margin >= low) and (
                high is None or first is None or first - margin <= high):
            files.append((size, PendingFile(file_id, path, log_type, reader)))
        else:
            stats.deferred += 1
    files.sort(key=lambda pair: pair[0], reverse=True)  # here: DuckDB's ORDER BY costs ~3 ms
    return [file for _, file in files], stats


def ingest(store: CaseStore, since: datetime | None = None, until: datetime | None = None,
           progress: Progress | None = None,
           margin_minutes: int = MARGIN_MINUTES) -> IngestStats:
    """Read the pending files of the store's scope that can hold rows in [since, until]."""
    files, stats = pending(store, since, until, margin_minutes)
    if files:
        from .ingestion import read_files

        read_files(store, files, stats, progress)
    return stats
