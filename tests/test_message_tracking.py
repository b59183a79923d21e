"""Exchange Server message tracking log reader (MSGTRK*) and its join with protocol logs.

Every fixture here is SYNTHETIC unless marked "verbatim": constructed by hand to follow
formats.md §2 exactly (header lines, field order of 2010 and 2013+, CSV quoting, UTF-8 with a
BOM, `;`-separated recipients and statuses, `<session-id>;<time>;<n>` source-context). Host and
domain names follow the design's reference case (tailspintoys.ca) and are made up. The one
verbatim line is the real RECEIVE line quoted in formats.md §2 (elastic/integrations sample).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_protocol_log import write as write_log

from mailflow_doctor.evidence.collect import collect
from mailflow_doctor.evidence.exchange import message_tracking as mt
from mailflow_doctor.evidence.exchange import protocol_log
from mailflow_doctor.evidence.exchange.tracking_join import join_sessions, session_id_of
from mailflow_doctor.evidence.textio import MAX_PROBLEMS, read_head
from mailflow_doctor.model import InputProblem, Location

FIELDS_2013 = ("#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,"
               "source-context,connector-id,source,event-id,internal-message-id,message-id,"
               "network-message-id,recipient-address,recipient-status,total-bytes,"
               "recipient-count,related-recipient-address,reference,message-subject,"
               "sender-address,return-path,message-info,directionality,tenant-id,"
               "original-client-ip,original-server-ip,custom-data,transport-traffic-type,"
               "log-id,schema-version")
FIELDS_2010 = ("#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,"
               "source-context,connector-id,source,event-id,internal-message-id,message-id,"
               "recipient-address,recipient-status,total-bytes,recipient-count,"
               "related-recipient-address,reference,message-subject,sender-address,return-path,"
               "message-info,directionality,tenant-id,original-client-ip,original-server-ip,"
               "custom-data")


def header(fields: str = FIELDS_2013, version: str = "15.02.1544.004",
           date: str = "2025-03-10T09:00:02.117Z") -> list[str]:
    return ["#Software: Microsoft Exchange Server", f"#Version: {version}",
            "#Log-type: Message Tracking Log", f"#Date: {date}", fields]


HEADER_2013 = header()
HEADER_2010 = header(FIELDS_2010, "14.03.0513.000")


def row(layout: tuple[str, ...] = mt.FIELDS_2013, **cells: str) -> str:
    """One CSV row in `layout` order, quoted only where needed (as Exchange writes it)."""
    unknown = {k.replace("_", "-") for k in cells} - set(layout)
    assert not unknown, unknown
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(
        cells.get(name.replace("-", "_"), "") for name in layout)
    return out.getvalue()


def write(tmp_path: Path, lines: list[str], name: str = "MSGTRK2025031009-1.LOG", *,
          bom: bool = True, end: str = "\r\n") -> Path:
    return write_log(tmp_path, lines, name, bom=bom, end=end)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- synthetic 2013+ log: an EOP delivery to MAIL01 and what became of it --------------------------

SESSION_1 = "08DD5F2A1B2C3D4E"
SESSION_2 = "08DD5F2A1B2C3D50"
SUBJECT = 'Quarterly report, "final" draft'
LED_DEFER = ("{[{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
             "{FQDN=mbx02.tailspintoys.ca};{IP=10.0.0.12};{LRT=3/10/2025 9:20:04 AM}]}")
LED_DEFER_2 = ("{[{LED=451 4.4.397 Error communicating with target host.};{MSG=};"
               "{FQDN=mbx03.tailspintoys.ca};{IP=10.0.0.13};{LRT=3/10/2025 9:20:05 AM}]}")
# formats.md §2, verbatim LED of an Exchange→EXO failure (the recipient-status value).
LED_5751 = ("{[{LED=550 5.7.51 TenantInboundAttribution; There is a partner connector configured "
            "that matched the message's recipient domain. The connector had either the "
            "RestrictDomainsToIPAddresses or RestrictDomainsToCertificate set "
            "[CH3PEPF00000016.namprd21.prod.outlook.com 2025-01-29T19:07:30.476Z "
            "08DD3FA5DBC8F401]};{MSG=};{FQDN=contoso-mail-onmicrosoft-com.mail.protection."
            "outlook.com};{IP=52.101.194.15};{LRT=1/29/2025 7:07:29 PM}]}")

EOP = dict(client_hostname="NAM12-BN8-obe.outbound.protection.outlook.com",
           server_ip="10.0.0.10", server_hostname="MAIL01",
           connector_id="MAIL01\\Default Frontend MAIL01", source="SMTP",
           directionality="Incoming", transport_traffic_type="Email",
           schema_version="15.02.1544.004")
MSG1 = dict(internal_message_id="12345678901234", message_id="<synthetic-1@fabrikam.example>",
            network_message_id="5d1f0c2a-0000-4000-8000-08dd5f2a1b2c",
            sender_address="sender@fabrikam.example", return_path="sender@fabrikam.example")
MSG2 = dict(internal_message_id="12345678901240", message_id="<synthetic-2@fabrikam.example>",
            network_message_id="5d1f0c2a-0000-4000-8000-08dd5f2a1b30",
            sender_address="other@fabrikam.example", return_path="other@fabrikam.example")

LOG_2013 = HEADER_2013 + [
    # 6: RECEIVE of message 1 in protocol-log session SESSION_1.
    row(date_time="2025-03-10T09:15:01.390Z", client_ip="104.47.58.43",
        source_context=f"{SESSION_1};2025-03-10T09:15:01.250Z;1", event_id="RECEIVE",
        recipient_address="alice@tailspintoys.ca", total_bytes="5120", recipient_count="1",
        message_subject="Hello Alice", log_id="0a1b2c3d-0000-4000-8000-000000000006",
        **EOP, **MSG1),
    # 7: message 1 delivered to the mailbox.
    row(date_time="2025-03-10T09:15:02.000Z", server_hostname="MAIL01", source="STOREDRIVER",
        event_id="DELIVER", recipient_address="alice@tailspintoys.ca",
        recipient_status="250 2.1.5 Recipient OK", total_bytes="5120", recipient_count="1",
        message_subject="Hello Alice", directionality="Incoming", **MSG1),
    # 8: RECEIVE of message 2 whose source-context lost its session id; two recipients.
    row(date_time="2025-03-10T09:20:00.300Z", client_ip="104.47.58.44", source_context="",
        event_id="RECEIVE", recipient_address="bob@tailspintoys.ca;carol@tailspintoys.ca",
        recipient_status="250 2.1.5 Recipient OK;250 2.1.5 Recipient OK", total_bytes="20480",
        recipient_count="2", message_subject=SUBJECT, **EOP, **MSG2),
    # 9: message 2 deferred for both recipients, each with its own LED string.
    row(date_time="2025-03-10T09:20:05.000Z", server_hostname="MAIL01", source="SMTP",
        event_id="DEFER", recipient_address="bob@tailspintoys.ca;carol@tailspintoys.ca",
        recipient_status=f"{LED_DEFER};{LED_DEFER_2}", total_bytes="20480",
        recipient_count="2", message_subject=SUBJECT, directionality="Incoming", **MSG2),
    # 10: message 2 expired for bob; the status itself holds a `;`.
    row(date_time="2025-03-12T09:20:00.600Z", server_hostname="MAIL01", source="SMTP",
        event_id="FAIL", recipient_address="bob@tailspintoys.ca",
        recipient_status="550 4.4.7 QUEUE.Expired;Message expired", total_bytes="20480",
        recipient_count="1", message_subject=SUBJECT, directionality="Incoming", **MSG2),
    # 11: RECEIVE naming a session that no protocol log holds (same client, same moment).
    row(date_time="2025-03-10T09:15:01.300Z", client_ip="104.47.58.43",
        source_context="08DD5F2A1B2C3DFF;2025-03-10T09:15:01.200Z;0", event_id="RECEIVE",
        internal_message_id="12345678901299", message_id="<synthetic-3@fabrikam.example>",
        recipient_address="dave@tailspintoys.ca", recipient_count="1", **EOP),
    # 12: a send to Exchange Online failed (Exchange → EXO after a certificate renewal).
    row(date_time="2025-03-10T09:30:00.000Z", client_ip="10.0.0.10", client_hostname="MAIL01",
        server_ip="52.101.194.15",
        server_hostname="contoso-mail-onmicrosoft-com.mail.protection.outlook.com",
        connector_id="Outbound to Office 365 - 6f9a1e6e-0000-4000-8000-3c1d2e3f4a5b",
        source="SMTP", event_id="FAIL", internal_message_id="12345678901300",
        message_id="<synthetic-4@tailspintoys.ca>", recipient_address="erin@contoso.com",
        recipient_status=LED_5751, total_bytes="4096", recipient_count="1",
        sender_address="frank@tailspintoys.ca", directionality="Originating"),
]

# The protocol log of MAIL01's Default Frontend connector for the same minutes (synthetic,
# formats.md §1.2–1.4): SESSION_1 received message 1, SESSION_2 message 2, a third session from
# the first EOP address came much later.
FE = "MAIL01\\Default Frontend MAIL01"
RECV_LOG = [
    "#Software: Microsoft Exchange Server",
    "#Version: 15.0.0.0",
    "#Log-type: SMTP Receive Protocol Log",
    "#Date: 2025-03-10T09:00:00.000Z",
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
    "event,data,context",
    f"2025-03-10T09:15:01.100Z,{FE},{SESSION_1},0,10.0.0.10:25,104.47.58.43:51234,+,,",
    f"2025-03-10T09:15:01.150Z,{FE},{SESSION_1},1,10.0.0.10:25,104.47.58.43:51234,<,"
    "EHLO NAM12-BN8-obe.outbound.protection.outlook.com,",
    f"2025-03-10T09:15:01.250Z,{FE},{SESSION_1},2,10.0.0.10:25,104.47.58.43:51234,*,"
    f"{SESSION_1};2025-03-10T09:15:01.250Z;1,receiving message",
    f"2025-03-10T09:15:01.400Z,{FE},{SESSION_1},3,10.0.0.10:25,104.47.58.43:51234,>,"
    '"250 2.6.0 <synthetic-1@fabrikam.example> [InternalId=12345678901234, '
    'Hostname=MAIL01.tailspintoys.ca] 5120 bytes in 0.100, 50,000 KB/sec Queued mail for '
    'delivery",',
    f"2025-03-10T09:15:01.500Z,{FE},{SESSION_1},4,10.0.0.10:25,104.47.58.43:51234,-,,"
    "Remote(ConnectionReset)",
    f"2025-03-10T09:20:00.000Z,{FE},{SESSION_2},0,10.0.0.10:25,104.47.58.44:40001,+,,",
    f"2025-03-10T09:20:00.500Z,{FE},{SESSION_2},1,10.0.0.10:25,104.47.58.44:40001,-,,Remote",
    f"2025-03-10T10:00:00.000Z,{FE},08DD5F2A1B2C3E00,0,10.0.0.10:25,104.47.58.43:52000,+,,",
    f"2025-03-10T10:00:00.200Z,{FE},08DD5F2A1B2C3E00,1,10.0.0.10:25,104.47.58.43:52000,-,,Remote",
]

# formats.md §2, verbatim: a real 2013+ RECEIVE line (subject "vzdump backup status ...").
REAL_RECEIVE = "2024-01-25T15:16:09.949Z,10.11.12.14,exchange-mail.my.domain.com,10.11.12.14,exchange-mail,08DC1DB12C345BE5;2024-01-25T15:16:09.544Z;0,exchange-mail\\Default exchange-mail,SMTP,RECEIVE,70912345566403,<20240123200014.123F425E28@host01.my.domain.com>,1e6eb197-c6b4-1234-1b69-56dc1db88f50,mailuser@my.domain.com,,7229,1,,,vzdump backup status (host01.my.domain.com): backup successful,root@host01.my.domain.com,root@host01.my.domain.com,0cA: ,Incoming,,10.11.12.13,10.11.12.14,S:ProxyHop1=exchange-mail.my.domain.com(10.11.12.14);S:MessageValue=MediumHigh;S:Replication=Failed;S:FirstForestHop=exchange-mail.my.domain.com;S:FromEntity=Internet;S:ProxiedClientIPAddress=10.11.12.13;S:ProxiedClientHostname=host01.my.domain.com;S:DeliveryPriority=Normal;S:AccountForest=my.domain.com,Email,05503123-c5b9-46fe-1234-56dc1db88f8f,15.02.0330.005"  # noqa: E501


def by_line(parsed) -> dict:
    return {e.location.line: e for e in parsed.records}


# -- reading the layouts ---------------------------------------------------------------------------


def test_2013_layout_reads_every_field_but_the_subject(tmp_path):
    path = write(tmp_path, LOG_2013)
    parsed = mt.parse(path)
    assert parsed.problems == []
    events = by_line(parsed)
    assert sorted(events) == [6, 7, 8, 9, 10, 11, 12]
    receive = events[6]
    assert receive.time_utc == t("2025-03-10T09:15:01.390")
    assert receive.location == Location(str(path), 6)
    assert (receive.client_ip, receive.client_hostname) == (
        "104.47.58.43", "NAM12-BN8-obe.outbound.protection.outlook.com")
    assert (receive.server_ip, receive.server_hostname) == ("10.0.0.10", "MAIL01")
    assert receive.source_context == f"{SESSION_1};2025-03-10T09:15:01.250Z;1"
    assert receive.connector_id == "MAIL01\\Default Frontend MAIL01"
    assert (receive.source, receive.event_id) == ("SMTP", "RECEIVE")
    assert receive.internal_message_id == "12345678901234"
    assert receive.message_id == "<synthetic-1@fabrikam.example>"
    assert receive.network_message_id == "5d1f0c2a-0000-4000-8000-08dd5f2a1b2c"
    assert receive.recipients == ("alice@tailspintoys.ca",)
    assert receive.recipient_status == ("",)
    assert receive.reasons == (None,)
    assert (receive.total_bytes, receive.recipient_count) == (5120, 1)
    assert receive.sender == "sender@fabrikam.example"
    assert receive.directionality == "Incoming"
    assert "Hello Alice" not in receive.excerpt
    assert receive.excerpt.startswith("2025-03-10T09:15:01.390Z,104.47.58.43,")
    # The subject is nowhere in any record, and the quoted one did not shift the columns.
    assert all(SUBJECT not in repr(e) and "Quarterly" not in repr(e) for e in parsed.records)
    assert events[8].total_bytes == 20480 and events[8].sender == "other@fabrikam.example"


def test_only_the_messages_asked_about_are_kept(tmp_path):
    path = write(tmp_path, LOG_2013 + ["not,a,row"])
    everything = by_line(mt.parse(path))
    asked = mt.parse(path, message_ids={"synthetic-2@fabrikam.example"})  # as message_key gives
    assert [e.location.line for e in asked.records] == sorted(
        n for n, e in everything.items() if e.message_id == "<synthetic-2@fabrikam.example>")
    assert asked.records and len(asked.records) < len(everything)
    assert [p.location.line for p in asked.problems] == [13]  # bad lines are still reported
    assert mt.parse(path, message_ids=set()).records == []


def test_recipients_and_statuses_stay_aligned(tmp_path):
    events = by_line(mt.parse(write(tmp_path, LOG_2013)))
    receive, defer, fail = events[8], events[9], events[10]
    assert receive.recipients == ("bob@tailspintoys.ca", "carol@tailspintoys.ca")
    assert receive.recipient_status == ("250 2.1.5 Recipient OK",) * 2
    assert [r.enhanced_code for r in receive.reasons] == ["2.1.5", "2.1.5"]
    assert defer.recipient_status == (LED_DEFER, LED_DEFER_2)
    assert [(r.smtp_code, r.enhanced_code, r.socket_error, r.fqdn, r.ip)
            for r in defer.reasons] == [
        (450, "4.4.316", 10061, "mbx02.tailspintoys.ca", "10.0.0.12"),
        (451, "4.4.397", None, "mbx03.tailspintoys.ca", "10.0.0.13")]
    assert defer.reasons[0].lrt == t("2025-03-10T09:20:04")
    # A status holding `;` is one status, not two.
    assert fail.recipient_status == ("550 4.4.7 QUEUE.Expired;Message expired",)
    assert fail.reasons[0].enhanced_code == "4.4.7"


def test_led_failure_toward_exchange_online_is_decoded(tmp_path):
    fail = by_line(mt.parse(write(tmp_path, LOG_2013)))[12]
    assert fail.recipient_status == (LED_5751,)
    reason = fail.reasons[0]
    assert (reason.smtp_code, reason.enhanced_code) == (550, "5.7.51")
    assert reason.ip == "52.101.194.15"
    assert reason.lrt == t("2025-01-29T19:07:29")


def test_status_text_without_a_reply_is_not_decoded(tmp_path):
    line = row(date_time="2025-03-10T09:00:00.000Z", source="SMTP", event_id="RECEIVE",
               internal_message_id="1", recipient_address="a@tailspintoys.ca",
               recipient_status="Ready 4.4.7 minutes ago")
    event = mt.parse(write(tmp_path, HEADER_2013 + [line])).records[0]
    assert event.recipient_status == ("Ready 4.4.7 minutes ago",)
    assert event.reasons == (None,)


def test_2010_layout(tmp_path):
    line = row(mt.FIELDS_2010, date_time="2019-01-25T00:04:01.002Z", client_ip="104.47.34.97",
               client_hostname="mail-bn3nam01on0097.outbound.protection.outlook.com",
               server_ip="10.0.0.6", server_hostname="TAIL-EXCH-1",
               source_context="08D675E58CA1DA38;2019-01-25T00:03:58.494Z;0",
               connector_id="TAIL-EXCH-1\\Internet Mail", source="SMTP", event_id="RECEIVE",
               internal_message_id="4711", message_id="<synthetic-2010@fabrikam.example>",
               recipient_address="alice@tailspintoys.ca", total_bytes="900",
               recipient_count="1", message_subject="old server",
               sender_address="x@fabrikam.example",
               directionality="Incoming")
    assert line.count(",") == 25
    path = write(tmp_path, HEADER_2010 + [line])
    parsed = mt.parse(path)
    assert parsed.problems == []
    [event] = parsed.records
    assert event.network_message_id is None
    assert event.message_id == "<synthetic-2010@fabrikam.example>"
    assert event.recipients == ("alice@tailspintoys.ca",)
    assert (event.total_bytes, event.recipient_count) == (900, 1)
    assert event.sender == "x@fabrikam.example"
    assert event.directionality == "Incoming"
    assert session_id_of(event) == "08D675E58CA1DA38"
    assert "old server" not in event.excerpt


def test_verbatim_receive_line_from_the_reference(tmp_path):
    [event] = mt.parse(write(tmp_path, HEADER_2013 + [REAL_RECEIVE])).records
    assert event.event_id == "RECEIVE" and event.source == "SMTP"
    assert event.recipients == ("mailuser@my.domain.com",)
    assert event.network_message_id == "1e6eb197-c6b4-1234-1b69-56dc1db88f50"
    assert event.sender == "root@host01.my.domain.com"
    assert session_id_of(event) == "08DC1DB12C345BE5"
    assert "vzdump" not in repr(event)


def test_rows_without_any_header_go_by_their_field_count(tmp_path):
    path = write(tmp_path, [REAL_RECEIVE, row(mt.FIELDS_2010, date_time="2019-01-25T00:04:01Z",
                                              event_id="SEND", internal_message_id="1")], bom=False)
    parsed = mt.parse(path)
    assert parsed.problems == []
    assert [e.event_id for e in parsed.records] == ["RECEIVE", "SEND"]


# -- sniffing: the tracking and the protocol-log reader never claim the same file ------------------


def test_sniff_tells_tracking_from_protocol_logs(tmp_path):
    tracking = write(tmp_path, LOG_2013)
    protocol = write(tmp_path, RECV_LOG, "RECV2025031009-1.LOG")
    assert mt.sniff(read_head(tracking)) and not protocol_log.sniff(read_head(tracking))
    assert protocol_log.sniff(read_head(protocol)) and not mt.sniff(read_head(protocol))
    assert mt.sniff("\n".join(HEADER_2010))
    assert mt.sniff(REAL_RECEIVE + "\n")  # a headerless fragment
    assert not mt.sniff("\n".join(RECV_LOG[5:]))  # headerless protocol-log rows
    assert not mt.sniff("#Software: Microsoft Internet Information Services 10.0\n"
                        "#Fields: date time s-ip cs-method\n")


# -- bad input -------------------------------------------------------------------------------------


def test_truncated_last_line_is_one_problem(tmp_path):
    path = tmp_path / "MSGTRK2025031009-1.LOG"
    text = "\r\n".join(LOG_2013[:8]) + "\r\n" + LOG_2013[8][:120]
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    parsed = mt.parse(path)
    assert sorted(by_line(parsed)) == [6, 7, 8]
    [problem] = parsed.problems
    assert problem.location == Location(str(path), 9)
    assert problem.message.startswith("incomplete last line (file cut off?): expected 30 fields")


def test_header_block_in_the_middle_switches_the_field_list(tmp_path):
    old = row(mt.FIELDS_2010, date_time="2025-03-10T08:59:00.000Z", event_id="RECEIVE",
              source="SMTP", internal_message_id="1", recipient_address="a@tailspintoys.ca")
    new = row(date_time="2025-03-10T09:01:00.000Z", event_id="DELIVER", source="STOREDRIVER",
              internal_message_id="2", network_message_id="nm-2",
              recipient_address="b@tailspintoys.ca")
    # The service was upgraded and restarted: a 2013+ header follows 2010 rows.
    lines = HEADER_2010 + [old] + header(date="2025-03-10T09:00:30.000Z") + [new, old]
    path = write(tmp_path, lines)
    parsed = mt.parse(path)
    assert [(e.location.line, e.event_id) for e in parsed.records] == [
        (6, "RECEIVE"), (12, "DELIVER")]
    assert parsed.records[1].network_message_id == "nm-2"
    assert [str(p) for p in parsed.problems] == [
        f"{path}:13: expected 30 fields, found 26; line skipped"]


def test_damaged_lines_each_give_one_problem_with_file_and_line(tmp_path):
    good = LOG_2013[5]
    path = tmp_path / "MSGTRK2025031009-1.LOG"
    lines = [line.encode() for line in HEADER_2013] + [
        good.encode(),                                        # 6
        (good + ",extra").encode(),                           # 7 too many fields
        good.rsplit(",", 3)[0].encode(),                      # 8 too few fields
        b"\x00\x01\x02\xff\xfe binary \x00 junk",              # 9 binary junk
        good.replace("Hello Alice", "Caf\xe9").encode("cp1252"),  # 10 wrong encoding, still read
        good.replace("2025-03-10T09:15:01.390Z", "yesterday").encode(),  # 11 not a time
        good.replace(",RECEIVE,", ",?!,").encode(),           # 12 not an event id
        b'2025-03-10T09:15:01.390Z,"unterminated',           # 13 broken quoting
        b"#Fields: foo,bar",                                  # 14 unusable field list
        b"#Log-type: SMTP Receive Protocol Log",              # 15 foreign log type
        good.encode(),                                        # 16
    ]
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(lines) + b"\r\n")
    parsed = mt.parse(path)
    assert sorted(by_line(parsed)) == [6, 10, 16]
    problems = {p.location.line: p.message for p in parsed.problems}
    assert all(p.location.source == str(path) for p in parsed.problems)
    assert sorted(problems) == [7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert problems[7] == "expected 30 fields, found 31; line skipped"
    assert problems[8] == "expected 30 fields, found 27; line skipped"
    assert "binary" in problems[9]
    assert "Windows-1252" in problems[10]
    assert "not a valid time" in problems[11]
    assert "not an event name" in problems[12]
    assert "malformed CSV" in problems[13]
    assert "#Fields lacks" in problems[14]
    assert "not a message tracking log" in problems[15]
    assert all("\n" not in str(p) for p in parsed.problems)


def test_utf16_file_with_bom_is_read(tmp_path):
    path = tmp_path / "MSGTRK2025031009-1.LOG"
    path.write_bytes("\r\n".join(LOG_2013).encode("utf-16"))
    parsed = mt.parse(path)
    assert parsed.problems == [] and len(parsed.records) == 7


def test_binary_file_never_raises_and_problems_are_capped(tmp_path):
    path = tmp_path / "MSGTRK2025031009-1.LOG"
    path.write_bytes(bytes(range(256)) * 2000)
    parsed = mt.parse(path)
    assert parsed.records == []
    assert 0 < len(parsed.problems) <= MAX_PROBLEMS + 1


def test_missing_file_is_a_problem_not_an_exception(tmp_path):
    parsed = mt.parse(tmp_path / "nope.log")
    assert parsed.records == [] and len(parsed.problems) == 1


# -- joining with the protocol log -----------------------------------------------------------------


def test_join_by_session_id_and_by_client_ip_and_time(tmp_path):
    sessions = protocol_log.parse(write(tmp_path, RECV_LOG, "RECV2025031009-1.LOG")).records
    events = mt.parse(write(tmp_path, LOG_2013)).records
    first, second, later = sorted(sessions, key=lambda s: s.start)
    assert (first.session_id, second.session_id) == (SESSION_1, SESSION_2)
    ev = {e.location.line: e for e in events}

    join = join_sessions(sessions, events)
    assert join.events[first] == [ev[6], ev[7]]  # RECEIVE, then the DELIVER of that message
    assert join.events[second] == [ev[8], ev[9], ev[10]]
    assert join.events[later] == []
    assert join.session_of[ev[7]] is first and join.session_of[ev[10]] is second
    assert join.guessed == {ev[8]}  # no session id: matched by client IP, server and time
    # A session id that no log holds is not matched, even though IP and time would fit.
    assert ev[11] not in join.session_of
    assert ev[12] not in join.session_of


def test_join_fallback_respects_time_and_server(tmp_path):
    sessions = protocol_log.parse(write(tmp_path, RECV_LOG, "RECV2025031009-1.LOG")).records
    base = dict(client_ip="104.47.58.44", source="SMTP", event_id="RECEIVE",
                recipient_address="a@tailspintoys.ca")
    lines = HEADER_2013 + [
        row(date_time="2025-03-10T09:20:04.000Z", server_hostname="mail01.tailspintoys.ca",
            internal_message_id="76", **base),  # 6: within SLACK of the session's end
        row(date_time="2025-03-10T09:20:30.000Z", server_hostname="MAIL01",
            internal_message_id="77", **base),  # 7: too late
        row(date_time="2025-03-10T09:20:00.100Z", server_hostname="MAIL02",
            internal_message_id="78", **base),  # 8: another server
        # 9: an SMTP RECEIVE never inherits a session from another receipt of the same message.
        row(date_time="2025-03-10T09:20:30.000Z", server_hostname="MAIL01",
            internal_message_id="76", **base),
    ]
    events = mt.parse(write(tmp_path, lines)).records
    join = join_sessions(sessions, events)
    assert [e.location.line for e in join.session_of] == [6]
    assert join.session_of[events[0]].session_id == SESSION_2


# -- through collect -------------------------------------------------------------------------------


def test_collect_sorts_tracking_and_protocol_logs_into_their_categories(tmp_path):
    folder = tmp_path / "logs"
    (folder / "MessageTracking").mkdir(parents=True)
    (folder / "SmtpReceive").mkdir()
    tracking = write(folder / "MessageTracking", LOG_2013)
    protocol = write(folder / "SmtpReceive", RECV_LOG, "RECV2025031009-1.LOG")
    evidence = collect([folder])
    assert sorted(evidence.inputs) == sorted([
        (str(tracking), mt.KIND), (str(protocol), protocol_log.KIND)])
    assert len(evidence.tracking) == 7
    assert {s.session_id for s in evidence.sessions} >= {SESSION_1, SESSION_2}
    assert evidence.problems == []
    assert evidence.usable


# -- fuzz ------------------------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                max_size=40)
_address = st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True)
_good = st.fixed_dictionaries({
    "date_time": st.datetimes(datetime(2010, 1, 1), datetime(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"),
    "client_ip": st.ip_addresses(v=4).map(str),
    "event_id": st.sampled_from(["RECEIVE", "SEND", "DELIVER", "DEFER", "FAIL", "SENDEXTERNAL"]),
    "source": st.sampled_from(["SMTP", "STOREDRIVER", "AGENT"]),
    "internal_message_id": st.integers(1, 10**14).map(str),
    "message_subject": _text,
    "source_context": _text,
    "custom_data": _text,
    "recipients": st.lists(_address, min_size=1, max_size=3),
})
_junk = st.one_of(
    st.binary(max_size=120),
    _text.map(lambda s: s.encode()),
    _good.map(lambda cells: (row(**{k: v for k, v in cells.items() if k != "recipients"})
                             + ",one too many").encode()),
).filter(lambda b: b"\n" not in b and not b.lstrip(b"\xef\xbb\xbf \t").startswith(b"#"))


def _good_line(cells: dict) -> str:
    recipients = cells["recipients"]
    other = {k: v for k, v in cells.items() if k != "recipients"}
    return row(recipient_address=";".join(recipients), **other)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_good.map(lambda c: ("good", c)), _junk.map(lambda b: ("junk", b))),
                max_size=30),
       st.booleans())
def test_fuzz_junk_never_hides_good_lines(tmp_path, items, bom):
    path = tmp_path / "MSGTRK-fuzz.LOG"
    body, good = [line.encode() for line in HEADER_2013], {}
    for kind, item in items:
        body.append(_good_line(item).encode() if kind == "good" else item)
        if kind == "good":
            good[len(body)] = item
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\r\n".join(body) + b"\r\n")

    parsed = mt.parse(path)  # never raises

    read = by_line(parsed)
    for number, cells in good.items():
        event = read[number]
        assert event.event_id == cells["event_id"]
        assert event.recipients == tuple(cells["recipients"])
        assert len(event.recipient_status) == len(event.recipients) == len(event.reasons)
    for problem in parsed.problems:
        assert isinstance(problem, InputProblem)
        assert problem.location.source == str(path)
        assert problem.location.line is not None and problem.location.line not in good
        assert "\n" not in problem.message


def test_timeline_search_finds_long_sessions_only_when_near(tmp_path):
    """A long session that began well before the event still counts if it spans it."""
    lines = RECV_LOG[:5] + [
        f"2025-03-10T09:00:00.000Z,{FE},08DD5F2A1B2C4000,0,10.0.0.10:25,104.47.58.50:1,+,,",
        f"2025-03-10T09:09:00.000Z,{FE},08DD5F2A1B2C4000,1,10.0.0.10:25,104.47.58.50:1,-,,Remote",
    ]
    sessions = protocol_log.parse(write(tmp_path, lines, "RECV2025031009-1.LOG")).records
    base = dict(client_ip="104.47.58.50", server_hostname="MAIL01", source="SMTP",
                event_id="RECEIVE", recipient_address="a@tailspintoys.ca")
    at = t("2025-03-10T09:05:00")
    events = mt.parse(write(tmp_path, HEADER_2013 + [
        row(date_time=(at + timedelta(minutes=m)).isoformat().replace("+00:00", "Z"),
            internal_message_id=str(m), **base) for m in (0, 4, 5)])).records
    join = join_sessions(sessions, events)
    assert [e.internal_message_id for e in join.session_of] == ["0", "4"]  # 5: a minute late
