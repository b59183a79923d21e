"""`trace` and `trace summary` on SYNTHETIC exports: the events and the per-target numbers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from casegen import extended_csv, extended_row, led
from typer.testing import CliRunner

from mailflow_doctor.cli.app import app, demo_case

runner = CliRunner()
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
HOST, IP = "mail.contoso.example", "203.0.113.25"


def refused(t):
    return led("450", "4.4.316 Connection refused", 10061, HOST, IP, t)


def write_case(tmp_path):
    """msg0 delivered at once; msg1 deferred twice then delivered; msg2 deferred, still pending;
    msg3 deferred then failed (expired); msg4 goes elsewhere."""
    rows = [
        extended_row(T0, "SEND", 0, source="40.107.1.1", target_ip=IP, target_host=HOST),
        extended_row(T0 + timedelta(minutes=5), "DEFER", 1, source="104.47.1.1", target_ip=IP,
                     target_host=HOST, status=refused(T0)),
        extended_row(T0 + timedelta(minutes=65), "DEFER", 1, source="104.47.1.2", target_ip=IP,
                     target_host=HOST, status=refused(T0)),
        extended_row(T0 + timedelta(minutes=125), "SEND", 1, source="40.107.1.3", target_ip=IP,
                     target_host=HOST),
        extended_row(T0 + timedelta(minutes=10), "DEFER", 2, source="104.47.1.4", target_ip=IP,
                     target_host=HOST, status=refused(T0)),
        extended_row(T0 + timedelta(minutes=20), "DEFER", 3, source="104.47.1.5", target_ip=IP,
                     target_host=HOST, status=refused(T0)),
        extended_row(T0 + timedelta(minutes=200), "FAIL", 3, source="104.47.1.5", target_ip=IP,
                     target_host=HOST, status=led("550", "5.4.316 Message expired, connection "
                                                  "refused", 10061, HOST, IP, T0)),
        extended_row(T0 + timedelta(minutes=3), "SEND", 4, source="40.107.9.9",
                     target_ip="198.51.100.7", target_host="relay.partner.example"),
    ]
    extended_csv(tmp_path / "ext.csv", list(reversed(rows)))
    return tmp_path / "ext.csv"


def test_trace_lists_normalised_events_sorted_with_reason(tmp_path):
    result = runner.invoke(app, ["trace", str(write_case(tmp_path)), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == "mailflow-doctor/trace/v1"
    events = data["events"]
    times = [e["time_utc"] for e in events]
    assert times == sorted(times) and len(events) == 8
    defer = next(e for e in events if e["event"] == "defer")
    assert set(defer) >= {"time_utc", "message_id", "trace_id", "sender", "recipient", "event",
                          "status", "source_ip", "target_ip", "target_fqdn", "reason"}
    assert defer["source_ip"] == "104.47.1.1" and defer["target_ip"] == IP
    r = defer["reason"]
    assert (r["smtp_code"], r["enhanced_code"], r["msg"], r["fqdn"], r["ip"]) == (
        450, "4.4.316", "Socket error code 10061", HOST, IP)
    assert r["text"] == "Connection refused" and r["lrt"].startswith("2026-11-23T09:00")


def test_trace_text_shows_every_field_of_an_event(tmp_path):
    result = runner.invoke(app, ["trace", str(write_case(tmp_path))])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[-1] == "8 event(s)"
    at = next(i for i, line in enumerate(lines) if "  defer " in line)
    when, message, reason = lines[at:at + 3]
    assert when.startswith("2026-11-23 09:05:00Z  defer    user1@example.net")
    assert when.endswith(f"104.47.1.1 -> {IP} {HOST}")
    assert message.split() == ["message", "<msg1@example.org>", "trace", "-", "sender",
                               "a@example.org"]
    assert reason == (f"    reason 450 4.4.316 Connection refused; MSG Socket error code 10061; "
                      f"FQDN {HOST}; IP {IP}; LRT 2026-11-23 09:00:00Z")
    send = next(i for i, line in enumerate(lines) if "  send " in line)
    assert lines[send + 2].startswith("2026-")  # no status logged, no status line


def test_trace_summary_counts_per_target(tmp_path):
    result = runner.invoke(app, ["trace", "summary", str(write_case(tmp_path)), "--format",
                                 "json"])
    assert result.exit_code == 0, result.output
    targets = json.loads(result.stdout)["targets"]
    assert [t["ip"] for t in targets] == [IP, "198.51.100.7"]
    t = targets[0]
    assert t["fqdn"] == HOST
    assert t["messages"] == {"delivered": 2, "deferred": 3, "failed": 1, "pending": 1}
    assert (t["attempts"], t["defers"]) == (7, 4)
    assert t["deferred_share"] == round(4 / 7, 4)
    assert t["first_defer"].startswith("2026-11-23T09:05")
    assert t["last_defer"].startswith("2026-11-23T10:05")
    assert t["errors"] == {"450 4.4.316 refused socket 10061": 4,
                           "550 5.4.316 refused socket 10061": 1}
    # msg2 has waited from its defer at 09:10 to the end of the trace (12:20).
    assert [(x["state"], x["waited_minutes"]) for x in t["stuck_longest"]] == [
        ("pending", 190.0), ("failed", 180.0), ("delivered", 120.0)]
    assert [h["hour"][11:13] for h in t["hourly"]] == ["09", "10", "11", "12"]
    assert t["hourly"][0] == {"hour": "2026-11-23T09:00:00+00:00", "send": 1, "defer": 3}


def test_trace_summary_counts_a_send_without_target_toward_its_messages_target(tmp_path):
    """A detail export's Send after the Defers names no target: the message was delivered, not
    left pending, and the Send is an attempt toward the target its Defers named."""
    rows = [
        extended_row(T0, "RECEIVE", 5),
        extended_row(T0 + timedelta(minutes=5), "DEFER", 5, target_ip=IP, target_host=HOST,
                     status=refused(T0)),
        extended_row(T0 + timedelta(minutes=70), "SEND", 5),
        extended_row(T0 + timedelta(minutes=1), "SEND", 6),  # no target anywhere: left out
    ]
    extended_csv(tmp_path / "ext.csv", rows)
    result = runner.invoke(app, ["trace", "summary", str(tmp_path / "ext.csv"), "--format",
                                 "json"])
    assert result.exit_code == 0, result.output
    (t,) = json.loads(result.stdout)["targets"]
    assert t["ip"] == IP
    assert t["messages"] == {"delivered": 1, "deferred": 1, "failed": 0, "pending": 0}
    assert (t["attempts"], t["defers"]) == (2, 1)
    assert [(x["state"], x["waited_minutes"]) for x in t["stuck_longest"]] == [
        ("delivered", 65.0)]


def test_trace_summary_text_of_demo_shows_pending_and_timeline():
    result = runner.invoke(app, ["trace", "summary", str(demo_case() / "trace")])
    assert result.exit_code == 0
    assert "Target smtp.tailspintoys.ca (13.92.177.139)" in result.stdout
    assert "still pending" in result.stdout and "per hour (UTC)" in result.stdout
    assert "450 4.4.316 refused socket 10061" in result.stdout


def test_trace_without_trace_files_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here\n")
    result = runner.invoke(app, ["trace", str(tmp_path)])
    assert result.exit_code == 2
    assert "no message trace events" in result.stderr
