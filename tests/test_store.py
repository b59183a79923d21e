"""The DuckDB case store: SQL sessions against the Python reader, incremental ingest, bad lines.

The parity tests reuse the real (verbatim, sanitized) sample lines of test_protocol_log.py and
its constructed sessions; every other log here is SYNTHETIC (tests/storegen.py).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import test_protocol_log as real
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from storegen import session, write_log

from mailflow_doctor.evidence.exchange import protocol_log
from mailflow_doctor.ipspace import PrefixSet
from mailflow_doctor.model import InputProblem, Location
from mailflow_doctor.store import (
    StoreError,
    ingest,
    load_sessions,
    open_store,
    problems,
    query_sessions,
    register,
)

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def both_ways(path: Path):
    """(SQL sessions, SQL problems, used the Python fallback) and the Python reader's result."""
    with open_store() as store:
        register(store, [path])
        stats = ingest(store)
        got, _ = query_sessions(store), None
        found, _total = problems(store)
    expected = protocol_log.parse(path)
    expected.records.sort(key=lambda s: (s.start, s.server or "", s.session_id,
                                         s.location.line))
    return got, found, stats.python_reader == 1, expected


def _tls_fail():
    return real.rows("08DC6A0000000002", "MBX1\\Default Frontend MBX1", [
        ("<", "HELO legacy.example", ""),
        (">", "250 mbx1.tailspintoys.ca Hello [104.47.34.97]", ""),
        ("<", "STARTTLS", ""), (">", "220 2.0.0 SMTP server ready", ""),
        ("*", "", "TLS negotiation failed with error NoCredentials"),
        ("-", "", "Remote(SocketError)")])


def _send_with_remote_certificate():
    return real.rows("08DC6B0000000001", "Outbound to Office 365", [
        ("*", "None", "Set Session Permissions"), ("*", "", "attempting to connect"),
        ("+", "", ""), ("<", "220 BN8NAM12FT001.mail.protection.outlook.com ESMTP", ""),
        (">", "EHLO mbx1.tailspintoys.ca", ""),
        ("<", "250 BN8NAM12FT001.mail.protection.outlook.com Hello [13.92.177.139] SIZE 1 "
              "PIPELINING STARTTLS 8BITMIME", ""),
        (">", "STARTTLS", ""), ("<", "220 2.0.0 SMTP server ready", ""),
        ("*", "", "Sending certificate"), ("*", "CN=mail.tailspintoys.ca", "Certificate subject"),
        ("*", "CN=R3", "Certificate issuer name"), ("*", "", "Remote certificate"),
        ("*", "CN=mail.protection.outlook.com", "Certificate subject"),
        ("*", "", "sending message with RecordId 1 and InternetMessageId <m@x>"),
        (">", "MAIL FROM:<> SIZE=18019", ""), ("<", "250 2.1.0 Sender OK", ""),
        (">", "QUIT", ""), ("-", "", "Remote")], local="13.92.177.139:30123",
        remote="104.47.34.97:25")


def _long_session():
    events = [("<", "EHLO big.example", ""), (">", "250 x Hello [1.2.3.4] STARTTLS", "")]
    for i in range(200):
        events += [("<", f"RCPT TO:<u{i}@tailspintoys.ca>", ""),
                   (">", f"250 2.1.5 Recipient {i}", "")]
    events += [(">", "250 2.6.0 <m@x> Queued mail for delivery", ""), ("-", "", "Local")]
    return real.rows("08DC6C0000000001", "S\\C", events)


def _interleaved():
    a, n = real.SAMPLE_A[:], real.NEW_CERT[:]
    n[0], n[1] = n[1], n[0]  # the reply logged before STARTTLS: sequence order decides
    return [line for pair in zip(a, n + [""] * 3, strict=True) for line in pair if line]


def _ipv6():
    return [line.replace("10.100.100.30:62136", "[2a01:111:f400:7eab::205]:49152")
            .replace("10.100.100.25:25", "[2001:db8::25]:25") for line in real.SAMPLE_A]


FEW = "2024-03-13T09:01:18.723Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,3,>"
# name -> lines; all of these are read by DuckDB (no fallback).
PARITY = {
    "sample A (2019 receive)": real.RECEIVE + real.SAMPLE_A,
    "sample B (2010 receive)": real.SAMPLE_B,
    "sample C (send, connect failure)": real.SEND + real.SAMPLE_C,
    "EOP EHLO reply without STARTTLS": real.RECEIVE + [real.EOP_NO_STARTTLS],
    "old certificate format": real.RECEIVE + real.OLD_CERT,
    "new certificate format, TLS": real.RECEIVE + real.NEW_CERT,
    "full EOP receive session": real.RECEIVE + real.FULL_RECEIVE,
    "TLS failure after HELO": real.RECEIVE + _tls_fail(),
    "TlsDomainCapabilities lines": real.RECEIVE + real.DOMAIN_CAPABILITIES,
    "one send-log line naming capabilities and a message": real.SEND + real.rows(
        "08DC6B0000000009", "Outbound to Office 365", [
            ("*", "", "attempting to connect"), ("<", "220 x ESMTP", ""), (">", "EHLO a", ""),
            ("*", "", "TlsDomainCapabilities='None'; sending message with RecordId 1 and "
                      "InternetMessageId <m@x>"), ("-", "", "Remote")],
        local="13.92.177.139:30123", remote="104.47.34.97:25"),
    "send log, remote certificate": real.SEND + _send_with_remote_certificate(),
    "200 recipients (replies cut)": real.RECEIVE + _long_session(),
    "interleaved, out of order": real.RECEIVE + _interleaved(),
    "IPv6 endpoints": real.RECEIVE + _ipv6(),
    "two header blocks": real.RECEIVE + real.SAMPLE_A + real.header(
        date="2024-03-13T09:05:00.000Z") + real.NEW_CERT,
    "two logs joined with cat (a BOM before the second header)": real.RECEIVE + real.SAMPLE_A
        + ["\ufeff" + real.RECEIVE[0]] + real.RECEIVE[1:] + real.NEW_CERT,
    "no header (receive)": real.SAMPLE_A,
    "no header (send)": real.SAMPLE_C,
    "wrong field counts": real.RECEIVE + real.SAMPLE_A[:3] + [
        FEW, real.SAMPLE_A[3] + ",extra,fields"] + real.SAMPLE_A[3:],
    "300 junk lines": real.RECEIVE + ["junk"] * 300 + real.SAMPLE_A,
    "bad time, old year, no session id, bad sequence": real.RECEIVE + real.SAMPLE_A[:3] + [
        real.SAMPLE_A[3].replace("2024-03-13T09:01:18.724Z", "notatime"),
        real.SAMPLE_A[3].replace("2024-", "1800-"),
        real.SAMPLE_A[3].replace("08DC42C8FF236A1F", " "),
        real.SAMPLE_A[3].replace(",4,", ",x4,")] + real.SAMPLE_A[3:],
}


@pytest.mark.parametrize("name", list(PARITY))
@pytest.mark.parametrize("end", ["\r\n", "\n"])
def test_sql_sessions_equal_python_reader(tmp_path, name, end):
    path = real.write(tmp_path, PARITY[name], bom=name.startswith("sample B"), end=end)
    got, found, fallback, expected = both_ways(path)
    assert not fallback, "this log must be read by DuckDB, not the Python fallback"
    for sql_session, py_session in zip(got, expected.records, strict=True):
        for f in dataclasses.fields(py_session):  # field by field, for a readable failure
            assert getattr(sql_session, f.name) == getattr(py_session, f.name), f.name
    assert sorted(map(str, found)) == sorted(map(str, expected.problems))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])  # DuckDB, then the Python fallback
def test_server_from_the_folder_layout_both_ways(tmp_path, encoding):
    """A send log names no server: both readers take the one its folders name (layout.py)."""
    folder = tmp_path / "EX01" / "TransportRoles" / "Logs" / "FrontEnd" / "ProtocolLog"
    cases = {"SmtpSend": real.SEND + _send_with_remote_certificate() + real.SAMPLE_C,
             "SmtpReceive": real.RECEIVE + real.SAMPLE_A}  # the connector id names EXCHANGE
    for name, lines in cases.items():
        path = folder / name / "LOG.LOG"
        path.parent.mkdir(parents=True)
        path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
        got, found, fallback, expected = both_ways(path)
        assert fallback is (encoding == "utf-16")
        assert got == expected.records and found == expected.problems == []
        assert {s.server for s in got} == {"EX01" if name == "SmtpSend" else "EXCHANGE"}


def _raw_cases(tmp_path: Path) -> dict[str, Path]:
    good = [line.encode() for line in real.RECEIVE + real.SAMPLE_A]
    lines = list(good)
    lines[7] = lines[7].replace(b"Backup-Veeam", b"B\xfcro-Veeam")
    order = [8, 7, 6, 5, 4, 3, 2, 1, 0]
    out = io.StringIO()
    for row in csv.reader(real.SAMPLE_A):
        csv.writer(out, lineterminator="\n").writerow([row[i] for i in order])
    fields = "#Fields: " + ",".join(protocol_log.STANDARD_FIELDS[i] for i in order)
    cases = {
        "binary junk": b"\r\n".join(good[:8] + [b"\x00\x01junk", b"\x8f\x90 garbage"]
                                    + good[8:]) + b"\r\n",
        "cp1252 byte": b"\r\n".join(lines) + b"\r\n",
        "utf-16": ("\r\n".join(real.SAMPLE_B) + "\r\n").encode("utf-16"),
        "blank line": b"\r\n".join(good[:8] + [b""] + good[8:]) + b"\r\n",
        "stray quote": b"\r\n".join(good[:8] + [good[8][:100] + b',"EHLO x'] + good[8:]),
        "log type switches": "\r\n".join(real.SEND + real.SAMPLE_C + real.RECEIVE
                                         + real.SAMPLE_A).encode(),
        "fields reordered": "\r\n".join(real.RECEIVE[:4] + [fields]
                                        + out.getvalue().splitlines()).encode(),
    }
    paths = {}
    for name, data in cases.items():
        paths[name] = tmp_path / f"{len(paths)}.LOG"
        paths[name].write_bytes(data)
    return paths


def test_files_duckdb_cannot_read_exactly_go_to_the_python_reader(tmp_path):
    for name, path in _raw_cases(tmp_path).items():
        got, found, fallback, expected = both_ways(path)
        assert fallback, name
        assert got == expected.records, name
        assert sorted(map(str, found)) == sorted(map(str, expected.problems)), name


def test_deliberate_differences_from_the_python_reader(tmp_path):
    """Documented in session_sql.py: one session per id and file; EHLO replies by their text."""
    again = [line.replace("2024-03-13T09:01:", "2024-03-13T09:09:") for line in real.SAMPLE_A]
    path = real.write(tmp_path, real.RECEIVE + real.SAMPLE_A + again)
    got, _, fallback, expected = both_ways(path)
    assert not fallback
    assert len(expected.records) == 2  # Python: a new session after the disconnect row
    assert len(got) == 1 and got[0].line_count == 14  # SQL: one session id, one session
    reply_after_ehlo = real.rows("08DC6D0000000009", "S\\C", [
        ("<", "EHLO client.example", ""), (">", "250 s.example STARTTLS PIPELINING", "")])
    got, _, _, expected = both_ways(real.write(tmp_path, real.RECEIVE + reply_after_ehlo, "b"))
    assert expected.records[0].starttls_offered is True  # the reply follows an EHLO command
    assert got[0].starttls_offered is None  # not the `250 <host> Hello [ip]` shape


def test_bad_lines_reported_with_file_and_line_never_fatal(tmp_path):
    lines = session("08DE00000000000A", T0, "104.47.34.97:41234")
    lines = lines[:4] + ["2026-11-23T08:00:00.000Z,too,few"] + lines[4:]
    lines += ["#Software: Microsoft Exchange Server", "#Fields: date-time,connector-id,"
              "session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context"]
    lines += session("08DE00000000000B", T0 + timedelta(minutes=1), "10.20.1.5:5000")
    lines += [lines[8] + ",x,y"]
    path = write_log(tmp_path / "RECV2026112308-1.LOG", lines)
    with path.open("ab") as fh:
        fh.write(lines[10][:40].encode())  # the log is still being written: a cut-off line
    with open_store() as store:
        register(store, [tmp_path])
        stats = ingest(store)
        found, total = problems(store)
        sessions = query_sessions(store)
    assert stats.python_reader == 0 and stats.bad_lines == 3 == total
    assert [s.session_id for s in sessions] == ["08DE00000000000A", "08DE00000000000B"]
    last = len(path.read_bytes().splitlines())
    assert found == [
        InputProblem(Location(str(path), 10), "expected 9 fields, found 3; line skipped"),
        InputProblem(Location(str(path), last - 1), "expected 9 fields, found 11; line skipped"),
        InputProblem(Location(str(path), last),
                     "incomplete last line (file cut off?): expected 9 fields, found 2; "
                     "line skipped")]
    assert sessions[0].location == Location(str(path), 6)  # header lines and bad lines counted


def test_file_gone_before_it_is_read_is_a_problem_not_a_crash(tmp_path):
    a, _ = _two_files(tmp_path)
    with open_store() as store:
        register(store, [tmp_path])
        a.unlink()
        stats = ingest(store)
        found, _ = problems(store)
        assert stats.ingested == 2 and len(query_sessions(store)) == 1
    assert found[0].location == Location(str(a)) and "cannot read file" in found[0].message


def _two_files(tmp_path: Path) -> list[Path]:
    a = write_log(tmp_path / "EXCH01" / "RECV2026112308-1.LOG",
                  session("08DE00000000000A", T0, "104.47.34.97:41234")
                  + session("08DE00000000000B", T0 + timedelta(minutes=5), "10.20.1.5:5000"))
    b = write_log(tmp_path / "EXCH02" / "RECV2026112309-1.LOG",
                  session("08DE00000000000C", T0 + timedelta(hours=1), "40.92.10.20:5000",
                          server="EXCH02"))
    return [a, b]


def _count(store) -> int:
    return store.con.execute("SELECT count(*) FROM sessions").fetchone()[0]


def test_second_run_skips_unchanged_files(tmp_path):
    _two_files(tmp_path)
    db = tmp_path / "case.duckdb"
    with open_store(db) as store:
        first = register(store, [tmp_path])
        stats = ingest(store)
        rows = store.con.execute("SELECT * FROM sessions ORDER BY session_id").fetchall()
    assert (first.new, stats.ingested, stats.skipped) == (2, 2, 0)
    with open_store(db) as store:
        again = register(store, [tmp_path])
        stats = ingest(store)
        assert store.con.execute("SELECT * FROM sessions ORDER BY session_id").fetchall() == rows
    assert (again.new, again.changed, again.unchanged) == (0, 0, 2)
    assert (stats.ingested, stats.skipped) == (0, 2)


def test_other_files_are_remembered_not_reopened(tmp_path, monkeypatch):
    _two_files(tmp_path)
    notes = tmp_path / "EXCH01" / "README.txt"
    notes.write_text("copied from EXCH01 on Monday\n")
    db = tmp_path / "case.duckdb"
    with open_store(db) as store:
        first = register(store, [tmp_path])
        ingest(store)
    assert (first.new, first.not_logs) == (2, [str(notes)])
    from mailflow_doctor.store import files

    described = []
    monkeypatch.setattr(files, "_describe", lambda *a: described.append(a) or None)
    with open_store(db) as store:
        again = register(store, [tmp_path])
        assert store.scope is None and ingest(store).skipped == 2
    assert described == []  # neither the logs nor the note were opened again
    assert (again.unchanged, again.not_logs) == (2, [str(notes)])
    notes.write_text("now longer: changed files are looked at again\n")
    with open_store(db) as store:
        register(store, [tmp_path])
    assert [Path(a[0]).name for a in described] == ["README.txt"]


def test_changed_file_is_read_again_without_duplicates(tmp_path):
    a, _ = _two_files(tmp_path)
    db = tmp_path / "case.duckdb"
    with open_store(db) as store:
        register(store, [tmp_path])
        ingest(store)
        assert _count(store) == 3
    with a.open("ab") as fh:  # Exchange appends to the current hour's file
        fh.write("".join(f"{line}\r\n" for line in session(
            "08DE00000000000D", T0 + timedelta(minutes=9), "52.100.1.2:5000")).encode())
    os.chmod(tmp_path / "EXCH02" / "RECV2026112309-1.LOG", 0o600)  # ctime moves, bytes do not
    with open_store(db) as store:
        reg = register(store, [tmp_path])
        stats = ingest(store)
        assert (reg.changed, reg.unchanged, stats.ingested, stats.skipped) == (1, 1, 1, 1)
        assert sorted(r[0] for r in store.con.execute(
            "SELECT session_id FROM sessions").fetchall()) == [
            "08DE00000000000A", "08DE00000000000B", "08DE00000000000C", "08DE00000000000D"]


def test_time_window_reads_only_the_files_it_needs(tmp_path):
    _two_files(tmp_path)
    eop = PrefixSet.parse("104.47.0.0/17", "40.92.0.0/15")
    with open_store(tmp_path / "case.duckdb") as store:
        register(store, [tmp_path])
        found = load_sessions(store, T0, T0 + timedelta(minutes=30), eop)
        assert [s.session_id for s in found] == ["08DE00000000000A"]
        states = dict(store.con.execute("SELECT path, state FROM files").fetchall())
        assert sorted(states.values()) == ["ingested", "pending"]  # the store is not an input
        found = load_sessions(store, prefixes=eop)  # no window: the rest is read now
        assert [s.session_id for s in found] == ["08DE00000000000A", "08DE00000000000C"]
        assert found[1].server == "EXCH02"


def test_scope_is_the_paths_of_this_run(tmp_path):
    a, b = _two_files(tmp_path)
    with open_store(tmp_path / "case.duckdb") as store:
        register(store, [tmp_path])
        ingest(store)
        register(store, [b])
        assert [s.session_id for s in query_sessions(store)] == ["08DE00000000000C"]


def test_temporary_store_is_deleted_on_close(tmp_path):
    _two_files(tmp_path)
    with open_store() as store:
        folder = store.path.parent
        register(store, [tmp_path])
        ingest(store)
        assert store.path.exists() and store.temporary
    assert not folder.exists()


def test_unusable_store_files_are_refused_clearly(tmp_path):
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(StoreError, match="not a mailflow-doctor case store"):
        open_store(other)
    old = tmp_path / "old.duckdb"
    with open_store(old) as store:
        store.con.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    with pytest.raises(StoreError, match="delete the file"):
        open_store(old)
    # DuckDB would open a CSV as an empty in-memory database: nothing would be kept.
    csv_file = tmp_path / "detail.csv"
    csv_file.write_text("Date,Event\r\n1,2\r\n")
    with pytest.raises(StoreError, match="not a mailflow-doctor case store .not a DuckDB"):
        open_store(csv_file)
    assert csv_file.read_text() == "Date,Event\n1,2\n"
    fifo = tmp_path / "store.fifo"
    os.mkfifo(fifo)  # opening it would wait for a writer
    with pytest.raises(StoreError, match="not a mailflow-doctor case store"):
        open_store(fifo)


def test_memory_and_threads_are_set(tmp_path):
    with open_store(memory_limit="256MB", threads=2) as store:
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        threads = store.con.execute("SELECT current_setting('threads')").fetchone()[0]
        ordered = store.con.execute(
            "SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    assert limit.startswith(("244", "256")) and int(threads) == 2 and ordered is False


_JUNK = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
            max_size=60),
    st.just(FEW), st.just("#Software: Microsoft Exchange Server"),
    st.sampled_from(real.SAMPLE_A).map(lambda line: line + ",extra"),
    st.sampled_from(real.SAMPLE_A).map(lambda line: line[: len(line) // 2]))


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(st.tuples(st.integers(0, len(real.SAMPLE_A)), _JUNK), max_size=6),
       keep=st.integers(1, len(real.SAMPLE_A)))
def test_fuzzed_logs_read_the_same_both_ways(tmp_path, junk, keep):
    """Good lines (a session, possibly cut short) with junk among them: the store (DuckDB or
    its fallback) and the Python reader agree on every session and every problem."""
    lines = real.SAMPLE_A[:keep]
    for at, bad in sorted(junk, reverse=True):
        lines.insert(min(at, len(lines)), bad)
    path = real.write(tmp_path, real.RECEIVE + lines, name=f"R{len(list(tmp_path.iterdir()))}")
    got, found, _, expected = both_ways(path)
    assert got == expected.records
    assert sorted(map(str, found)) == sorted(map(str, expected.problems))
    assert all(p.location.line for p in found)


def test_opening_runs_on_a_thread_only_for_an_existing_store(tmp_path, monkeypatch):
    import threading

    from mailflow_doctor.store.db import CaseStore, Opening

    threads = []
    real_init = CaseStore.__init__

    def init(self, *args, **kwargs):
        threads.append(threading.current_thread())
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(CaseStore, "__init__", init)
    path = tmp_path / "case.duckdb"
    with Opening(path) as opening:  # new: opened when asked for, in the caller's thread
        assert not path.exists()
        assert opening.store().con.execute("SELECT 1").fetchone() == (1,)
    assert threads == [threading.current_thread()]
    with Opening(path) as opening:
        store = opening.store()
        assert store.con is not None and store.path == path
    assert threads[1] is not threading.current_thread()
    assert store.con is None  # closed on leaving the block
    with Opening(path):  # never asked for: still waited for and closed
        pass
    assert len(threads) == 3
    duckdb.connect(str(path), read_only=True).close()


def test_a_store_refused_on_opening_is_released_at_once(tmp_path):
    """The connection of a file refused as a store is closed when refused, not when the cycle
    collector gets to it: until then it holds the file's lock against other processes."""
    import gc
    import subprocess
    import sys

    from mailflow_doctor.store.db import Opening

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INTEGER)").close()
    probe = [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()",
             str(other)]
    gc.disable()
    try:
        with Opening(other) as opening:
            with pytest.raises(StoreError, match="not a mailflow-doctor case store"):
                opening.store()
        assert subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
        with pytest.raises(StoreError):
            open_store(other)
        assert subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
    finally:
        gc.enable()


def test_a_file_name_that_is_not_utf8_is_a_problem_not_a_crash(tmp_path):
    """DuckDB keeps text as UTF-8: a name with other bytes (held as surrogates) is reported
    with its path, and the other logs are still read."""
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/EX\xff01"))
    write_log(odd / "RECV2026112308-1.LOG", session("08DE0000000000A1", T0, "40.107.12.34:5"))
    write_log(tmp_path / "EX02" / "RECV2026112308-1.LOG",
              session("08DE0000000000A2", T0, "40.107.12.35:5"))
    with open_store() as store:
        reg = register(store, [tmp_path])
        ingest(store)
        assert [s.session_id for s in query_sessions(store)] == ["08DE0000000000A2"]
    assert reg.files == 1 and len(reg.problems) == 1  # the log; a README would be passed over
    assert "not UTF-8" in reg.problems[0].message and "EX\\xff01" in str(reg.problems[0])


@pytest.fixture
def frozen_folder(tmp_path):
    """A folder nothing can be written in, even by root (`chattr +i`), undone afterwards."""
    folder = tmp_path / "frozen"
    folder.mkdir()
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], capture_output=True, timeout=30)


def _freeze(folder) -> None:
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, timeout=30)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not possible here: {done.stderr.decode().strip()}")


def test_a_store_that_cannot_be_written_is_one_clear_error(tmp_path, frozen_folder):
    """New logs to register, or pending logs to read, into a store whose folder refuses
    writes: a one-line QueryError naming the store, not a DuckDB traceback."""
    from mailflow_doctor.store.run import QueryError, run_sessions_query

    logs = tmp_path / "logs"
    write_log(logs / "EX01" / "RECV2026112308-1.LOG", session("08DE0000000000A1", T0,
                                                              "40.107.12.34:5"))
    write_log(logs / "EX01" / "RECV2026112312-1.LOG", session("08DE0000000000A2",
                                                              T0 + timedelta(hours=4),
                                                              "40.107.12.35:5"))
    store = frozen_folder / "case.duckdb"
    first = run_sessions_query([logs], store, until=T0 + timedelta(hours=1))
    assert first.info.deferred == 1  # the 12:00 file is registered, not read
    _freeze(frozen_folder)
    with pytest.raises(QueryError, match="cannot write to the case store"):
        run_sessions_query([logs], store)  # reading the pending file
    write_log(logs / "EX02" / "RECV2026112308-1.LOG", session("08DE0000000000A3", T0,
                                                              "40.107.12.36:5"))
    with pytest.raises(QueryError, match="cannot write to the case store"):
        run_sessions_query([logs], store)  # registering the new file
