"""`mailflow-doctor logs ...` and `diagnose --store`: the case store through the CLI.

Logs are SYNTHETIC (tests/storegen.py); the trace rows follow formats.md §3.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from storegen import THUMB_NEW, session, write_log
from typer.testing import CliRunner

from mailflow_doctor.cli.app import app
from mailflow_doctor.evidence.collect import SessionQuestion, collect
from mailflow_doctor.knowledge.endpoints import snapshot

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def logs(tmp_path):
    """Two servers, one hour each: EOP sessions, an internal one, a bad line, and EXCH01
    presenting a renewed certificate from 08:50."""
    root = tmp_path / "logs"
    lines = (session("08DE0000000000A1", T0 + timedelta(minutes=5), "40.107.12.34:50001")
             + session("08DE0000000000A2", T0 + timedelta(minutes=20), "10.1.2.3:50002")
             + ["this is not a log line"]
             + session("08DE0000000000A3", T0 + timedelta(minutes=40), "104.47.20.5:50003",
                       tls="notoffered")
             + session("08DE0000000000A4", T0 + timedelta(minutes=50), "40.92.1.1:50005",
                       thumbprint=THUMB_NEW))
    write_log(root / "EXCH01" / "RECV2026112308-1.LOG", lines)
    write_log(root / "EXCH02" / "RECV2026112309-1.LOG",
              session("08DE0000000000B1", T0 + timedelta(hours=1, minutes=5),
                      "52.100.9.9:50004", server="EXCH02", thumbprint=THUMB_NEW))
    return root


def run(*args: str):
    return runner.invoke(app, list(args))


def test_sessions_from_eop_as_json(logs):
    result = run("logs", "sessions", str(logs), "--range", "eop", "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [s["session_id"] for s in doc["sessions"]] == [
        "08DE0000000000A1", "08DE0000000000A3", "08DE0000000000A4", "08DE0000000000B1"]
    assert doc["filter"]["eop_instance"] == "worldwide"
    first = doc["sessions"][0]
    assert first["server"] == "EXCH01" and first["remote_ip"] == "40.107.12.34"
    assert first["starttls_offered"] is True
    assert doc["sessions"][1]["starttls_offered"] is False
    assert doc["input"]["bad_lines"] == 1
    assert "RECV2026112308-1.LOG:" in result.stderr  # the bad line, with file and line


def test_sessions_by_ip_and_window(logs):
    result = run("logs", "sessions", str(logs), "--ip", "10.1.2.3", "--format", "json")
    assert [s["remote_ip"] for s in json.loads(result.stdout)["sessions"]] == ["10.1.2.3"]
    result = run("logs", "sessions", str(logs), "--since", "2026-11-23T09:00Z",
                 "--format", "json")
    assert [s["session_id"] for s in json.loads(result.stdout)["sessions"]] == [
        "08DE0000000000B1"]


def test_store_is_reused_and_asked_without_paths(logs, tmp_path):
    store = tmp_path / "case.duckdb"
    first = json.loads(run("logs", "sessions", str(logs), "--store", str(store),
                           "--format", "json").stdout)
    assert first["input"]["files_read"] == 2
    again = json.loads(run("logs", "sessions", str(logs), "--store", str(store),
                           "--format", "json").stdout)
    assert again["input"]["files_read"] == 0 and again["input"]["files_already_in_store"] == 2
    assert again["sessions"] == first["sessions"]
    alone = json.loads(run("logs", "sessions", "--store", str(store), "--range", "eop",
                           "--format", "json").stdout)
    assert len(alone["sessions"]) == 4


def test_summary_shows_certificate_change(logs):
    result = run("logs", "summary", str(logs), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    [change] = doc["certificate_changes"]
    assert (change["server"], change["thumbprint"]) == ("EXCH01", THUMB_NEW)
    assert change["time"].startswith("2026-11-23T08:50")
    text = run("logs", "summary", str(logs), "--by", "server").stdout
    assert "EXCH01" in text and "EXCH02" in text


@pytest.mark.parametrize("args, message", [
    (("--since", "yesterday-ish"), "--since"),
    (("--since", "2026-11-23T09:00Z", "--until", "2026-11-23T08:00Z"),
     "--until 2026-11-23 08:00Z is before --since 2026-11-23 09:00Z"),
    (("--range", "10.0.0.0/33"), "10.0.0.0/33"),
    (("--ip", "not-an-ip"), "not-an-ip"),
])
def test_bad_options_are_one_line_errors(logs, args, message):
    result = run("logs", "sessions", str(logs), *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_summary_rejects_unknown_grouping(logs):
    result = run("logs", "summary", str(logs), "--by", "weekday")
    assert result.exit_code == 2 and "weekday" in result.stderr
    result = run("logs", "summary", str(logs), "--since", "2026-11-23T09:00Z", "--until",
                 "2026-11-23T08:00Z")
    assert result.exit_code == 2 and "is before --since" in result.stderr


def test_collect_keeps_only_the_sessions_asked_for(logs):
    eop = snapshot("worldwide").eop_prefixes
    evidence = collect([logs], sessions=SessionQuestion(eop))
    assert sorted(s.remote_ip for s in evidence.sessions) == [
        "104.47.20.5", "40.107.12.34", "40.92.1.1", "52.100.9.9"]
    assert evidence.session_count == 5  # the internal session is counted, not kept
    assert any(p.location.line and "RECV2026112308-1.LOG" in p.location.source
               for p in evidence.problems)
    everything = collect([logs])
    assert len(everything.sessions) == 5


def test_collect_keeps_sessions_by_ehlo_from_unpublished_sources(tmp_path):
    log = write_log(tmp_path / "RECV.LOG",
                    session("08DE0000000000C1", T0, "40.95.1.2:50001"))  # EOP-named EHLO
    eop = snapshot("worldwide").eop_prefixes
    kept = collect([log], sessions=SessionQuestion(eop, ".outbound.protection.outlook.com"))
    assert [s.remote_ip for s in kept.sessions] == ["40.95.1.2"]
    assert collect([log], sessions=SessionQuestion(eop)).sessions == []


def test_diagnose_with_a_kept_store(logs, tmp_path):
    store = tmp_path / "case.duckdb"
    result = run("diagnose", str(logs), "--store", str(store), "--format", "json")
    assert store.exists()
    doc = json.loads(result.stdout)
    assert doc["summary"]["receive_sessions"] == 5
    assert doc["summary"]["eop_sessions"] == 4
    causes = {f["cause"] for f in doc["findings"]}
    assert "starttls-not-offered" in causes  # from the session without STARTTLS


def _renewed(lines: list[str]) -> list[str]:
    """The same names on a certificate valid a year longer (a renewal)."""
    return [line.replace("2027-03-02T23:59:59.000Z", "2028-03-02T23:59:59.000Z")
            for line in lines]


@pytest.mark.parametrize("old_until, severity", [
    ("2027-03-02T23:59:59.000Z", "warning"),  # still valid: it breaks later
    ("2026-11-01T23:59:59.000Z", "error"),  # expired: EOP refuses it now
])
def test_old_certificate_after_renewal_is_connector_cert_stale(tmp_path, old_until, severity):
    renewed = _renewed(session("08DE0000000000D1", T0 + timedelta(minutes=10),
                               "40.107.1.1:50001", thumbprint=THUMB_NEW))
    old = [line.replace("2027-03-02T23:59:59.000Z", old_until)
           for line in session("08DE0000000000D2", T0 + timedelta(minutes=30),
                               "40.107.1.2:50002", server="EXCH02")]
    write_log(tmp_path / "EXCH01" / "RECV.LOG", renewed)
    write_log(tmp_path / "EXCH02" / "RECV.LOG", old)
    doc = json.loads(run("diagnose", str(tmp_path), "--format", "json").stdout)
    [stale] = [f for f in doc["findings"] if f["cause"] == "connector-cert-stale"]
    assert stale["severity"] == severity
    assert stale["details"]["servers"] == ["EXCH02"]
    assert stale["details"]["new_thumbprint"] == THUMB_NEW
    assert "EXCH02" in stale["title"] and "RECV.LOG" in stale["evidence"][0]["location"]


def test_a_certificate_for_other_names_is_not_a_renewal(tmp_path):
    other = [line.replace("mail.tailspintoys.ca", "legacy.fabrikam.example").replace(
        "smtp.tailspintoys.ca", "legacy.fabrikam.example") for line in _renewed(
        session("08DE0000000000E1", T0, "40.107.1.1:50001", thumbprint=THUMB_NEW))]
    write_log(tmp_path / "EXCH01" / "RECV.LOG", other + session(
        "08DE0000000000E2", T0 + timedelta(minutes=30), "40.107.1.2:50002"))
    doc = json.loads(run("diagnose", str(tmp_path), "--format", "json").stdout)
    assert "connector-cert-stale" not in {f["cause"] for f in doc["findings"]}


def test_paths_without_any_protocol_log_are_an_error(logs, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a log\n")
    for command in ("sessions", "summary"):
        result = run("logs", command, str(tmp_path / "notes"), str(tmp_path / "typo"))
        assert result.exit_code == 2, command
        assert "no SMTP protocol log found in" in result.stderr
        assert "typo: no such file or folder" in result.stderr
    # One usable path is enough: the missing one is listed under the answer.
    result = run("logs", "sessions", str(logs / "EXCH02"), str(tmp_path / "typo"))
    assert result.exit_code == 0
    assert "SMTP sessions of any source at any time: 1" in result.stdout
    assert "\nproblems:\n  " in result.stdout and "typo: no such file or folder" in result.stdout
    result = run("logs", "sessions", str(logs), str(tmp_path / "typo"))
    assert "1 unusable line(s); first problems:" in result.stdout


def test_bad_option_leaves_no_new_store_behind(logs, tmp_path):
    store = tmp_path / "new.duckdb"
    for command in (("logs", "sessions", str(logs), "--ip", "not-an-ip"),
                    ("logs", "summary", str(logs), "--by", "weekday")):
        result = run(*command, "--store", str(store))
        assert result.exit_code == 2
        assert not store.exists()


def test_kept_store_opened_early_answers_and_is_released(logs, tmp_path):
    """A kept store is opened on a thread (store.db.Opening): the answer is the same, an
    unusable file is still a one-line error, and the file is free again afterwards."""
    import duckdb

    store = tmp_path / "case.duckdb"
    first = run("logs", "sessions", str(logs), "--store", str(store), "--format", "json")
    again = run("logs", "summary", str(logs), "--store", str(store), "--format", "json")
    assert json.loads(again.stdout)["input"]["files_already_in_store"] == 2
    again = run("logs", "sessions", str(logs), "--store", str(store), "--format", "json")
    assert json.loads(again.stdout)["sessions"] == json.loads(first.stdout)["sessions"]
    bad = run("logs", "sessions", "--ip", "not-an-ip", "--store", str(store))
    assert bad.exit_code == 2 and "not-an-ip" in bad.stderr
    duckdb.connect(str(store), read_only=True).close()  # no connection left open on it

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).execute("CREATE TABLE t (x INTEGER)").close()
    result = run("logs", "sessions", str(logs), "--store", str(other))
    assert result.exit_code == 2 and "not a mailflow-doctor case store" in result.stderr
    assert "Traceback" not in result.output


def test_store_locked_by_another_process_is_a_one_line_error(logs, tmp_path):
    import subprocess
    import sys

    store = tmp_path / "case.duckdb"
    assert run("logs", "sessions", str(logs), "--store", str(store)).exit_code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(30)", str(store)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run("logs", "sessions", str(logs), "--store", str(store))
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert result.exit_code == 2
    assert "cannot open the case store" in result.stderr and "Traceback" not in result.output


def test_sessions_show_tls_domain_capabilities(tmp_path):
    import test_protocol_log as real

    path = real.write(tmp_path, real.RECEIVE + real.DOMAIN_CAPABILITIES)
    doc = json.loads(run("logs", "sessions", str(path), "--format", "json").stdout)
    caps = [s["tls_domain_capabilities"] for s in doc["sessions"]]
    assert caps == [{"text": real.CLOUD_CAPABILITIES, "capabilities": "AcceptCloudServicesMail",
                     "status": "Success", "domain": "mail.protection.outlook.com"},
                    {"text": real.NO_CAPABILITIES, "capabilities": "None",
                     "status": "NoRemoteCertificate", "domain": None}]
    text = run("logs", "sessions", str(path)).stdout
    assert ("domain capabilities AcceptCloudServicesMail (status Success, domain "
            "mail.protection.outlook.com)") in text
    assert "domain capabilities None (status NoRemoteCertificate)" in text


def test_pipes_and_fifos_are_refused_not_waited_for(tmp_path):
    """A FIFO would block the open until a writer comes, a pipe is consumed by sniffing it:
    both are one-line problems, named or met in a folder (run as processes, with a timeout)."""
    import os
    import subprocess
    import sys

    folder = tmp_path / "case"
    folder.mkdir()
    os.mkfifo(folder / "trace.csv")
    from pathlib import Path

    cli = [str(Path(sys.executable).with_name("mailflow-doctor"))]
    for args in (["trace", str(folder / "trace.csv")], ["logs", "sessions", str(folder)],
                 ["logs", "sessions", str(folder / "trace.csv")], ["diagnose", str(folder)]):
        done = subprocess.run(cli + args, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 2, (args, done.stderr)
        assert "not a regular file (a pipe or a device)" in done.stderr, args
        assert "Traceback" not in done.stderr
    piped = subprocess.run(cli + ["trace", "/dev/stdin"], input="Date,Event\n1,2\n",
                           capture_output=True, text=True, timeout=60)
    assert piped.returncode == 2 and "not a regular file" in piped.stderr
    assert "Traceback" not in piped.stderr
