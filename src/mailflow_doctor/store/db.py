"""The case store itself: one DuckDB file (kept) or a temporary one (deleted on close).

Why DuckDB: protocol logs run to gigabytes, the Python reader folds ~80k lines/s, and the
questions asked of them (sessions from these ranges in this window, per range, per hour) are
scans and group-bys. DuckDB reads the CSV with its own parallel reader, rebuilds sessions in SQL
and keeps them in one file that later runs reuse. Memory and threads are set explicitly so a
case of any size stays within a fixed budget.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

try:  # the engine alone: the package's Python layer (relational API, version lookup via
    import _duckdb as duckdb  # importlib.metadata) costs 0.15 s per start and is not used here
except ImportError:  # releases that keep the engine inside the package
    import duckdb

SCHEMA_VERSION = "3"  # 3: sessions.domain_capabilities
MEMORY_LIMIT = "512MB"  # DuckDB spills to disk beyond this; with Python the process stays < 1 GB

# Every time is naive UTC (TIMESTAMP): nothing to convert between DuckDB and Python, and
# no time-zone module needed on either side.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS files (
    file_id INTEGER PRIMARY KEY, path VARCHAR UNIQUE, size BIGINT, mtime_ns BIGINT,
    ctime_ns BIGINT, fingerprint VARCHAR, log_type VARCHAR, first_time TIMESTAMP,
    last_time TIMESTAMP, state VARCHAR, reader VARCHAR, rows BIGINT, bad_lines INTEGER,
    ingested_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS certificates (
    cert_key BIGINT PRIMARY KEY, subject VARCHAR, issuer VARCHAR, serial VARCHAR,
    thumbprint VARCHAR, not_before TIMESTAMP, not_after TIMESTAMP, san VARCHAR[]);
CREATE TABLE IF NOT EXISTS sessions (
    file_id INTEGER, session_id VARCHAR, log_type VARCHAR, server VARCHAR, connector VARCHAR,
    start TIMESTAMP, "end" TIMESTAMP, local_endpoint VARCHAR, remote_ip VARCHAR,
    ip_family UTINYINT, ip_num UHUGEINT, ehlo VARCHAR, starttls_offered BOOLEAN,
    starttls_used BOOLEAN, tls VARCHAR, cert_key BIGINT, messages INTEGER,
    replies VARCHAR,  -- newline-joined (a log field never holds one): fetched 3x faster than a list
    disconnect VARCHAR, line BIGINT, line_count INTEGER, domain_capabilities VARCHAR);
CREATE TABLE IF NOT EXISTS problems (file_id INTEGER, line BIGINT, message VARCHAR);
CREATE OR REPLACE VIEW sessions_full AS
    SELECT s.* REPLACE (string_split(s.replies, chr(10)) AS replies), f.path,
           c.subject AS cert_subject, c.issuer AS cert_issuer, c.thumbprint AS cert_thumbprint,
           c.san AS cert_san, c.not_after AS cert_not_after
    FROM sessions s JOIN files f USING (file_id) LEFT JOIN certificates c USING (cert_key);
"""


class StoreError(Exception):
    """The store cannot be used (locked by another process, other schema, unwritable)."""


class CaseStore:
    """An open case store. Use as a context manager; a temporary store is deleted on close.

    `scope` holds the file ids of the paths given to the current run (None: every file in the
    store), so a store shared by several cases answers only about the logs asked about.
    """

    def __init__(self, path: str | Path | None = None, *, memory_limit: str = MEMORY_LIMIT,
                 threads: int | None = None, prepare: bool = True) -> None:
        self._tmpdir = None
        if path is None:
            import tempfile  # here: a query on a kept store starts without it

            self._tmpdir = tempfile.mkdtemp(prefix="mailflow-store-")
            path = os.path.join(self._tmpdir, "case.duckdb")
        self.threads = threads or min(os.cpu_count() or 1, 4)
        self.scope: list[int] | None = None
        location = os.fspath(path)
        if not _may_hold_a_store(location):
            raise StoreError(f"{_shown(location)}: not a mailflow-doctor case store (not a "
                             "DuckDB database file); give a new file name or an existing store")
        try:  # settings as the connect's config: on Opening's thread, off the command's
            self.con = duckdb.connect(location, config={
                "memory_limit": memory_limit, "threads": self.threads,
                "preserve_insertion_order": False})
        except (duckdb.IOException, duckdb.Error) as exc:
            self._cleanup()
            raise StoreError(f"{_shown(location)}: cannot open the case store: "
                             f"{_first_line(exc)}") from None
        from pathlib import Path  # only now: open_ahead's thread connects first

        self.path = Path(location)
        self._found = self._look()
        if prepare:
            self.prepare()

    def _look(self) -> tuple[str | None, int | None]:
        """What the file holds: (schema version, None) when it has our `meta` table, else
        (None, how many tables). The time zone is set first (ICU's setting, not one for the
        connect's config). Neither changes the file, so Opening's thread does this too."""
        try:
            self.con.execute("SET GLOBAL TimeZone = 'UTC'")
            try:
                row = self.con.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            except duckdb.CatalogException:
                return None, self.con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()[0]
            return (row[0] if row else None), None
        except duckdb.Error as exc:
            self.close()
            raise StoreError(f"{self.path}: {_first_line(exc)}") from None

    def prepare(self) -> None:
        """The schema checked, or written: the part of opening that may change the file, which
        Opening leaves until a command has accepted its options."""
        version, tables = self._found
        if version == SCHEMA_VERSION:  # the common case: an existing store of this version
            return
        try:
            if tables:
                raise StoreError(f"{self.path}: not a mailflow-doctor case store")
            if version is not None:
                raise StoreError(f"{self.path}: case store of schema {version}, this version "
                                 f"needs {SCHEMA_VERSION}; delete the file to rebuild it")
            self.con.execute(_SCHEMA)
            self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)",
                             [SCHEMA_VERSION])
        except duckdb.Error as exc:
            self.close()
            raise StoreError(f"{self.path}: {_first_line(exc)}") from None
        except StoreError:
            self.close()  # now, not when the collector gets to it: it holds the file's lock
            raise

    @property
    def temporary(self) -> bool:
        return self._tmpdir is not None

    def scope_sql(self, column: str = "file_id") -> str:
        """A predicate limiting a query to the files of this run (ids are integers we made)."""
        if self.scope is None:
            return "TRUE"
        if not self.scope:
            return "FALSE"
        return f"{column} IN ({', '.join(str(int(i)) for i in self.scope)})"

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
            self.con = None
        self._cleanup()

    def _cleanup(self) -> None:
        if self._tmpdir is not None:
            import shutil

            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: str | Path | None = None, **settings) -> CaseStore:
    """Open (creating if needed) the store at `path`, or a temporary one when None."""
    return CaseStore(path, **settings)


class Opening:
    """An existing store being opened on a thread while the command imports the rest.

    DuckDB's connect is ~40 ms of C++ that lets Python run, about what a query command then
    spends importing its models and renderers; a repeated query is timed, so the two overlap.
    A store that does not exist yet (or a temporary one) is opened only when asked for, so that
    an option rejected before then leaves no empty store behind; for the same reason the thread
    only connects and reads (CaseStore._look), and the schema is checked, or written, when the
    store is asked for. Leaving the `with` block waits for the thread and closes the store.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = path
        self._outcome: CaseStore | BaseException | None = None
        self._prepared = False
        self._close_failed: BaseException | None = None
        self._thread = None
        if path is not None and os.path.isfile(path):
            import threading

            self._thread = threading.Thread(target=self._open, name="open-store", daemon=True)
            self._thread.start()

    def _open(self) -> None:
        try:
            self._outcome = CaseStore(self.path, prepare=False)
        except BaseException as exc:  # raised again by store(), in the caller's thread
            self._outcome = exc.with_traceback(None)  # no frames (and store) kept alive

    def store(self) -> CaseStore:
        """The open store; raises StoreError as open_store would."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        elif self._outcome is None:
            self._open()
        if isinstance(self._outcome, CaseStore) and not self._prepared:
            self._prepared = True
            try:
                self._outcome.prepare()
            except StoreError as exc:  # prepare has closed the store
                self._outcome = exc.with_traceback(None)
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        return self._outcome

    def close_behind(self) -> None:
        """Close the store on a thread: DuckDB's close (~5 ms) lets Python run, so a command
        renders its report meanwhile, then asks `closed()`. Leaving the `with` block waits for
        it too, and raises what `closed()` was not asked for."""
        store = self._outcome
        if isinstance(store, CaseStore):
            import threading

            self._outcome = None
            self._thread = threading.Thread(target=self._close, args=(store,),
                                            name="close-store")
            self._thread.start()

    def _close(self, store: CaseStore) -> None:
        try:
            store.close()
        except duckdb.Error as exc:  # a checkpoint that failed (a full disk)
            self._close_failed = cannot_write(store, exc)
        except BaseException as exc:  # raised again in the caller's thread
            self._close_failed = exc

    def closed(self) -> StoreError | None:
        """Wait for the close behind: the StoreError it ended with, or None."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        failed, self._close_failed = self._close_failed, None
        if failed is not None and not isinstance(failed, StoreError):
            raise failed
        return failed

    def __enter__(self) -> Opening:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if isinstance(self._outcome, CaseStore):
            self._outcome.close()
        failed, self._close_failed = self._close_failed, None
        if failed is not None and (not exc or exc[0] is None):
            raise failed


_ahead: Opening | None = None  # started by open_ahead, until a command claims it


def open_ahead(path: str) -> None:
    """Start opening an existing store before the command that will ask for it has even been
    parsed (see launch.py). One never claimed is closed when the process exits."""
    global _ahead
    if _ahead is None and os.path.isfile(path):
        import atexit

        _ahead = Opening(path)
        atexit.register(close_ahead)


def close_ahead() -> None:
    """Close the opening started ahead if no command claimed it: at exit, or before a command
    ends its process itself (logs_command.answer)."""
    global _ahead
    ahead, _ahead = _ahead, None
    if ahead is not None:
        ahead.__exit__()


def opening(path: str | Path | None) -> Opening:
    """The opening started ahead for `path`, or else a new one."""
    global _ahead
    ahead, _ahead = _ahead, None
    if ahead is not None:
        if path is not None and os.path.abspath(path) == os.path.abspath(ahead.path):
            return ahead
        ahead.__exit__()  # another store was meant: its lock is released now
    return Opening(path)


def naive_utc(value: datetime | None) -> datetime | None:
    """A time as the store keeps it: UTC without tzinfo (naive values are taken as UTC)."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def aware_utc(value: datetime | None) -> datetime | None:
    """A time read from the store, as the rest of the tool uses it: UTC-aware."""
    return value.replace(tzinfo=UTC) if value is not None else None


def _may_hold_a_store(path: str) -> bool:
    """True unless `path` holds something other than a DuckDB database (which DuckDB would
    open as an empty in-memory one when it is, say, a CSV: nothing would be kept)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False  # a FIFO would hold the open until a writer comes
        with open(path, "rb") as fh:
            head = fh.read(12)
    except FileNotFoundError:
        return True
    except OSError:
        return True  # DuckDB says why it cannot open it
    return not head or head[8:12] == b"DUCK"


def cannot_write(store: CaseStore, exc: BaseException) -> StoreError:
    """The error for a write DuckDB refused (a read-only folder, a full disk): one line."""
    return StoreError(f"{store.path}: cannot write to the case store: {_first_line(exc)}")


def _shown(location: str) -> str:
    """A store's path as messages show it (as pathlib writes it)."""
    from pathlib import Path

    return str(Path(location))


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
