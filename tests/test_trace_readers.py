"""Message-trace CSV readers. Every fixture here is SYNTHETIC: built in tmp_path from the
documented column sets (formats.md §3.1 and §3.4), since no real export is public."""

from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence.textio import read_head
from mailflow_doctor.evidence.trace import detail_csv, extended_csv
from mailflow_doctor.model import Parsed
from mailflow_doctor.model.trace import TraceEvent

UTC = timezone.utc
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16"]  # Python's utf-16 codec writes a BOM

REFERENCE_REASON = (
    "Reason: [{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
    "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=3/16/2017 4:59:18 PM}]. "
    "OutboundProxyTargetIP: 13.92.177.139. OutboundProxyTargetHostName: smtp.tailspintoys.ca")

DETAIL_HEADER = ["Organization", "MessageId", "MessageTraceId", "RecipientAddress",
                 "SenderAddress", "Date", "Event", "Action", "Detail", "Data"]
EXTENDED_HEADER = [
    "date_time_utc", "client_ip", "client_hostname", "server_ip", "server_hostname",
    "source_context", "connector_id", "source", "event_id", "internal_message_id", "message_id",
    "network_message_id", "recipient_address", "recipient_status", "total_bytes",
    "recipient_count", "related_recipient_address", "reference", "message_subject",
    "sender_address", "return_path", "message_info", "directionality", "tenant_id",
    "original_client_ip", "original_server_ip", "custom_data"]


def write_csv(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8",
              type_line: str | None = None) -> Path:
    """Write like Export-Csv: every field quoted, CRLF line ends."""
    buf = io.StringIO()
    if type_line:
        buf.write(type_line + "\r\n")
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def detail_row(date: str, event: str, detail: str = "", data: str = "",
               message_id: str = "<m1@fabrikam.example>") -> list[str]:
    return ["tailspintoys.onmicrosoft.com", message_id, "0b7a6a2c-0000-4000-8000-000000000001",
            "user@tailspintoys.ca", "sender@fabrikam.example", date, event, "", detail, data]


def detail_rows() -> list[list[str]]:
    """Synthetic detail export of one message deferred toward on-premises (reference case)."""
    return [
        detail_row("3/16/2017 4:40:01 PM", "Receive", "Message received by: BN7PR00MB0001",
                   '<root><MEP Name="ClientIP" String="198.51.100.7"/></root>'),
        detail_row("3/16/2017 4:40:02 PM", "Submit", "The message was submitted."),
        detail_row("3/16/2017 4:59:18 PM", "Defer", REFERENCE_REASON,
                   '<root><MEP Name="ClientIP" String="104.47.34.97"/>'
                   '<MEP Name="RetryCount" Integer="3"/><MEP Name="Size" Long="48213"/></root>'),
    ]


# -- detail export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_detail_reads_every_encoding(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "detail.csv", DETAIL_HEADER, detail_rows(), encoding,
                     type_line="#TYPE Deserialized.Microsoft.Exchange.MessageTraceDetail")
    assert detail_csv.sniff(read_head(path))
    parsed = detail_csv.parse(path)
    assert parsed.problems == []
    assert [e.event for e in parsed.records] == ["receive", "submit", "defer"]
    defer = parsed.records[-1]
    assert defer.time_utc == datetime(2017, 3, 16, 16, 59, 18, tzinfo=UTC)
    assert defer.location.line == 5  # #TYPE line 1, header line 2, rows 3..5
    assert defer.location.source == str(path)
    assert defer.reason.enhanced_code == "4.4.316" and defer.reason.socket_error == 10061
    assert (defer.target_ip, defer.target_fqdn) == ("13.92.177.139", "smtp.tailspintoys.ca")
    assert defer.source_ip == "104.47.34.97"
    assert defer.data == {"ClientIP": "104.47.34.97", "RetryCount": "3", "Size": "48213"}
    assert defer.trace_id == "0b7a6a2c-0000-4000-8000-000000000001"
    assert defer.sender == "sender@fabrikam.example"
    assert defer.recipient == "user@tailspintoys.ca"
    assert defer.detail == REFERENCE_REASON
    assert defer.excerpt.startswith('"tailspintoys.onmicrosoft.com"') and len(defer.excerpt) <= 300
    assert parsed.records[0].reason is None


def test_detail_shuffled_rows_come_back_sorted(tmp_path: Path) -> None:
    rows = detail_rows()
    random.Random(7).shuffle(rows)
    parsed = detail_csv.parse(write_csv(tmp_path / "d.csv", DETAIL_HEADER, rows))
    times = [e.time_utc for e in parsed.records]
    assert times == sorted(times)


@pytest.mark.parametrize("transform", [str.lower, str.upper, lambda h: f" {h} "])
def test_detail_header_case_and_order(tmp_path: Path, transform) -> None:
    order = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    header = [transform(DETAIL_HEADER[i]) for i in order]
    rows = [[r[i] for i in order] for r in detail_rows()]
    path = write_csv(tmp_path / "d.csv", header, rows)
    assert detail_csv.sniff(read_head(path))
    parsed = detail_csv.parse(path)
    assert parsed.problems == [] and len(parsed.records) == 3
    assert parsed.records[-1].reason.fqdn == "smtp.tailspintoys.ca"


def test_detail_iso_dates_and_quoted_line_breaks(tmp_path: Path) -> None:
    rows = [detail_row("2017-03-16T16:40:01Z", "Receive", "first line\nsecond line"),
            detail_row("2017-03-16T16:59:18.1234567", "Fail", REFERENCE_REASON)]
    parsed = detail_csv.parse(write_csv(tmp_path / "d.csv", DETAIL_HEADER, rows))
    assert parsed.problems == []
    receive, fail = parsed.records
    assert receive.location.line == 2 and "second line" in receive.excerpt
    assert fail.location.line == 4  # the quoted line break pushed it down one line
    assert fail.time_utc.tzinfo is not None and fail.reason.smtp_code == 450


def test_detail_bad_rows_are_problems_with_their_line(tmp_path: Path) -> None:
    rows = detail_rows() + [
        detail_row("not a date", "Defer"),
        detail_row("3/16/2017 5:00:00 PM", "Defer", message_id=""),
        detail_row("3/16/2017 5:00:00 PM", ""),
        ["only", "three", "fields"],
    ]
    parsed = detail_csv.parse(write_csv(tmp_path / "d.csv", DETAIL_HEADER, rows))
    assert len(parsed.records) == 3
    by_line = {p.location.line: p.message for p in parsed.problems}
    assert set(by_line) == {5, 6, 7, 8}
    assert "Date" in by_line[5] and "not a date" in by_line[5]
    assert "MessageId" in by_line[6]
    assert "Event" in by_line[7]
    assert "3 fields" in by_line[8] and "10" in by_line[8]
    assert all(p.location.source.endswith("d.csv") for p in parsed.problems)


def test_detail_bad_xml_keeps_the_row(tmp_path: Path) -> None:
    rows = [detail_row("3/16/2017 4:59:18 PM", "Defer", REFERENCE_REASON, "<root><MEP Name="),
            detail_row("3/16/2017 4:59:19 PM", "Send", "", '<!DOCTYPE r [<!ENTITY e "x">]><r/>')]
    parsed = detail_csv.parse(write_csv(tmp_path / "d.csv", DETAIL_HEADER, rows))
    assert len(parsed.records) == 2 and parsed.records[0].data == {}
    assert [p.location.line for p in parsed.problems] == [2, 3]
    assert all("Data" in p.message for p in parsed.problems)


@pytest.mark.parametrize("data, expected", [
    ('<root><MEP Name="ServerHostName" String="ADSF123ASDF"/></root>',
     {"ServerHostName": "ADSF123ASDF"}),
    ("%3Croot%3E%3CMEP%20Name%3D%22ClientIP%22%20String%3D%2240.107.1.2%22%2F%3E%3C%2Froot%3E",
     {"ClientIP": "40.107.1.2"}),
    ('&lt;root&gt;&lt;MEP Name="A" Integer="1"/&gt;&lt;/root&gt;', {"A": "1"}),
    ('<root><MEP String="no name"/><MEP Name="B" Other="z"/></root>', {"B": "z"}),
    ("", {}),
])
def test_detail_data_forms(data: str, expected: dict) -> None:
    assert detail_csv.parse_data(data) == (expected, None)


def test_detail_source_ip_only_from_an_address(tmp_path: Path) -> None:
    rows = [detail_row("3/16/2017 4:59:18 PM", "Send", "",
                       '<root><MEP Name="clientip" String="not-an-ip"/>'
                       '<MEP Name="SendingIP" String="40.107.1.2:25"/></root>')]
    parsed = detail_csv.parse(write_csv(tmp_path / "d.csv", DETAIL_HEADER, rows))
    assert parsed.records[0].source_ip == "40.107.1.2"


# -- extended report -------------------------------------------------------------------------------


def ext_row(when: str, event: str, recipient: str = "user@tailspintoys.ca", status: str = "",
            client_ip: str = "", server_ip: str = "", server_host: str = "",
            message_id: str = "<m1@fabrikam.example>") -> list[str]:
    values = dict.fromkeys(EXTENDED_HEADER, "")
    values.update(date_time_utc=when, event_id=event, recipient_address=recipient,
                  recipient_status=status, client_ip=client_ip, server_ip=server_ip,
                  server_hostname=server_host, message_id=message_id,
                  network_message_id="0b7a6a2c-0000-4000-8000-000000000001",
                  connector_id="Outbound to 3c1f-onprem", sender_address="sender@fabrikam.example",
                  source="SMTP", directionality="Incoming")
    return [values[c] for c in EXTENDED_HEADER]


def extended_rows() -> list[list[str]]:
    """Synthetic extended report: receive, a send attempt, a defer toward on-premises."""
    return [
        ext_row("2017-03-16T16:40:01.123Z", "RECEIVE", client_ip="198.51.100.7"),
        ext_row("2017-03-16T16:41:00.000Z", "SEND", status="250 2.6.0 Queued mail for delivery",
                client_ip="104.47.34.97", server_ip="13.92.177.139",
                server_host="smtp.tailspintoys.ca"),
        ext_row("2017-03-16T16:59:18.000Z", "DEFER", status=REFERENCE_REASON,
                client_ip="104.47.34.97"),
    ]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_extended_reads_every_encoding_and_sorts(tmp_path: Path, encoding: str) -> None:
    rows = extended_rows()
    rows.reverse()
    header = [("Recipient_status" if c == "recipient_status" else c) for c in EXTENDED_HEADER]
    header[0] = "Date_Time_UTC"
    path = write_csv(tmp_path / "ext.csv", header, rows, encoding)
    assert extended_csv.sniff(read_head(path)) and not detail_csv.sniff(read_head(path))
    parsed = extended_csv.parse(path)
    assert parsed.problems == []
    assert [e.event for e in parsed.records] == ["receive", "send", "defer"]
    receive, send, defer = parsed.records
    assert receive.source_ip is None and receive.location.line == 4
    assert (send.source_ip, send.target_ip, send.target_fqdn) == (
        "104.47.34.97", "13.92.177.139", "smtp.tailspintoys.ca")
    assert send.reason is None
    assert defer.location.line == 2
    assert defer.reason.socket_error == 10061
    assert (defer.target_ip, defer.target_fqdn) == ("13.92.177.139", "smtp.tailspintoys.ca")
    assert defer.data["connector_id"] == "Outbound to 3c1f-onprem"
    assert "recipient_status" not in defer.data
    assert defer.time_utc == datetime(2017, 3, 16, 16, 59, 18, tzinfo=UTC)


def test_extended_one_event_per_recipient(tmp_path: Path) -> None:
    rows = [ext_row("2017-03-16T16:59:18Z", "DEFER", "a@t.example;b@t.example", REFERENCE_REASON)]
    parsed = extended_csv.parse(write_csv(tmp_path / "e.csv", EXTENDED_HEADER, rows))
    assert [e.recipient for e in parsed.records] == ["a@t.example", "b@t.example"]
    assert {e.location.line for e in parsed.records} == {2}


def test_extended_bad_rows(tmp_path: Path) -> None:
    rows = extended_rows() + [ext_row("16:59 yesterday", "DEFER"),
                              ext_row("2017-03-16T17:00:00Z", "SEND", message_id=""),
                              ["2017-03-16T17:00:00Z", "x"]]
    parsed = extended_csv.parse(write_csv(tmp_path / "e.csv", EXTENDED_HEADER, rows))
    assert len(parsed.records) == 3
    by_line = {p.location.line: p.message for p in parsed.problems}
    assert "date_time_utc" in by_line[5] and "message_id" in by_line[6]
    assert "2 fields" in by_line[7]


# -- kind detection and foreign files --------------------------------------------------------------

RECEIVE_LOG = ("#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n"
               "#Log-type: SMTP Receive Protocol Log\n#Date: 2023-01-11T16:00:04.113Z\n"
               "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
               "remote-endpoint,event,data,context\n")
MSGTRK = ("#Software: Microsoft Exchange Server\n#Version: 15.01.2507.006\n"
          "#Log-type: Message Tracking Log\n#Fields: date-time,client-ip,client-hostname,"
          "server-ip,server-hostname,source-context,connector-id,source,event-id,"
          "internal-message-id,message-id\n")
SUMMARY = '"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP",' \
          '"Size","MessageId","MessageTraceId"\n'


@pytest.mark.parametrize("head", [RECEIVE_LOG, MSGTRK, SUMMARY, "", "hello\n", "\x00\x01"])
def test_sniff_rejects_other_kinds(head: str) -> None:
    assert not detail_csv.sniff(head)
    assert not extended_csv.sniff(head)


def test_sniff_own_header_only() -> None:
    detail_head = ",".join(DETAIL_HEADER) + "\n"
    ext_head = ",".join(EXTENDED_HEADER) + "\n"
    assert detail_csv.sniff(detail_head) and not extended_csv.sniff(detail_head)
    assert extended_csv.sniff(ext_head) and not detail_csv.sniff(ext_head)


@pytest.mark.parametrize("reader", [detail_csv, extended_csv])
@pytest.mark.parametrize("content", [RECEIVE_LOG.encode(), b"", b"\x00\x01\x02binary\x00" * 50,
                                     SUMMARY.encode("utf-16")])
def test_foreign_file_gives_one_problem(tmp_path: Path, reader, content: bytes) -> None:
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    parsed = reader.parse(path)
    assert parsed.records == [] and len(parsed.problems) == 1
    assert parsed.problems[0].location.source == str(path)


def test_the_other_readers_file_is_foreign(tmp_path: Path) -> None:
    ext = write_csv(tmp_path / "e.csv", EXTENDED_HEADER, extended_rows())
    det = write_csv(tmp_path / "d.csv", DETAIL_HEADER, detail_rows())
    for reader, path in ((detail_csv, ext), (extended_csv, det)):
        parsed = reader.parse(path)
        assert parsed.records == [] and len(parsed.problems) == 1
        assert "header lacks" in parsed.problems[0].message


def test_missing_file_is_one_problem(tmp_path: Path) -> None:
    parsed = detail_csv.parse(tmp_path / "nope.csv")
    assert parsed.records == [] and len(parsed.problems) == 1


def test_kinds() -> None:
    assert detail_csv.KIND == "message-trace-detail"
    assert extended_csv.KIND == "message-trace-extended"


# -- fuzz ------------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


def _check(parsed: Parsed, lines: int) -> None:
    assert isinstance(parsed, Parsed)
    assert all(isinstance(e, TraceEvent) and e.time_utc.tzinfo is not None
               for e in parsed.records)
    for p in parsed.problems:
        assert p.location.line is None or 1 <= p.location.line <= max(lines, 1)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "fuzz.bin"
    path.write_bytes(blob)
    for reader in (detail_csv, extended_csv):
        _check(reader.parse(path), blob.count(b"\n") + blob.count(b"\r") + 1)


CELL = st.text(max_size=30) | st.sampled_from(
    ["3/16/2017 4:59:18 PM", "2017-03-16T16:59:18Z", "Defer", "DEFER", "FAIL", "<m@x>",
     REFERENCE_REASON, "<root><MEP Name='a' String='b'/></root>", "<root", '"', "\r\n", ";"])


@FUZZ
@given(rows=st.lists(st.lists(CELL, min_size=0, max_size=12), max_size=8),
       encoding=st.sampled_from(ENCODINGS), header=st.sampled_from(["detail", "extended"]))
def test_random_rows_never_raise(tmp_path: Path, rows, encoding: str, header: str) -> None:
    columns = DETAIL_HEADER if header == "detail" else EXTENDED_HEADER
    path = write_csv(tmp_path / "rows.csv", columns, rows, encoding)
    text = path.read_bytes().decode(encoding)
    lines = text.count("\n") + text.count("\r") + 1
    for reader in (detail_csv, extended_csv):
        _check(reader.parse(path), lines)


def test_undecodable_utf16_is_reported_at_its_line() -> None:
    from mailflow_doctor.evidence.textio import decode

    text = "\r\n".join(f"line {n}" for n in range(1, 8))
    raw = text.encode("utf-16-le")
    raw = raw[:56] + b"\x00\xdc" + raw[56:]  # a lone low surrogate on line 4 (16 bytes a line)
    decoded, [problem] = decode(raw, "x.json")
    assert problem.location.line == 4 and "invalid utf-16" in problem.message
    assert decoded.count("\n") == 6
