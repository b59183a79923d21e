"""How EOP's traffic looked: sessions grouped by EOP range (with the /24s inside it), by server
or by hour, with TLS outcomes, and the certificate each server presented over time: a
thumbprint change is an event, listed with its time, server and the session that showed it.
Reads the files the question needs first (see ingestion.ingest); renderers only format.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ..model import Location
from .db import CaseStore
from .db import aware_utc as _utc
from .load import window_sql
from .queries import eop_prefixes

GroupBy = Literal["source-prefix", "server", "hour"]
GROUPINGS: tuple[str, ...] = ("source-prefix", "server", "hour")



@dataclass(frozen=True)
class NetworkRow:
    """One /24 (IPv4) or /64 (IPv6) inside an EOP range."""

    network: str
    sessions: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class SummaryRow:
    """One group. TLS outcomes and messages count EOP sessions only: those are the question.
    An EOP session is a received one from a published range; our own send sessions to EOP
    (an outbound connector in a send log) are counted as sessions, never as EOP's."""

    key: str
    sessions: int
    eop_sessions: int
    first_seen: datetime
    last_seen: datetime
    tls_ok: int
    tls_failed: int
    starttls_not_offered: int
    no_tls: int
    messages: int
    networks: tuple[NetworkRow, ...] = ()


@dataclass(frozen=True)
class CertificateSeen:
    server: str
    thumbprint: str | None
    subject: str | None
    not_after: datetime | None
    first_seen: datetime
    last_seen: datetime
    sessions: int


@dataclass(frozen=True)
class CertificateChange:
    """The certificate a server presents changed between two sessions."""

    time: datetime
    server: str
    previous: str | None
    thumbprint: str | None
    subject: str | None
    not_after: datetime | None
    session_id: str
    location: Location


@dataclass
class Summary:
    by: str
    instance: str
    eop_ranges: tuple[str, ...]
    rows: list[SummaryRow] = field(default_factory=list)
    certificates: list[CertificateSeen] = field(default_factory=list)
    changes: list[CertificateChange] = field(default_factory=list)
    sessions: int = 0
    eop_sessions: int = 0
    since: datetime | None = None
    until: datetime | None = None


_TLS = """
    count(*) FILTER (eop AND tls IS NOT NULL AND NOT starts_with(tls, 'failed:')),
    count(*) FILTER (eop AND starts_with(tls, 'failed:')),
    count(*) FILTER (eop AND tls IS NULL AND starttls_offered = false),
    count(*) FILTER (eop AND tls IS NULL AND starttls_offered IS DISTINCT FROM false),
    coalesce(sum(messages) FILTER (eop), 0)"""

_KEYS = {
    "source-prefix": "eop_range",
    "server": "coalesce(server, connector)",
    "hour": "strftime(date_trunc('hour', start), '%Y-%m-%dT%H:00Z')",
}


def summary(store: CaseStore, by: str = "source-prefix", instance: str = "worldwide",
            since: datetime | None = None, until: datetime | None = None,
            progress=None) -> Summary:
    """Group the sessions of the window (all of them when no window is given)."""
    from . import ingest

    if by not in _KEYS:
        raise ValueError(f"unknown grouping {by!r}; choose one of {', '.join(GROUPINGS)}")
    ranges = eop_prefixes(instance).networks()
    ingest(store, since, until, progress)
    con = store.con.cursor()
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE eop_ranges "
                    "(cidr VARCHAR, family UTINYINT, lo UHUGEINT, hi UHUGEINT)")
        for net in ranges:
            con.execute("INSERT INTO eop_ranges VALUES (?, ?, ?::UHUGEINT, ?::UHUGEINT)",
                        [str(net), net.version, str(int(net.network_address)),
                         str(int(net.broadcast_address))])
        window, params = window_sql(since, until)
        con.execute(f"""CREATE OR REPLACE TEMP TABLE picked AS
            SELECT s.*, r.cidr AS eop_range, r.cidr IS NOT NULL AS eop FROM sessions s
            LEFT JOIN eop_ranges r ON s.log_type = 'receive' AND s.ip_family = r.family
                AND s.ip_num BETWEEN r.lo AND r.hi
            WHERE {store.scope_sql('s.file_id')} AND {window}""", params)
        out = Summary(by, instance, tuple(str(n) for n in ranges), since=since, until=until)
        out.sessions, out.eop_sessions = con.execute(
            "SELECT count(*), count(*) FILTER (eop) FROM picked").fetchone()
        key = _KEYS[by]
        where = "WHERE eop" if by == "source-prefix" else ""
        networks = _networks(con) if by == "source-prefix" else {}
        for r in con.execute(f"""SELECT {key} AS k, count(*), count(*) FILTER (eop),
                min(start), max("end"), {_TLS} FROM picked {where} GROUP BY k ORDER BY k
                """).fetchall():
            out.rows.append(SummaryRow(str(r[0]), r[1], r[2], _utc(r[3]), _utc(r[4]), *r[5:],
                                       networks=tuple(networks.get(r[0], ()))))
        out.certificates, out.changes = _certificates(con)
        return out
    finally:
        con.close()


def _networks(con) -> dict[str, list[NetworkRow]]:
    out: dict[str, list[NetworkRow]] = {}
    for cidr, family, base, count, first, last in con.execute("""
            SELECT eop_range, ip_family,
                   CASE WHEN ip_family = 4 THEN ip_num >> 8 ELSE ip_num >> 64 END AS net,
                   count(*), min(start), max("end")
            FROM picked WHERE eop GROUP BY ALL ORDER BY eop_range, net""").fetchall():
        length = 24 if family == 4 else 64
        net = ipaddress.ip_network((int(base) << (32 - length if family == 4 else 64), length))
        out.setdefault(cidr, []).append(NetworkRow(str(net), count, _utc(first), _utc(last)))
    return out


def _certificates(con) -> tuple[list[CertificateSeen], list[CertificateChange]]:
    seen = [CertificateSeen(r[0], r[1], r[2], _utc(r[3]), _utc(r[4]), _utc(r[5]), r[6])
            for r in con.execute("""
            SELECT coalesce(p.server, p.connector) AS srv, c.thumbprint, any_value(c.subject),
                   any_value(c.not_after), min(p.start) AS first, max(p.start), count(*)
            FROM picked p JOIN certificates c USING (cert_key)
            WHERE p.log_type = 'receive' GROUP BY srv, c.thumbprint ORDER BY srv, first
            """).fetchall()]
    changes = [CertificateChange(_utc(r[0]), r[1], r[2], r[3], r[4], _utc(r[5]), r[6],
                                 Location(r[7], r[8])) for r in con.execute("""
            WITH ordered AS (
                SELECT p.start, coalesce(p.server, p.connector) AS srv, c.thumbprint,
                       c.subject, c.not_after, p.session_id, f.path, p.line,
                       lag(c.thumbprint) OVER (PARTITION BY coalesce(p.server, p.connector)
                                               ORDER BY p.start, p.file_id, p.line) AS previous
                FROM picked p JOIN certificates c USING (cert_key) JOIN files f USING (file_id)
                WHERE p.log_type = 'receive')
            SELECT start, srv, previous, thumbprint, subject, not_after, session_id, path, line
            FROM ordered WHERE previous IS DISTINCT FROM thumbprint AND previous IS NOT NULL
            ORDER BY start""").fetchall()]
    return seen, changes
