"""Checks and ranking on partial and single-source evidence (SYNTHETIC files), and `decode`."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone

from casegen import extended_csv, extended_row, led, receive_log
from typer.testing import CliRunner

from mailflow_doctor.cli.app import app, demo_case
from mailflow_doctor.diagnose.engine import rank
from mailflow_doctor.evidence.collect import collect
from mailflow_doctor.model import Cause
from mailflow_doctor.model.report import Finding

runner = CliRunner()
DAY = datetime(2026, 11, 23, 9, tzinfo=timezone.utc)
HOST, IP = "mail.contoso.example", "203.0.113.25"


def diagnose_json(*args) -> tuple[int, dict]:
    result = runner.invoke(app, ["diagnose", *map(str, args), "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def defers(tmp_path, reason_for, n=5, source="40.107.1.1", event="DEFER"):
    rows = [extended_row(DAY + timedelta(minutes=10 * i), event, i, source=source,
                         target_ip=IP, target_host=HOST, status=reason_for(DAY))
            for i in range(n)]
    path = tmp_path / "trace.csv"
    extended_csv(path, rows, encoding="utf-8-sig")
    return path


def test_trace_only_refusals_say_what_evidence_would_settle_it(tmp_path):
    trace = defers(tmp_path, lambda t: led("450", "4.4.316 Connection refused", 10061, HOST, IP, t))
    code, report = diagnose_json(trace)
    assert code == 1
    top = report["findings"][0]
    assert top["cause"] == "service-not-listening"
    assert top["confidence"] < 0.6  # the trace alone cannot tell a firewall from a dead service
    assert "firewall configuration" in top["explanation"]
    assert top["details"]["destination"] == f"{IP}:25"
    missing = " ".join(report["missing_evidence"])
    assert "SmtpReceive" in missing and "firewall" in missing


def test_subject_mismatch_is_named_from_the_trace(tmp_path):
    reason = ("[{LED=450 4.4.317 Cannot connect to remote server [Message=SubjectMismatch "
              "Expected Subject: mail.contoso.example. Presented Subject: CN=EXCH01. "
              f"Thumbprint: D0AC2FC63B9C5798828B45D849BE8D33.] [LastAttemptedServerName={HOST}] "
              f"[LastAttemptedIP={IP}:25] [SmtpSecurity=-1;-1]}};{{MSG=SubjectMismatch}};"
              f"{{FQDN={HOST}}};{{IP={IP}}};{{LRT=11/23/2026 9:00:00 AM}}]")
    code, report = diagnose_json(defers(tmp_path, lambda t: reason))
    assert code == 1
    assert [f["cause"] for f in report["findings"]] == ["cert-name-mismatch"]
    f = report["findings"][0]
    assert f["confidence"] >= 0.8
    assert "Presented Subject: CN=EXCH01" in f["explanation"]
    assert any("TlsCertificateName" in step for step in f["remediation"])


def test_expired_messages_are_reported(tmp_path):
    trace = defers(tmp_path, lambda t: led("550", "5.4.316 Message expired, connection refused",
                                           10061, HOST, IP, t), n=2, event="FAIL")
    _, report = diagnose_json(trace)
    causes = [f["cause"] for f in report["findings"]]
    assert "message-expired" in causes and "service-not-listening" in causes
    expired = next(f for f in report["findings"] if f["cause"] == "message-expired")
    assert expired["details"]["recipients"] == ["user0@example.net", "user1@example.net"]


def test_timeouts_without_firewall_evidence_are_network_timeout(tmp_path):
    trace = defers(tmp_path, lambda t: led("450", "4.4.315 Connection timed out", 10060, HOST,
                                           IP, t))
    _, report = diagnose_json(trace)
    assert report["findings"][0]["cause"] == "network-timeout"


def test_eop_from_unpublished_addresses(tmp_path):
    receive_log(tmp_path / "RECV2026112309-1.LOG",
                [(DAY, "40.95.90.67"), (DAY + timedelta(minutes=5), "40.107.2.2")])
    code, report = diagnose_json(tmp_path)
    assert code == 1
    f = report["findings"][0]
    assert f["cause"] == "eop-source-unpublished" and f["severity"] == "warning"
    assert f["details"]["unpublished_sources"] == {"40.95.90.0/24": 1}


def test_decode_text_and_json():
    reason = ("Reason: [{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
              "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=3/16/2017 4:59:18 PM}]. "
              "OutboundProxyTargetIP: 13.92.177.139. OutboundProxyTargetHostName: "
              "smtp.tailspintoys.ca")
    text = runner.invoke(app, ["decode", reason])
    assert text.exit_code == 0
    assert "10061" in text.stdout and "WSAECONNREFUSED" in text.stdout
    data = json.loads(runner.invoke(app, ["decode", reason, "--format", "json"]).stdout)
    assert data["reason"]["enhanced_code"] == "4.4.316"
    assert data["reason"]["ip"] == "13.92.177.139"
    assert data["reason"]["lrt"] == "2017-03-16T16:59:18+00:00"
    assert data["explanation"]["cause"] == "service-not-listening"
    assert "firewall-blocks-eop" in data["explanation"]["related_causes"]
    bad = runner.invoke(app, ["decode", "hello"])
    assert bad.exit_code == 2 and "no SMTP reply" in bad.stderr


def test_rank_puts_errors_first_then_confidence():
    def f(sev, conf):
        return Finding(Cause.THROTTLED, sev, conf, "t", "e")
    ranked = rank([f("warning", 0.99), f("error", 0.5), f("info", 1.0), f("error", 0.9)])
    assert [(x.severity, x.confidence) for x in ranked] == [
        ("error", 0.9), ("error", 0.5), ("warning", 0.99), ("info", 1.0)]


def test_without_firewall_config_silent_ranges_point_to_a_partial_block(tmp_path):

    case = tmp_path / "case"
    shutil.copytree(demo_case(), case)
    shutil.rmtree(case / "firewall")
    _, report = diagnose_json(case)
    top = report["findings"][0]
    assert top["cause"] == "firewall-blocks-eop"
    assert top["title"].startswith("Suspected")
    assert top["details"]["missing_prefixes"] == ["52.102.0.0/15", "104.47.0.0/17"]
    assert top["details"]["rule"] is None
    assert 0.5 <= top["confidence"] < 0.9  # below the 0.95 of the case with the configuration
    service = next(f for f in report["findings"] if f["cause"] == "service-not-listening")
    assert service["confidence"] < top["confidence"]
    assert re.search(r"Yet \d+ EOP session\(s\) reached Exchange", service["explanation"])


def test_receive_logs_without_any_eop_session_say_it_never_reached_exchange(tmp_path):
    """EOP absent entirely: the logs cover the time (internal senders are in them) but hold no
    session from a published EOP range while the connections are refused."""
    defers(tmp_path, lambda t: led("450", "4.4.316 Connection refused", 10061, HOST, IP, t),
           source="104.47.34.97")
    receive_log(tmp_path / "RECV2026112309-1.LOG",
                [(DAY + timedelta(minutes=7 * k), f"10.1.2.{k + 1}") for k in range(6)],
                ehlo="app01.tailspintoys.ca")
    _, report = diagnose_json(tmp_path)
    top = report["findings"][0]
    assert top["cause"] == "firewall-blocks-eop" and top["title"].startswith("Suspected")
    assert "none at all from a published EOP range" in top["explanation"]
    assert "104.47.34.97" in top["explanation"] and top["confidence"] == 0.55
    assert "hold 6 session(s) from other sources" in top["explanation"]
    service = next(f for f in report["findings"] if f["cause"] == "service-not-listening")
    assert service["confidence"] < top["confidence"]
    assert "none at all from EOP" in service["explanation"]
    assert "receive logs covering" not in service["explanation"]

    # EOP back after the defers: not "none at all".
    receive_log(tmp_path / "RECV2026112313-1.LOG",
                [(DAY + timedelta(hours=4, minutes=k), "104.47.34.98") for k in range(3)])
    _, report = diagnose_json(tmp_path)
    service = next(f for f in report["findings"] if f["cause"] == "service-not-listening")
    assert "EOP sessions reached Exchange again from 2026-11-23 13:00Z" in service["explanation"]
    assert "none at all" not in json.dumps(report["findings"])
    (tmp_path / "RECV2026112313-1.LOG").unlink()

    # Our own send sessions say nothing about who reaches Exchange.
    (tmp_path / "RECV2026112309-1.LOG").unlink()
    stamp = DAY.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    (tmp_path / "SEND2026112309-1.LOG").write_text("\r\n".join([
        "#Software: Microsoft Exchange Server", "#Version: 15.0.0.0",
        "#Log-type: SMTP Send Protocol Log", "#Date: 2026-11-23T09:00:00.000Z",
        "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
        "remote-endpoint,event,data,context",
        *(f"{stamp},Internet,08DE0000000000S{k},{n},10.0.0.25:3012{k},198.51.100.{k + 1}:25,"
          f"{event}" for k in range(3) for n, event in enumerate(
              ["*,,attempting to connect", "<,220 mx.partner.example,", "-,,Local"]))]) + "\r\n")
    _, report = diagnose_json(tmp_path)
    assert report["summary"]["receive_sessions"] == 0
    assert "firewall-blocks-eop" not in {f["cause"] for f in report["findings"]}
    (tmp_path / "SEND2026112309-1.LOG").unlink()

    # Logs with no session at all around the trace settle nothing: no suspicion is raised.
    receive_log(tmp_path / "RECV2026112009-1.LOG",
                [(DAY - timedelta(days=3), "10.1.2.1")], ehlo="app01.tailspintoys.ca")
    _, report = diagnose_json(tmp_path)
    assert report["findings"][0]["cause"] == "service-not-listening"


def test_tls_failing_for_lack_of_a_private_key_is_named_from_the_logs(tmp_path):
    log = tmp_path / "RECV2026112309-1.LOG"
    receive_log(log, [(DAY + timedelta(minutes=3 * k), "40.107.1.1") for k in range(3)])
    text = log.read_text(encoding="utf-8-sig")
    tls_ok = re.search(r'TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded[^"\r\n]*',
                       text).group()
    log.write_text(text.replace(tls_ok, "TLS negotiation failed with error NoCredentials"),
                   encoding="utf-8-sig")
    code, report = diagnose_json(tmp_path)
    assert code == 1
    [finding] = [f for f in report["findings"] if f["cause"] == "cert-no-private-key"]
    assert finding["severity"] == "error"
    assert len(finding["evidence"]) == 3
    assert all(e["source"] == "smtp-receive-log" and "NoCredentials" in e["excerpt"]
               for e in finding["evidence"])
    assert any("private key" in step for step in finding["remediation"])


STARTTLS_REASON = (f"[{{LED=450 4.4.317 Cannot connect to remote server [Message=451 5.7.3 "
                   f"STARTTLS is required to send mail] [LastAttemptedServerName={HOST}] "
                   f"[LastAttemptedIP={IP}:25]}};{{MSG=}};{{FQDN={HOST}}};{{IP={IP}}};"
                   "{LRT=11/23/2026 9:00:00 AM}]")


def test_starttls_missing_in_logs_and_trace_is_one_finding(tmp_path):
    defers(tmp_path, lambda t: STARTTLS_REASON)
    receive_log(tmp_path / "RECV2026112309-1.LOG",
                [(DAY + timedelta(minutes=3 * k), "40.107.1.1") for k in range(4)],
                starttls=False)
    _, report = diagnose_json(tmp_path)
    assert [f["cause"] for f in report["findings"]] == ["starttls-not-offered"]
    f = report["findings"][0]
    assert f["details"]["corroborated"] is True and f["confidence"] >= 0.85
    assert {e["source"] for e in f["evidence"]} == {"message-trace", "smtp-receive-log"}


def test_certificate_presented_without_the_target_name(tmp_path):
    cert = (" CN=EXCH01 CN=EXCH01 1234567890ABCDEF1234567890ABCDEF "
            "9876543210FEDCBA9876543210FEDCBA12345678 2025-01-01T00:00:00.000Z "
            "2027-01-01T00:00:00.000Z EXCH01;EXCH01.corp.example")
    receive_log(tmp_path / "RECV2026112309-1.LOG", [(DAY, "40.107.1.1")], certificate=cert)
    code, report = diagnose_json(tmp_path, "--destination", IP)
    # Without a trace the target's name is unknown: nothing to compare the certificate with.
    assert "cert-name-mismatch" not in [f["cause"] for f in report["findings"]]
    defers(tmp_path, lambda t: led("450", "4.4.315 Connection timed out", 10060, HOST, IP, t))
    _, report = diagnose_json(tmp_path)
    f = next(f for f in report["findings"] if f["cause"] == "cert-name-mismatch")
    assert HOST in f["title"] and "exch01.corp.example" in f["explanation"]


def test_expired_certificate_and_5xx_refusals(tmp_path):
    cert = (" CN=mail.contoso.example CN=CA 1234567890ABCDEF1234567890ABCDEF "
            "9876543210FEDCBA9876543210FEDCBA12345678 2024-01-01T00:00:00.000Z "
            "2025-01-01T00:00:00.000Z mail.contoso.example")
    receive_log(tmp_path / "RECV2026112309-1.LOG", [(DAY, "40.107.1.1")], certificate=cert)
    log = tmp_path / "RECV2026112309-1.LOG"
    log.write_text(log.read_text(encoding="utf-8-sig").replace(
        "250 2.6.0 <m0@example.org>", "550 5.7.1 Unable to relay <m0@example.org>"),
        encoding="utf-8-sig")
    _, report = diagnose_json(log)
    causes = [f["cause"] for f in report["findings"]]
    assert "cert-expired" in causes and "receive-connector-rejects-eop" in causes


def _hung_up_after_certificate(path, certificate_fields: str | None = None):
    """A SYNTHETIC session EOP closes right after the certificate line (storegen's format)."""
    from storegen import session, write_log

    lines = []
    for line in session("08DE00000000F001", DAY + timedelta(minutes=1), "40.107.1.1:50001"):
        if certificate_fields and "Sending certificate" in line:
            head, _, _ = line.partition(",*,")
            line = f"{head},*, {certificate_fields},Sending certificate Subject Issuer name " \
                   "Serial number Thumbprint Not before Not after Subject alternate names"
        lines.append(line)
        if "Sending certificate" in line:
            stamp = line.split(",", 1)[0]
            lines.append(f"{stamp},EXCH01\\Default Frontend EXCH01,08DE00000000F001,99,"
                         "10.20.0.25:25,40.107.1.1:50001,-,,Remote(ConnectionReset)")
            break
    return write_log(path, lines)


def test_hang_up_after_certificate_takes_its_cause_from_the_trace(tmp_path):
    reason = ("[{LED=450 4.4.317 Cannot connect to remote server [Message=SubjectMismatch "
              "Expected Subject: mail.contoso.example. Presented Subject: CN=mail.tailspintoys.ca."
              f"] [LastAttemptedServerName={HOST}] [LastAttemptedIP={IP}:25]}};"
              f"{{MSG=SubjectMismatch}};{{FQDN={HOST}}};{{IP={IP}}};"
              "{LRT=11/23/2026 9:00:00 AM}]")
    defers(tmp_path, lambda t: reason)
    _hung_up_after_certificate(tmp_path / "RECV.LOG")
    _, report = diagnose_json(tmp_path)
    [f] = report["findings"]
    assert f["cause"] == "cert-name-mismatch" and f["details"]["corroborated"] is True
    assert "closed the session (Remote(ConnectionReset)) right after" in f["explanation"]
    assert any("Remote(ConnectionReset)" in e["excerpt"] for e in f["evidence"])


def test_hang_up_after_certificate_without_a_trace(tmp_path):
    _hung_up_after_certificate(tmp_path / "a" / "RECV.LOG")
    _, report = diagnose_json(tmp_path / "a")
    assert [f["cause"] for f in report["findings"]] == ["tls-handshake-failed"]
    self_signed = ("CN=EXCH01 CN=EXCH01 11 AB12AB12AB12AB12AB12AB12AB12AB12AB12AB12 "
                   "2026-01-01T00:00:00.000Z 2031-01-01T00:00:00.000Z EXCH01")
    _hung_up_after_certificate(tmp_path / "b" / "RECV.LOG", self_signed)
    _, report = diagnose_json(tmp_path / "b")
    [f] = report["findings"]
    assert f["cause"] == "cert-untrusted" and "self-signed" in f["explanation"]


def test_tracking_logs_say_which_deferred_messages_arrived_later(tmp_path):
    from test_message_tracking import HEADER_2013, row
    from test_message_tracking import write as write_tracking

    trace = defers(tmp_path, lambda t: led("450", "4.4.316 Connection refused", 10061, HOST, IP,
                                           t))  # msg0..msg4, from 09:00 every 10 minutes
    received = [row(date_time=f"2026-11-23T{h}:{m}:00.000Z", client_ip="40.107.1.9",
                    server_hostname="MAIL01", source="SMTP", event_id="RECEIVE",
                    internal_message_id=str(n), message_id=f"<MSG{n}@example.org>",
                    recipient_address=f"user{n}@example.net", recipient_count="1",
                    source_context=f"08DE2B4C00000000;2026-11-23T{h}:{m}:00.000Z;0"
                    if n == 1 else "")
                for n, h, m in ((1, "10", "05"), (3, "09", "15"), (9, "11", "00"))]
    # msg3 "arrives" before its first defer (09:30): not a later receipt; msg9 was never deferred.
    (tmp_path / "tracking").mkdir()
    tracking = write_tracking(tmp_path / "tracking", HEADER_2013 + received)
    _, report = diagnose_json(trace, "--tracking-logs", tracking)
    got = report["summary"]["on_premises_receipts"]
    assert (got["deferred_messages"], got["received_later"]) == (5, 1)
    [example] = got["examples"]
    assert example["message_id"] == "<msg1@example.org>"
    assert example["received"].startswith("2026-11-23T10:05")
    assert example["location"].endswith(":6")  # the header block is five lines
    assert example["source_ip"] == "40.107.1.9" and example["session_id"] is None
    # With the receive log, the receipt names the session its source-context points to.
    receive_log(tmp_path / "recv" / "RECV2026112310-1.LOG",
                [(DAY + timedelta(hours=1, minutes=5), "40.107.1.9")], server="MAIL01")
    _, report = diagnose_json(trace, tmp_path / "recv", "--tracking-logs", tracking)
    [example] = report["summary"]["on_premises_receipts"]["examples"]
    assert example["session_id"] == "08DE2B4C00000000"
    assert example["session_location"].endswith("RECV2026112310-1.LOG:6")
    assert example["session_matched_by"] == "source-context"
    # Without a session id in source-context, the session from that address at that time.
    tracking.write_text(tracking.read_text().replace("08DE2B4C00000000;", ";"))
    _, report = diagnose_json(trace, tmp_path / "recv", "--tracking-logs", tracking)
    [example] = report["summary"]["on_premises_receipts"]["examples"]
    assert example["session_id"] == "08DE2B4C00000000"
    assert example["session_matched_by"] == "address and time"
    assert report["summary"]["tracking_events"] == 2  # msg9 is not in the trace: not kept
    text = runner.invoke(app, ["diagnose", str(trace), "--tracking-logs", str(tracking)]).stdout
    assert ("Message tracking: 1 of 5 message(s) EOP deferred were received on-premises later "
            "(the first at 2026-11-23T10:05Z, from 40.107.1.9)") in text


def test_tracking_logs_far_from_the_trace_are_not_read(tmp_path):
    from test_message_tracking import HEADER_2013, row
    from test_message_tracking import write as write_tracking

    trace = defers(tmp_path, lambda t: led("450", "4.4.316 Connection refused", 10061, HOST, IP,
                                           t))  # 2026-11-23, from 09:00

    def receive(day: str, n: int) -> str:
        return row(date_time=f"2026-11-{day}T10:05:00.000Z", client_ip="40.107.1.9",
                   server_hostname="MAIL01", source="SMTP", event_id="RECEIVE",
                   internal_message_id=str(n), message_id=f"<MSG{n}@example.org>",
                   recipient_address=f"user{n}@example.net", recipient_count="1")

    folder = tmp_path / "tracking"
    folder.mkdir()
    write_tracking(folder, HEADER_2013 + [receive("23", 1)], "MSGTRK2026112310-1.LOG")
    write_tracking(folder, HEADER_2013 + [receive("02", 2)], "MSGTRK2026110210-1.LOG")  # weeks off
    write_tracking(folder, HEADER_2013 + [receive("26", 3)], "MSGTRK2026112610-1.LOG")  # 3 days on
    # A file whose times cannot be told from its ends (quoted, here) is read.
    write_tracking(folder, HEADER_2013 + ['"2026-11-02T10:05:00.000Z"' + receive("02", 4)[24:]],
                   "MSGTRK2026110211-1.LOG")
    _, report = diagnose_json(trace, "--tracking-logs", folder)
    assert report["summary"]["tracking_files_outside_window"] == 2
    assert report["summary"]["tracking_events"] == 2  # message 1, and message 4's file
    assert report["summary"]["on_premises_receipts"]["received_later"] == 1
    assert sum(1 for i in report["inputs"] if i["kind"] == "exchange-message-tracking") == 4
    text = runner.invoke(app, ["diagnose", str(trace), "--tracking-logs", str(folder)]).stdout
    assert ("received on-premises later (the first at 2026-11-23T10:05Z, from 40.107.1.9); 2 "
            "log file(s) far from the trace's time span not read") in text
    for name in ("MSGTRK2026112310-1.LOG", "MSGTRK2026110211-1.LOG"):
        (folder / name).unlink()
    text = runner.invoke(app, ["diagnose", str(trace), "--tracking-logs", str(folder)]).stdout
    assert "Message tracking: none of the 2 log file(s) given comes near the time the trace " \
           "covers, so none was read" in text
    # A file near the trace holding none of its messages still answers: none arrived later.
    write_tracking(folder, HEADER_2013 + [receive("23", 7)], "MSGTRK2026112311-1.LOG")
    _, report = diagnose_json(trace, "--tracking-logs", folder)
    assert report["summary"]["tracking_files_read"] == 1
    assert report["summary"]["tracking_events"] == 0
    assert report["summary"]["on_premises_receipts"]["received_later"] == 0
    text = runner.invoke(app, ["diagnose", str(trace), "--tracking-logs", str(folder)]).stdout
    assert "Message tracking: 0 of 5 message(s) EOP deferred were received on-premises later; " \
           "2 log file(s) far from the trace's time span not read" in text
    # Without a trace there is no window: every file is read.
    evidence = collect([folder])
    assert len(evidence.tracking) == 3 and evidence.tracking_outside_window == 0


def test_trace_times_at_the_ends_of_the_calendar_do_not_crash(tmp_path):
    """PowerShell writes DateTime.MinValue for a missing date; widening the trace's span by a
    day must not overflow (collect computes that window for every trace)."""
    rows = [extended_row(datetime(2026, 11, 23, 9, tzinfo=timezone.utc), "RECEIVE", 1)]
    rows.append(dict(rows[0], date_time_utc="0001-01-01T00:00:00.000Z", message_id="<m2@x>"))
    rows.append(dict(rows[0], date_time_utc="9999-12-31T23:59:59.000Z", message_id="<m3@x>"))
    trace = tmp_path / "trace.csv"
    extended_csv(trace, rows)
    for args in (["trace", str(trace)], ["diagnose", str(trace)]):
        result = runner.invoke(app, args)
        assert not isinstance(result.exception, Exception), (args, result.exception)
        assert result.exit_code in (0, 1), args
    evidence = collect([trace])
    assert len(evidence.trace) == 3
