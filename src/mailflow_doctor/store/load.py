"""Sessions out of the store, as the same `SmtpSession` records the Python reader gives.

Filters run in SQL: a time window (sessions overlapping it) and a set of source prefixes,
which become integer ranges on the stored address (`ip_family`, `ip_num`) taken straight from
`PrefixSet`'s intervals, so `--ip`, `--range CIDR` and `--range eop` are one code path.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..ipspace import PrefixSet
from ..model import InputProblem, Location
from ..model.exchange import Certificate, SmtpSession
from .db import CaseStore, aware_utc, naive_utc

# Replies come as one string: converting lists to Python objects costs more than the query.
# The file's id, not its path: paths are looked up once per file (see query_sessions).
_COLUMNS = ("s.session_id, s.server, s.connector, s.start, s.\"end\", "
            "s.local_endpoint, "
            "s.remote_ip, s.file_id, s.line, s.log_type, s.ehlo, s.starttls_offered, "
            "s.starttls_used, s.tls, s.cert_key, s.messages, s.replies, s.disconnect, "
            "s.line_count, s.domain_capabilities")


def prefix_sql(prefixes: PrefixSet | None, alias: str = "s") -> str:
    """SQL predicate: the session's source address lies in `prefixes` (TRUE when None).

    The family is tested once for all its ranges: repeated in every range, DuckDB evaluated
    it each time (a fifth of the time of the SQL of a repeated EOP query)."""
    if prefixes is None:
        return "TRUE"
    parts = []
    for family, intervals in ((4, prefixes.v4), (6, prefixes.v6)):
        if intervals:
            ranges = " OR ".join(f"{alias}.ip_num BETWEEN {int(lo)}::UHUGEINT AND "
                                 f"{int(hi)}::UHUGEINT" for lo, hi in intervals)
            parts.append(f"({alias}.ip_family = {family} AND ({ranges}))")
    return "(" + " OR ".join(parts) + ")" if parts else "FALSE"


def window_sql(since: datetime | None, until: datetime | None, alias: str = "s"
               ) -> tuple[str, list]:
    """SQL predicate and parameters: the session overlaps [since, until].

    The times go in as text: a `datetime` parameter makes DuckDB import `decimal`, `uuid` and
    `platform` to tell its type (~8 ms, a few per cent of a repeated query)."""
    where, params = [], []
    if since is not None:
        where.append(f'{alias}."end" >= CAST(? AS TIMESTAMP)')
        params.append(naive_utc(since).isoformat(" "))
    if until is not None:
        where.append(f"{alias}.start <= CAST(? AS TIMESTAMP)")
        params.append(naive_utc(until).isoformat(" "))
    return (" AND ".join(where) or "TRUE"), params


def certificates(store: CaseStore, keys: set[int]) -> dict[int, Certificate]:
    if not keys:
        return {}
    rows = store.con.execute(
        "SELECT cert_key, subject, issuer, serial, thumbprint, not_before, not_after, san "
        f"FROM certificates WHERE cert_key IN ({', '.join(str(int(k)) for k in keys)})"
    ).fetchall()
    return {r[0]: Certificate(r[1], r[2], r[3], r[4], aware_utc(r[5]), aware_utc(r[6]),
                              tuple(r[7] or ()))
            for r in rows}


def query_sessions(store: CaseStore, since: datetime | None = None,
                   until: datetime | None = None, prefixes: PrefixSet | None = None,
                   ehlo_suffix: str | None = None) -> list[SmtpSession]:
    """Sessions already in the store that match, oldest first (no files are read).

    With `ehlo_suffix`, sessions whose EHLO name ends so are wanted too, whatever their source
    (EOP servers connecting from addresses outside the published ranges).

    Sorted here and joined to their paths here: DuckDB's ORDER BY and JOIN cost ~9 ms of a
    repeated query's ~14 ms of SQL for 1,500 sessions, Python's sort ~1 ms."""
    window, params = window_sql(since, until)
    sources = prefix_sql(prefixes)
    if ehlo_suffix:
        sources = f"({sources} OR ends_with(lower(s.ehlo), ?))"
        params.append(ehlo_suffix.lower())
    rows = store.con.execute(
        f"SELECT {_COLUMNS} FROM sessions s "
        f"WHERE {store.scope_sql('s.file_id')} AND {window} AND {sources}", params).fetchall()
    rows.sort(key=_order)
    paths = dict(store.con.execute("SELECT file_id, path FROM files").fetchall()) if rows else {}
    certs = certificates(store, {r[14] for r in rows if r[14] is not None})
    return [_session(r, paths, certs) for r in rows]


def _order(r: tuple) -> tuple:
    """Start, server, session id, line and file, as ORDER BY would sort them (a missing server
    last; both compare text by code point). The file decides between copies of one log."""
    return r[3], r[1] is None, r[1] or "", r[0], r[8], r[7]


def _session(r: tuple, paths: dict[int, str], certs: dict[int, Certificate]) -> SmtpSession:
    """A row as SmtpSession. Filled in directly: the frozen __init__ sets its 19 fields one
    `object.__setattr__` at a time, which was a third of a repeated query's Python time."""
    session = object.__new__(SmtpSession)
    session.__dict__.update(
        session_id=r[0], server=r[1], connector=r[2], start=r[3].replace(tzinfo=UTC),
        end=r[4].replace(tzinfo=UTC), local_endpoint=r[5], remote_ip=r[6],
        location=Location(paths[r[7]], r[8]), log_type=r[9], ehlo=r[10],
        starttls_offered=r[11], starttls_used=r[12], tls=r[13],
        certificate=certs.get(r[14]) if r[14] is not None else None, messages=r[15],
        replies=tuple(r[16].split("\n")) if r[16] else (), disconnect=r[17], line_count=r[18],
        domain_capabilities=r[19])
    return session


def count_sessions(store: CaseStore, since: datetime | None = None,
                   until: datetime | None = None) -> int:
    """How many receive sessions, of any source, the store holds for the scope and window
    (our own send sessions say nothing about who reaches Exchange)."""
    window, params = window_sql(since, until)
    return store.con.execute(f"SELECT count(*) FROM sessions s WHERE s.log_type = 'receive' "
                             f"AND {store.scope_sql('s.file_id')} AND {window}",
                             params).fetchone()[0]


def load_sessions(store: CaseStore, since: datetime | None = None,
                  until: datetime | None = None, prefixes: PrefixSet | None = None,
                  progress=None) -> list[SmtpSession]:
    """The sessions the diagnosis needs: reads the files the window needs first, then queries."""
    from .pending import ingest

    ingest(store, since, until, progress)
    return query_sessions(store, since, until, prefixes)


def problems(store: CaseStore, limit: int | None = None) -> tuple[list[InputProblem], int]:
    """Bad lines recorded for the files in scope (file and line), and how many in all."""
    scope = store.scope_sql("p.file_id")
    total = store.con.execute(
        f"SELECT coalesce(sum(bad_lines), 0) FROM files p WHERE {scope}").fetchone()[0]
    if not total:
        return [], 0
    sql = (f"SELECT f.path, p.line, p.message FROM problems p JOIN files f USING (file_id) "
           f"WHERE {scope} ORDER BY f.path, p.line NULLS LAST")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = store.con.execute(sql).fetchall()
    return [InputProblem(Location(r[0], r[1]), r[2]) for r in rows], int(total)
