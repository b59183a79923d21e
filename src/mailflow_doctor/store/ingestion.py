"""Reading registered log files into the store: DuckDB's reader first, the Python one when needed.

Each file is read on its own (a worker thread per core, each with its own DuckDB cursor), so
memory stays bounded by one file's sessions whatever the total volume, and line numbers come
straight from the row ordinal. DuckDB's reading is used only when it is exact line for line
(see exact.py); otherwise the file goes to the Python reader — slower, but exact. Bad lines
never stop anything: they become problems naming file and line.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import threading
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ..evidence.exchange import protocol_log
from ..evidence.exchange._certificate import CertificateLines
from ..evidence.exchange._smtp_session import remote_ip
from ..evidence.exchange.layout import origin
from ..evidence.textio import MAX_PROBLEMS
from ..model import InputProblem, Location
from ..model.exchange import Certificate, SmtpSession
from . import session_sql as sql
from .db import CaseStore, cannot_write, duckdb, naive_utc
from .exact import NotExact, check_lines, line_problem, line_starts, rejected_lines
from .pending import IngestStats, PendingFile, Progress
from .rows import insert_rows

PROGRESS_LABEL = "reading protocol logs"
_EVENTS = {"receive": ("<", ">"), "send": (">", "<")}  # (command, reply) as logged


def cert_key(cert: Certificate) -> int:
    """A stable 63-bit key for a certificate's content (both readers agree on it)."""
    text = repr((cert.subject, cert.issuer, cert.serial, cert.thumbprint,
                 cert.not_before and cert.not_before.isoformat(),
                 cert.not_after and cert.not_after.isoformat(), cert.san))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") >> 1


def ip_number(ip: str) -> tuple[int | None, str | None]:
    """(family, integer as text) of an address, (None, None) when it is not one.

    As text because some DuckDB versions bind a Python int above 2**63 as a DOUBLE.
    """
    try:
        value = ipaddress.ip_address(ip)
    except ValueError:
        return None, None
    return value.version, str(int(value))


class _Ingester:
    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self.local = threading.local()
        self.lock = threading.Lock()
        self.certs: dict[int, int | None] = {}  # certificate-row run -> key (None: none sent)
        self.cursors: list = []
        self.cert_cursor = store.con.cursor()  # autocommit, outside the per-file transactions
        self.cursors.append(self.cert_cursor)

    def cursor(self):
        cur = getattr(self.local, "cur", None)
        if cur is None:
            cur = self.local.cur = self.store.con.cursor()
            with self.lock:
                self.cursors.append(cur)
        return cur

    def close(self) -> None:
        for cur in self.cursors:
            cur.close()

    # -- one file ---------------------------------------------------------------------------------

    def run(self, f: PendingFile) -> tuple[int, int, bool]:
        """Read one file; (sessions, bad lines, used the Python reader)."""
        cur = self.cursor()
        if f.reader == "duckdb":
            try:
                return (*self._duckdb(cur, f), False)
            except (NotExact, duckdb.Error, OSError):
                # Whatever DuckDB's reader cannot take line for line (or at all: out of memory
                # on one huge file, a file gone) goes to the streaming Python reader, which
                # reads what it can and reports the rest.
                with contextlib.suppress(duckdb.Error):  # no transaction open: nothing to undo
                    cur.execute("ROLLBACK")
            finally:
                for table in ("agg", "shift", "endpoints", "cert_runs", "reject_errors",
                              "reject_scans"):
                    cur.execute(f"DROP TABLE IF EXISTS {table}")
        return (*self._python(cur, f), True)

    def _duckdb(self, cur, f: PendingFile) -> tuple[int, int]:
        command, reply = _EVENTS[f.log_type]
        cur.execute(sql.AGGREGATE, {"path": f.path, "cmd": command, "rep": reply})
        data = Path(f.path).read_bytes()
        rows = cur.execute("SELECT coalesce(sum(line_count), 0) FROM agg").fetchone()[0]
        rejected = rejected_lines(cur, data)
        physical = check_lines(data, rows, rejected)
        cut = physical if data and not data.endswith(b"\n") else None  # still being written
        reader = protocol_log._LogReader(f.path)
        problems = [self._problem(reader, f, data, line, start, cut)
                    for line, start in sorted(rejected.items())]
        shifts = [line - j for j, line in enumerate(sorted(rejected), start=1)]
        refused = cur.execute("SELECT refused FROM agg WHERE sid IS NULL").fetchone()
        if refused and refused[0]:
            # Rows DuckDB read but the Python reader refuses (no session id, impossible time);
            # only the first ones are worded, the others are counted.
            lines = sorted(o + bisect_left(shifts, o) for o in refused[0])
            starts = line_starts(data, lines[:MAX_PROBLEMS])
            for line in lines:
                problem = self._problem(reader, f, data, line, starts.get(line), cut)
                if problem is None:
                    raise NotExact  # DuckDB refused what Python reads: let Python decide
                problems.append(problem)
        problems = sorted((p for p in problems if p is not None),
                          key=lambda p: p.location.line or 0)
        cur.execute("CREATE OR REPLACE TEMP TABLE shift (before BIGINT)")
        insert_rows(cur, "shift", [[s] for s in shifts])
        self._cert_runs(cur)
        self._endpoints(cur)
        shown, bad = _capped(problems, f.path)
        count = cur.execute("SELECT count(*) FROM agg WHERE sid IS NOT NULL").fetchone()[0]
        cur.execute("BEGIN")
        cur.execute(sql.INSERT, {"file_id": f.file_id, "log_type": f.log_type,
                                 "server": origin(f.path).server})
        self._finish(cur, f, shown, bad, rows, "duckdb")
        return count, bad

    @staticmethod
    def _problem(reader, f: PendingFile, data: bytes, line: int, start: int | None,
                 cut: int | None) -> InputProblem | None:
        """The problem the Python reader reports for one line; None when it reports none."""
        if start is None:  # past the worded ones: counted, not shown
            return InputProblem(Location(f.path, line), "unusable line; skipped")
        end = data.find(b"\n", start)
        raw = data[start:] if end < 0 else data[start:end]
        if line == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        message = line_problem(reader, f.log_type, line, raw)
        if message is None:
            return None
        if line == cut and not message.startswith("line longer"):
            message = "incomplete last line (file cut off?): " + message
        return InputProblem(Location(f.path, line), message)

    def _cert_runs(self, cur) -> None:
        """Fold each distinct run of certificate rows once, with the Python reader's code."""
        runs = cur.execute(sql.CERT_RUNS).fetchall()
        cur.execute("CREATE OR REPLACE TEMP TABLE cert_runs (run UBIGINT, cert_key BIGINT)")
        pairs = []
        with self.lock:
            for run, rows in runs:
                if run not in self.certs:
                    lines = CertificateLines()
                    for row in rows:
                        lines.feed(row["data"], row["context"])
                    cert = lines.presented()
                    self.certs[run] = None if cert is None else self._save_cert(cert)
                if self.certs[run] is not None:
                    pairs.append([run, self.certs[run]])
        insert_rows(cur, "cert_runs", pairs)

    def _save_cert(self, cert: Certificate) -> int:
        """Insert a certificate once; the caller holds the lock."""
        key = cert_key(cert)
        self.cert_cursor.execute(
            "INSERT OR IGNORE INTO certificates VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [key, cert.subject, cert.issuer, cert.serial, cert.thumbprint,
             naive_utc(cert.not_before), naive_utc(cert.not_after), list(cert.san)])
        return key

    def _endpoints(self, cur) -> None:
        odd = [r[0] for r in cur.execute(sql.ODD_ENDPOINTS).fetchall()]
        cur.execute("CREATE OR REPLACE TEMP TABLE endpoints "
                    "(endpoint VARCHAR, ip VARCHAR, family UTINYINT, num UHUGEINT)")
        rows = []
        for endpoint in odd:
            ip = remote_ip(endpoint)
            rows.append([endpoint, ip, *ip_number(ip)])
        insert_rows(cur, "endpoints", rows)

    def _finish(self, cur, f: PendingFile, problems: list[InputProblem], bad: int, rows: int,
                reader: str) -> None:
        insert_rows(cur, "problems", [[f.file_id, p.location.line, p.message] for p in problems])
        cur.execute("UPDATE files SET state = 'ingested', reader = ?, rows = ?, bad_lines = ?, "
                    "ingested_at = now() WHERE file_id = ?", [reader, rows, bad, f.file_id])
        cur.execute("COMMIT")

    # -- the exact, slower path -------------------------------------------------------------------

    def _python(self, cur, f: PendingFile) -> tuple[int, int]:
        parsed = protocol_log.parse(f.path)
        rows = []
        for s in parsed.records:
            key = None
            if s.certificate is not None:
                with self.lock:
                    key = self._save_cert(s.certificate)
            rows.append(session_row(f.file_id, s, key))
        bad = sum(_hidden(p) or 1 for p in parsed.problems)
        cur.execute("BEGIN")
        insert_rows(cur, "sessions", rows)
        self._finish(cur, f, parsed.problems, bad, sum(s.line_count for s in parsed.records),
                     "python")
        return len(rows), bad


def session_row(file_id: int, s: SmtpSession, cert: int | None) -> list:
    """A `sessions` row from a session the Python reader built."""
    family, number = ip_number(s.remote_ip)
    return [file_id, s.session_id, s.log_type, s.server, s.connector, naive_utc(s.start),
            naive_utc(s.end),
            s.local_endpoint, s.remote_ip, family, number, s.ehlo, s.starttls_offered,
            s.starttls_used, s.tls, cert, s.messages, "\n".join(s.replies), s.disconnect,
            s.location.line, s.line_count, s.domain_capabilities]


# -- checking DuckDB's reading against the bytes ------------------------------------------------


def _hidden(problem: InputProblem) -> int:
    """The count in the reader's `N more unusable lines not listed` note, else 0."""
    head = problem.message.split(" ", 1)[0]
    return int(head) if problem.location.line is None and head.isdigit() else 0


def _capped(problems: list[InputProblem], source: str) -> tuple[list[InputProblem], int]:
    shown = problems[:MAX_PROBLEMS]
    hidden = len(problems) - len(shown)
    if hidden:
        shown.append(InputProblem(Location(source), f"{hidden} more unusable lines not listed"))
    return shown, len(problems)


def read_files(store: CaseStore, files: list[PendingFile], stats: IngestStats,
               progress: Progress | None = None) -> None:
    """Read `files` into the store, a worker per DuckDB thread, adding to `stats`."""
    worker = _Ingester(store)
    done = 0
    if progress:
        progress(0, len(files), PROGRESS_LABEL)
    try:
        with ThreadPoolExecutor(max_workers=min(store.threads, len(files))) as pool:
            for future in as_completed([pool.submit(worker.run, f) for f in files]):
                try:
                    sessions, bad, python = future.result()
                except duckdb.Error as exc:  # the Python reader's rows could not be kept
                    pool.shutdown(cancel_futures=True)  # the other files would fail alike
                    raise cannot_write(store, exc) from None
                stats.sessions += sessions
                stats.bad_lines += bad
                stats.python_reader += python
                stats.ingested += 1
                done += 1
                if progress:
                    progress(done, len(files), PROGRESS_LABEL)
    finally:
        worker.close()
