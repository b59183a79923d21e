"""`logs sessions` / `logs summary` over a real DuckDB store, on SYNTHETIC logs (storegen.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storegen import THUMB_NEW, THUMB_OLD, session, write_log

from mailflow_doctor.report import logs as render
from mailflow_doctor.store import ingest, open_store, register
from mailflow_doctor.store.queries import sessions, tls_parts
from mailflow_doctor.store.run import QueryError, run_sessions_query, run_summary_query
from mailflow_doctor.store.summary import summary

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """Two front ends over two hours; EXCH01 renews its certificate at 08:30."""
    root = tmp_path / "logs"
    m = timedelta(minutes=1)
    write_log(root / "EXCH01/FrontEnd/ProtocolLog/SmtpReceive/RECV2026112308-1.LOG",
              session("08DE000000000001", T0 + 1 * m, "104.47.34.97:41000")
              + session("08DE000000000002", T0 + 2 * m, "104.47.34.12:41001", tls="fail")
              + session("08DE000000000003", T0 + 3 * m, "40.92.5.6:41002", tls="notoffered")
              + session("08DE000000000004", T0 + 4 * m, "10.20.1.5:5000", tls="plain")
              + session("08DE000000000005", T0 + 40 * m, "104.47.35.1:41003",
                        thumbprint=THUMB_NEW, messages=2))
    write_log(root / "EXCH02/FrontEnd/ProtocolLog/SmtpReceive/RECV2026112309-1.LOG",
              session("08DE000000000006", T0 + 65 * m, "52.100.7.8:41004", server="EXCH02")
              + session("08DE000000000007", T0 + 70 * m, "[2a01:111:f400:7eab::205]:41005",
                        server="EXCH02")
              + session("08DE000000000008", T0 + 75 * m, "198.51.100.9:41006",
                        server="EXCH02"))
    return root


def _ids(found) -> list[str]:
    return [s.session_id[-1] for s in found]


def test_sessions_filters(logs):
    with open_store() as store:
        register(store, [logs])
        assert _ids(sessions(store)) == list("12345678")
        assert _ids(sessions(store, ip="104.47.34.97")) == ["1"]
        assert _ids(sessions(store, cidr="104.47.34.0/24")) == ["1", "2"]
        assert _ids(sessions(store, eop=True)) == ["1", "2", "3", "5", "6", "7"]
        assert _ids(sessions(store, eop="worldwide", since=T0 + timedelta(minutes=3),
                             until=T0 + timedelta(minutes=66))) == ["3", "5", "6"]
        assert _ids(sessions(store, cidr="2a01:111:f400::/48")) == ["7"]
        assert _ids(sessions(store, ip="10.20.1.5", eop=True)) == list("1234567")


def test_sessions_fields(logs):
    with open_store() as store:
        register(store, [logs])
        by_id = {s.session_id[-1]: s for s in sessions(store)}
    ok, failed, not_offered = by_id["1"], by_id["2"], by_id["3"]
    assert (ok.server, ok.connector, ok.remote_ip) == ("EXCH01", "Default Frontend EXCH01",
                                                       "104.47.34.97")
    assert ok.ehlo == "NAM12-BN8-obe.outbound.protection.outlook.com"
    assert ok.starttls_offered and ok.starttls_used and ok.messages == 1
    assert tls_parts(ok.tls) == ("TLS1_2", "CALG_AES_256", None)
    assert ok.certificate.thumbprint == THUMB_OLD
    assert ok.certificate.san == ("mail.tailspintoys.ca", "smtp.tailspintoys.ca")
    assert ok.disconnect == "Local" and ok.location.line == 6
    assert tls_parts(failed.tls) == (None, None, "UnknownCredentials")
    assert failed.disconnect == "Remote(SocketError)"
    assert not_offered.starttls_offered is False and not_offered.tls is None
    assert by_id["5"].messages == 2 and by_id["7"].remote_ip == "2a01:111:f400:7eab::205"


def test_summary_per_eop_range_with_certificate_change(logs):
    with open_store() as store:
        register(store, [logs])
        result = summary(store, "source-prefix")
    rows = {r.key: r for r in result.rows}
    assert (result.sessions, result.eop_sessions) == (8, 6)
    r = rows["104.47.0.0/17"]
    assert (r.sessions, r.tls_ok, r.tls_failed, r.starttls_not_offered, r.messages) == (
        3, 2, 1, 0, 3)
    assert [(n.network, n.sessions) for n in r.networks] == [
        ("104.47.34.0/24", 2), ("104.47.35.0/24", 1)]
    assert r.first_seen == T0 + timedelta(minutes=1)
    assert r.last_seen.replace(second=0, microsecond=0) == T0 + timedelta(minutes=40)
    assert rows["40.92.0.0/15"].starttls_not_offered == 1
    assert rows["2a01:111:f400::/48"].networks[0].network == "2a01:111:f400:7eab::/64"
    assert "198.51.100.0/24" not in str(result.rows)
    [change] = result.changes
    assert (change.server, change.previous, change.thumbprint) == ("EXCH01", THUMB_OLD,
                                                                   THUMB_NEW)
    assert change.time == T0 + timedelta(minutes=40)  # start of the first session showing it
    assert change.session_id == "08DE000000000005" and change.location.line > 6
    assert [(c.server, c.thumbprint, c.sessions) for c in result.certificates] == [
        ("EXCH01", THUMB_OLD, 2), ("EXCH01", THUMB_NEW, 1), ("EXCH02", THUMB_OLD, 3)]


def test_summary_counts_our_send_sessions_to_eop_as_ours(logs):
    """A send log's sessions to EOP addresses are our outbound connections, not EOP arriving."""
    stamp = (T0 + timedelta(minutes=50)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    lines = [f"{stamp},Outbound to Office 365,08DE0000000000S1,{n},10.20.0.25:30123,"
             f"104.47.34.5:25,{event}" for n, event in enumerate(
                 ["*,,attempting to connect", "<,220 BN8NAM12FT023.mail.protection.outlook.com,",
                  ">,EHLO mail.tailspintoys.ca,", ">,QUIT,", "-,,Local"])]
    send = logs / "EXCH01/Hub/ProtocolLog/SmtpSend/SEND2026112308-1.LOG"
    send.parent.mkdir(parents=True)
    send.write_text("\r\n".join([
        "#Software: Microsoft Exchange Server", "#Version: 15.0.0.0",
        "#Log-type: SMTP Send Protocol Log", "#Date: 2026-11-23T08:00:00.000Z",
        "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
        "remote-endpoint,event,data,context", *lines]) + "\r\n", encoding="utf-8")
    with open_store() as store:
        register(store, [logs])
        result = summary(store, "source-prefix")
        servers = summary(store, "server")
    assert (result.sessions, result.eop_sessions) == (9, 6)
    rows = {r.key: r for r in result.rows}
    assert rows["104.47.0.0/17"].sessions == 3
    assert [n.network for n in rows["104.47.0.0/17"].networks] == [
        "104.47.34.0/24", "104.47.35.0/24"]
    assert [n.sessions for n in rows["104.47.0.0/17"].networks] == [2, 1]
    assert sum(r.eop_sessions for r in servers.rows) == 6
    text = render.sessions_text(run_sessions_query([logs], ip="104.47.34.5"))
    assert re.search(r"104\.47\.34\.5 +<- 10\.20\.0\.25:30123  08DE0000000000S1", text)
    text = render.sessions_text(run_sessions_query([logs], ip="104.47.34.97"))
    assert re.search(r"104\.47\.34\.97 +-> 10\.20\.0\.25:25", text)


def test_summary_by_server_and_hour(logs):
    with open_store() as store:
        register(store, [logs])
        servers = summary(store, "server")
        hours = summary(store, "hour")
    assert [(r.key, r.sessions, r.eop_sessions) for r in servers.rows] == [
        ("EXCH01", 5, 4), ("EXCH02", 3, 2)]
    assert [(r.key, r.sessions, r.eop_sessions, r.tls_ok) for r in hours.rows] == [
        ("2026-11-23T08:00Z", 5, 4, 2), ("2026-11-23T09:00Z", 3, 2, 2)]
    with open_store() as store, pytest.raises(ValueError):
        summary(store, "weekday")


def test_run_sessions_query_and_renderers(logs, tmp_path):
    db = tmp_path / "case.duckdb"
    first = run_sessions_query([logs], db, cidr="eop", since=T0, until=T0 + timedelta(minutes=5))
    assert _ids(first.sessions) == ["1", "2", "3"]
    assert (first.info.ingested, first.info.deferred, first.info.skipped) == (1, 1, 0)
    again = run_sessions_query([logs], db, cidr="eop", since=T0, until=T0 + timedelta(minutes=5))
    assert again.sessions == first.sessions and (again.info.ingested, again.info.skipped) == (0, 1)
    data = json.loads(render.sessions_json(again))
    assert data["schema"] == "mailflow-doctor/logs-sessions/v1"
    s = data["sessions"][0]
    assert s["tls"] == {"protocol": "TLS1_2", "cipher": "CALG_AES_256", "failure": None}
    assert s["certificate"]["thumbprint"] == THUMB_OLD and s["replies"][0]["code"] == "220"
    assert s["location"].endswith("RECV2026112308-1.LOG:6")
    assert data["filter"]["eop_instance"] == "worldwide"
    text = render.sessions_text(again)
    assert "08DE000000000002" in text and "failed: UnknownCredentials" in text
    assert "1 already in the store" in text
    with pytest.raises(QueryError):
        run_sessions_query([logs], ip="not-an-ip")
    with pytest.raises(QueryError, match="no protocol logs"):
        run_sessions_query([])


def test_run_summary_query_and_renderers(logs):
    result = run_summary_query([logs], by="source-prefix")
    data = json.loads(render.summary_json(result))
    assert data["schema"] == "mailflow-doctor/logs-summary/v1"
    assert data["certificate_changes"][0]["thumbprint"] == THUMB_NEW
    assert data["rows"][0]["networks"][0]["network"] == "104.47.34.0/24"
    text = render.summary_text(result)
    assert "Certificate changes:" in text and THUMB_NEW in text
    assert "104.47.0.0/17" in text
    with pytest.raises(QueryError, match="unknown grouping"):
        run_summary_query([logs], by="weekday")


def test_control_characters_in_logs_are_neutralised(tmp_path):
    lines = session("08DE000000000009", T0, "104.47.34.97:41000")
    lines[2] = lines[2].replace("EHLO NAM12", "EHLO \x1b[2JNAM12")
    write_log(tmp_path / "RECV.LOG", lines)
    result = run_sessions_query([tmp_path])
    assert "\x1b" not in render.sessions_text(result)
    assert "\\x1b[2J" in render.sessions_text(result)
    assert json.loads(render.sessions_json(result))["sessions"][0]["ehlo"].startswith("\x1b")


def test_progress_callback_counts_files(logs):
    calls = []
    with open_store() as store:
        register(store, [logs])
        ingest(store, progress=lambda done, total, what: calls.append((done, total)))
    assert calls[0] == (0, 2) and calls[-1] == (2, 2)


def test_an_ipv4_address_written_as_ipv6_is_the_ipv4_address(tmp_path):
    """`[::ffff:a.b.c.d]` (a dual-stack socket's form) is the IPv4 sender: found by --ip and
    counted as EOP, through the store as through the Python reader."""
    log = write_log(tmp_path / "RECV2026112308-1.LOG",
                    session("08DE0000000000F1", T0, "[::ffff:40.107.2.10]:41000"))
    with open_store() as store:
        register(store, [log])
        [found] = sessions(store, ip="40.107.2.10")
        assert found.remote_ip == "40.107.2.10"
        assert [s.session_id for s in sessions(store, eop=True)] == ["08DE0000000000F1"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(
    st.integers(0, 3), st.one_of(st.none(), st.sampled_from(["EXCH01", "EXCH02", "exch01", "É"])),
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=4),
    st.integers(1, 4), st.integers(1, 3)), max_size=25))
def test_sessions_are_sorted_as_duckdb_orders_them(keys):
    """query_sessions sorts in Python as ORDER BY start, server, session_id, line, file_id."""
    import duckdb

    from mailflow_doctor.store.load import _order

    con = duckdb.connect()
    con.execute("CREATE TABLE t (start TIMESTAMP, server VARCHAR, session_id VARCHAR, "
                "line INT, file_id INT)")
    rows = [(datetime(2026, 11, 23, 8, minute), server, sid, line, file_id)
            for minute, server, sid, line, file_id in keys]
    if rows:
        con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    by_sql = con.execute(
        "SELECT * FROM t ORDER BY start, server, session_id, line, file_id").fetchall()
    # _order reads a query_sessions row: session id, server, _, start, ..., file, line (7, 8).
    as_rows = [(sid, server, None, start, None, None, None, file_id, line)
               for start, server, sid, line, file_id in rows]
    by_python = [(r[3], r[1], r[0], r[8], r[7]) for r in sorted(as_rows, key=_order)]
    assert by_python == by_sql
