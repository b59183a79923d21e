"""SMTP Receive/Send protocol-log reader.

Sample lines marked "verbatim" are copied from formats.md §1.5/§1.6 (real, sanitized logs);
lines marked "constructed" fill gaps those samples leave (they follow the same format).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence import textio
from mailflow_doctor.evidence.exchange import protocol_log
from mailflow_doctor.evidence.exchange._smtp_session import remote_ip
from mailflow_doctor.evidence.textio import MAX_PROBLEMS, read_head
from mailflow_doctor.model import InputProblem, Location
from mailflow_doctor.model.exchange import Certificate, SmtpSession

FIELDS = ("#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
          "remote-endpoint,event,data,context")


def header(log_type: str = "SMTP Receive Protocol Log", version: str = "15.0.0.0",
           date: str = "2023-01-11T16:00:04.113Z") -> list[str]:
    return ["#Software: Microsoft Exchange Server", f"#Version: {version}",
            f"#Log-type: {log_type}", f"#Date: {date}", FIELDS]


RECEIVE = header()
SEND = header("SMTP Send Protocol Log")

# §1.6 A, verbatim (Exchange 2019 receive session).
SAMPLE_A = [
    "2024-03-13T09:01:18.723Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,0,10.100.100.25:25,10.100.100.30:62136,+,,",  # noqa: E501
    '2024-03-13T09:01:18.723Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,1,10.100.100.25:25,10.100.100.30:62136,>,"220 Exchange.contoso.com Microsoft ESMTP MAIL Service ready at Wed, 13 Mar 2024 10:01:17 +0100",',  # noqa: E501
    "2024-03-13T09:01:18.723Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,2,10.100.100.25:25,10.100.100.30:62136,<,EHLO Backup-Veeam,",  # noqa: E501
    "2024-03-13T09:01:18.724Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,4,10.100.100.25:25,10.100.100.30:62136,<,MAIL FROM:<veeam@contoso.com>,",  # noqa: E501
    "2024-03-13T09:01:18.724Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,5,10.100.100.25:25,10.100.100.30:62136,*,08DC42C8FF236A1F;2024-03-13T09:01:18.723Z;1,receiving message",  # noqa: E501
    '2024-03-13T09:01:18.838Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,12,10.100.100.25:25,10.100.100.30:62136,>,"250 2.6.0 <e6c29c88-7479-4fee-9a7e-5ca909546317@Exchange.contoso.com> [InternalId=237172389052427, Hostname=Exchange.contoso.com] 11511 bytes in 0.102, 109,173 KB/sec Queued mail for delivery",',  # noqa: E501
    "2024-03-13T09:01:19.461Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,13,10.100.100.25:25,10.100.100.30:62136,-,,Remote(ConnectionReset)",  # noqa: E501
]
A_BANNER = ("220 Exchange.contoso.com Microsoft ESMTP MAIL Service ready at Wed, "
            "13 Mar 2024 10:01:17 +0100")
A_QUEUED = ("250 2.6.0 <e6c29c88-7479-4fee-9a7e-5ca909546317@Exchange.contoso.com> "
            "[InternalId=237172389052427, Hostname=Exchange.contoso.com] 11511 bytes in 0.102, "
            "109,173 KB/sec Queued mail for delivery")

# §1.6 B, verbatim, with its own header (Exchange 2010).
SAMPLE_B = [
    "#Software: Microsoft Exchange Server",
    "#Version: 14.0.0.0",
    "#Log-type: SMTP Receive Protocol Log",
    "#Date: 2019-01-25T00:03:58.478Z",
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context",  # noqa: E501
    "2019-01-25T00:03:58.478Z,TAIL-EXCH-1\\Internet Mail,08D675E58CA1DA38,0,10.0.0.6:25,185.234.217.220:61061,+,,",  # noqa: E501
    "2019-01-25T00:03:58.494Z,TAIL-EXCH-1\\Internet Mail,08D675E58CA1DA38,1,10.0.0.6:25,185.234.217.220:61061,*,SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender AcceptRoutingHeaders,Set Session Permissions",  # noqa: E501
]

# §1.6 C, verbatim (send log; note the third line carries a different session id).
SAMPLE_C = [
    "2024-01-25T15:14:39.460Z,Inbound Proxy Internal Send Connector,08DC1DB8591B22A0,0,,10.11.12.13:2525,*,None,Set Session Permissions",  # noqa: E501
    "2024-01-25T15:14:39.460Z,Inbound Proxy Internal Send Connector,08DC1DB8591B22A0,1,,10.11.12.13:2525,*,,attempting to connect",  # noqa: E501
    '2024-01-25T15:14:40.508Z,Inbound Proxy Internal Send Connector,08DC1DB8591B229F,2,,10.11.12.13:2525,*,,"Failed to connect. Winsock error code: 10061, Win32 error code: 10061, Destination domain: internalproxy, Error Message: No connection could be made because the target machine actively refused it 10.11.12.13:2525."',  # noqa: E501
]
C_FAILURE = ("Failed to connect. Winsock error code: 10061, Win32 error code: 10061, Destination "
             "domain: internalproxy, Error Message: No connection could be made because the "
             "target machine actively refused it 10.11.12.13:2525.")

# §1.5, verbatim: EOP connection whose EHLO reply offers X-ANONYMOUSTLS but not STARTTLS.
EOP_NO_STARTTLS = "2025-01-29T20:14:51.470Z,E19\\Default Frontend E19,08DD34FA3086278D,3,10.0.0.1:25,104.47.58.43:57811,>,250 E19.Contoso.lab Hello [104.47.58.43] SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8 XRDST,"  # noqa: E501
EOP_REPLY = EOP_NO_STARTTLS.split(",>,", 1)[1].rstrip(",")

# §1.5, verbatim: older certificate format, one line per attribute.
OLD_CERT = [
    "2017-04-14T17:00:41.125Z,SERVER1\\Default Frontend SERVER1,08D479E14521204D,20,172.20.102.10:25,155.39.36.248:30648,*,,Sending certificate",  # noqa: E501
    "2017-04-14T17:00:41.125Z,SERVER1\\Default Frontend SERVER1,08D479E14521204D,21,172.20.102.10:25,155.39.36.248:30648,*,CN=SERVER1,Certificate subject",  # noqa: E501
    "2017-04-14T17:00:41.125Z,SERVER1\\Default Frontend SERVER1,08D479E14521204D,22,172.20.102.10:25,155.39.36.248:30648,*,CN=SERVER1,Certificate issuer name",  # noqa: E501
    "2017-04-14T17:00:41.125Z,SERVER1\\Default Frontend SERVER1,08D479E14521204D,23,172.20.102.10:25,155.39.36.248:30648,*,1234567890ABCDEF1234567890ABCDEF,Certificate serial number",  # noqa: E501
    "2017-04-14T17:00:41.125Z,SERVER1\\Default Frontend SERVER1,08D479E14521204D,24,172.20.102.10:25,155.39.36.248:30648,*,9876534210FEDCBA9876534210FEDCBA123456789,Certificate thumbprint",  # noqa: E501
    "2017-04-14T17:00:41.125Z,SERVER1\\Default Frontend SERVER1,08D479E14521204D,25,172.20.102.10:25,155.39.36.248:30648,*,SERVER1;SERVER1.domain.com,Certificate alternate names",  # noqa: E501
]

# §1.5, verbatim: STARTTLS, newer single-line certificate format, TLS success.
NEW_CERT = [
    "2023-01-11T15:59:56.232Z,SERVER-HOSTNAME\\Default Frontend SERVER-HOSTNAME,123453EC62278461,4,10.10.10.10:25,95.10.20.33:56026,<,STARTTLS,",  # noqa: E501
    "2023-01-11T15:59:56.232Z,SERVER-HOSTNAME\\Default Frontend SERVER-HOSTNAME,123453EC62278461,5,10.10.10.10:25,95.10.20.33:56026,>,220 2.0.0 SMTP server ready,",  # noqa: E501
    "2023-01-11T15:59:56.232Z,SERVER-HOSTNAME\\Default Frontend SERVER-HOSTNAME,123453EC62278461,6,10.10.10.10:25,95.10.20.33:56026,*, CN=SERVER-HOSTNAME CN=SERVER-HOSTNAME 12DEABC6565646512346ABDC13456894 12DEABC6565646512346ABDC1345689413589876 2020-01-17T15:15:33.000Z 2025-01-17T15:15:33.000Z SERVER-HOSTNAME;SERVER-HOSTNAME.DOMAIN.TEST,Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after Subject alternate names",  # noqa: E501
    '2023-01-11T16:00:01.010Z,SERVER-HOSTNAME\\Default Frontend SERVER-HOSTNAME,123453EC62278461,7,10.10.10.10:25,95.10.20.33:56026,*,,"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption algorithm CALG_AES_128 with strength 128 bits, MAC hash algorithm CALG_SHA_256 with strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 256 bits"',  # noqa: E501
]


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write(tmp_path: Path, lines: list[str], name: str = "RECV2024031309-1.LOG", *,
          bom: bool = False, end: str = "\r\n") -> Path:
    path = tmp_path / name
    data = "".join(line + end for line in lines).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def only(parsed, session_id: str) -> SmtpSession:
    found = [s for s in parsed.records if s.session_id == session_id]
    assert len(found) == 1, found
    return found[0]


def expected_a(path: Path, first_line: int) -> SmtpSession:
    return SmtpSession(
        session_id="08DC42C8FF236A1F", server="EXCHANGE", connector="Default Frontend EXCHANGE",
        start=t("2024-03-13T09:01:18.723"), end=t("2024-03-13T09:01:19.461"),
        local_endpoint="10.100.100.25:25", remote_ip="10.100.100.30",
        location=Location(str(path), first_line), log_type="receive", ehlo="Backup-Veeam",
        starttls_offered=None, starttls_used=False, tls=None, certificate=None, messages=1,
        replies=(A_BANNER, A_QUEUED), disconnect="Remote(ConnectionReset)", line_count=7)


def expected_b(path: Path, first_line: int) -> SmtpSession:
    return SmtpSession(
        session_id="08D675E58CA1DA38", server="TAIL-EXCH-1", connector="Internet Mail",
        start=t("2019-01-25T00:03:58.478"), end=t("2019-01-25T00:03:58.494"),
        local_endpoint="10.0.0.6:25", remote_ip="185.234.217.220",
        location=Location(str(path), first_line), log_type="receive", line_count=2)


def expected_new_cert(path: Path, first_line: int) -> SmtpSession:
    return SmtpSession(
        session_id="123453EC62278461", server="SERVER-HOSTNAME",
        connector="Default Frontend SERVER-HOSTNAME",
        start=t("2023-01-11T15:59:56.232"), end=t("2023-01-11T16:00:01.010"),
        local_endpoint="10.10.10.10:25", remote_ip="95.10.20.33",
        location=Location(str(path), first_line), log_type="receive", ehlo=None,
        starttls_offered=None, starttls_used=True, tls="TLS1_2 CALG_AES_128",
        certificate=Certificate(
            subject="CN=SERVER-HOSTNAME", issuer="CN=SERVER-HOSTNAME",
            serial="12DEABC6565646512346ABDC13456894",
            thumbprint="12DEABC6565646512346ABDC1345689413589876",
            not_before=t("2020-01-17T15:15:33"), not_after=t("2025-01-17T15:15:33"),
            san=("SERVER-HOSTNAME", "SERVER-HOSTNAME.DOMAIN.TEST")),
        messages=0, replies=("220 2.0.0 SMTP server ready",), disconnect=None, line_count=4)


def without_location(session: SmtpSession) -> SmtpSession:
    return dataclasses.replace(session, location=Location("-"))


# -- the real samples ------------------------------------------------------------------------------


def test_sample_a_exchange_2019_receive_session(tmp_path):
    path = write(tmp_path, RECEIVE + SAMPLE_A)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [expected_a(path, 6)]
    assert parsed.records[0].start.tzinfo is not None


def test_sample_b_exchange_2010_receive_session(tmp_path):
    path = write(tmp_path, SAMPLE_B)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [expected_b(path, 6)]


def test_sample_c_send_log_connect_failure(tmp_path):
    path = write(tmp_path, SEND + SAMPLE_C, "SEND20240125-1.LOG")
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    common = dict(server=None, connector="Inbound Proxy Internal Send Connector",
                  local_endpoint="", remote_ip="10.11.12.13", log_type="send")
    assert parsed.records == [
        SmtpSession(session_id="08DC1DB8591B22A0", start=t("2024-01-25T15:14:39.460"),
                    end=t("2024-01-25T15:14:39.460"), location=Location(str(path), 6),
                    line_count=2, **common),
        SmtpSession(session_id="08DC1DB8591B229F", start=t("2024-01-25T15:14:40.508"),
                    end=t("2024-01-25T15:14:40.508"), location=Location(str(path), 8),
                    disconnect=f"connect-failed: {C_FAILURE}", line_count=1, **common),
    ]


def test_eop_ehlo_reply_without_starttls(tmp_path):
    path = write(tmp_path, RECEIVE + [EOP_NO_STARTTLS])
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [SmtpSession(
        session_id="08DD34FA3086278D", server="E19", connector="Default Frontend E19",
        start=t("2025-01-29T20:14:51.470"), end=t("2025-01-29T20:14:51.470"),
        local_endpoint="10.0.0.1:25", remote_ip="104.47.58.43",
        location=Location(str(path), 6), starttls_offered=False, replies=(EOP_REPLY,),
        line_count=1)]


def test_eop_ehlo_reply_after_logged_ehlo_command(tmp_path):
    # constructed lines around the verbatim one
    ehlo = ("2025-01-29T20:14:51.470Z,E19\\Default Frontend E19,08DD34FA3086278D,2,10.0.0.1:25,"
            "104.47.58.43:57811,<,EHLO NAM12-BN8-obe.outbound.protection.outlook.com,")
    quit_ = ("2025-01-29T20:14:51.490Z,E19\\Default Frontend E19,08DD34FA3086278D,4,10.0.0.1:25,"
             "104.47.58.43:57811,-,,Remote(ConnectionReset)")
    path = write(tmp_path, RECEIVE + [ehlo, EOP_NO_STARTTLS, quit_])
    session = protocol_log.parse(path).records[0]
    assert session.ehlo == "NAM12-BN8-obe.outbound.protection.outlook.com"
    assert session.starttls_offered is False
    assert session.disconnect == "Remote(ConnectionReset)"
    assert session.end == t("2025-01-29T20:14:51.490")


def test_old_format_certificate_lines(tmp_path):
    path = write(tmp_path, RECEIVE + OLD_CERT)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [SmtpSession(
        session_id="08D479E14521204D", server="SERVER1", connector="Default Frontend SERVER1",
        start=t("2017-04-14T17:00:41.125"), end=t("2017-04-14T17:00:41.125"),
        local_endpoint="172.20.102.10:25", remote_ip="155.39.36.248",
        location=Location(str(path), 6),
        certificate=Certificate(subject="CN=SERVER1", issuer="CN=SERVER1",
                                serial="1234567890ABCDEF1234567890ABCDEF",
                                thumbprint="9876534210FEDCBA9876534210FEDCBA123456789",
                                san=("SERVER1", "SERVER1.domain.com")),
        line_count=6)]


def test_new_format_certificate_starttls_and_tls_success(tmp_path):
    path = write(tmp_path, RECEIVE + NEW_CERT)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [expected_new_cert(path, 6)]


# -- constructed sessions for the paths the samples do not reach -----------------------------------


def rows(session: str, connector: str, events: list[tuple[str, str, str]], *,
         local: str = "10.0.0.5:25", remote: str = "104.47.34.97:41234",
         minute: int = 0) -> list[str]:
    """Constructed rows, one per (event, data, context), sequence numbers from 0."""
    out = []
    start = datetime(2024, 5, 2, 10, minute, tzinfo=UTC)
    for seq, (event, data, context) in enumerate(events):
        time = (start + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        quoted = [f'"{v}"' if "," in v else v for v in (data, context)]
        out.append(f"{time},{connector},{session},{seq},{local},{remote},{event},"
                   f"{quoted[0]},{quoted[1]}")
    return out


EHLO_OFFERS = ("250 Exchange.contoso.com Hello [10.100.100.30] SIZE 37748736 PIPELINING DSN "
               "ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM "
               "8BITMIME BINARYMIME CHUNKING XRDST")  # verbatim reply text, §1.5
FULL_RECEIVE = rows("08DC6A0000000001", "MBX1\\Default Frontend MBX1", [
    ("+", "", ""),
    (">", "220 mbx1.tailspintoys.ca Microsoft ESMTP MAIL Service ready", ""),
    ("<", "EHLO NAM12-BN8-obe.outbound.protection.outlook.com", ""),
    (">", EHLO_OFFERS, ""),
    ("<", "STARTTLS", ""),
    (">", "220 2.0.0 SMTP server ready", ""),
    ("*", "", "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption "
              "algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384"),
    ("<", "EHLO NAM12-BN8-obe.outbound.protection.outlook.com", ""),
    (">", "250 mbx1.tailspintoys.ca Hello [104.47.34.97] SIZE 37748736 PIPELINING AUTH NTLM", ""),
    ("<", "MAIL FROM:<a@contoso.com>", ""),
    (">", "250 2.1.0 Sender OK", ""),
    (">", "250 2.6.0 <x@contoso.com> [InternalId=1] 100 bytes in 0.1 Queued mail for delivery", ""),
    ("<", "QUIT", ""),
    (">", "221 2.0.0 Service closing transmission channel", ""),
    ("-", "", "Local"),
])


def test_full_receive_session_offers_and_uses_starttls(tmp_path):
    path = write(tmp_path, RECEIVE + FULL_RECEIVE)
    session = protocol_log.parse(path).records[0]
    assert session.ehlo == "NAM12-BN8-obe.outbound.protection.outlook.com"
    assert session.starttls_offered is True  # the post-TLS EHLO reply rightly lacks it
    assert session.starttls_used is True
    assert session.tls == "TLS1_2 CALG_AES_256"
    assert session.messages == 1
    assert session.disconnect == "Local"
    assert session.replies[0].startswith("220 mbx1") and session.replies[-1].startswith("221")
    assert len(session.replies) == 7
    assert session.remote_ip == "104.47.34.97"


# The receive side's TlsDomainCapabilities lines: the first as formats.md §1.4 quotes it, the
# second the shape expected for EOP (its exact success text is unverified: constructed).
NO_CAPABILITIES = "TlsDomainCapabilities='None'; Status='NoRemoteCertificate'"
CLOUD_CAPABILITIES = ("TlsDomainCapabilities='AcceptCloudServicesMail'; Status='Success'; "
                      "Domain='mail.protection.outlook.com'")
DOMAIN_CAPABILITIES = rows("08DC6A0000000009", "MBX1\\Default Frontend MBX1", [
    ("<", "EHLO NAM12-BN8-obe.outbound.protection.outlook.com", ""),
    (">", EHLO_OFFERS, ""),
    ("<", "STARTTLS", ""),
    (">", "220 2.0.0 SMTP server ready", ""),
    ("*", "", NO_CAPABILITIES),
    ("*", "", "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption "
              "algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384"),
    ("*", "", CLOUD_CAPABILITIES),
    ("-", "", "Local"),
]) + rows("08DC6A000000000A", "MBX1\\Default Frontend MBX1", [
    ("<", "EHLO mail.fabrikam.example", ""),
    ("*", "", NO_CAPABILITIES),
    ("-", "", "Remote(ConnectionReset)"),
], minute=5, remote="198.51.100.7:41000")


def test_tls_domain_capabilities_last_line_of_the_session(tmp_path):
    eop, other = protocol_log.parse(write(tmp_path, RECEIVE + DOMAIN_CAPABILITIES)).records
    assert eop.domain_capabilities == CLOUD_CAPABILITIES and eop.tls == "TLS1_2 CALG_AES_256"
    assert other.domain_capabilities == NO_CAPABILITIES
    assert other.disconnect == "Remote(ConnectionReset)"
    assert protocol_log.parse(write(tmp_path, RECEIVE + FULL_RECEIVE)).records[
        0].domain_capabilities is None


def test_tls_failure_and_helo(tmp_path):
    lines = rows("08DC6A0000000002", "MBX1\\Default Frontend MBX1", [
        ("<", "HELO legacy.example", ""),
        (">", "250 mbx1.tailspintoys.ca Hello [104.47.34.97]", ""),
        ("<", "STARTTLS", ""),
        (">", "220 2.0.0 SMTP server ready", ""),
        ("*", "", "TLS negotiation failed with error NoCredentials"),
        ("-", "", "Remote(SocketError)"),
    ])
    session = protocol_log.parse(write(tmp_path, RECEIVE + lines)).records[0]
    assert session.ehlo == "legacy.example"
    assert session.starttls_offered is None  # a HELO reply lists no extensions
    assert session.starttls_used is True
    assert session.tls == "failed: NoCredentials"
    assert session.disconnect == "Remote(SocketError)"


def test_send_log_directions_and_remote_certificate(tmp_path):
    lines = rows("08DC6B0000000001", "Outbound to Office 365", [
        ("*", "None", "Set Session Permissions"),
        ("*", "", "attempting to connect"),
        ("+", "", ""),
        ("<", "220 BN8NAM12FT001.mail.protection.outlook.com Microsoft ESMTP MAIL Service", ""),
        (">", "EHLO mbx1.tailspintoys.ca", ""),
        ("<", "250 BN8NAM12FT001.mail.protection.outlook.com Hello [13.92.177.139] SIZE 49283072 "
              "PIPELINING DSN ENHANCEDSTATUSCODES STARTTLS 8BITMIME CHUNKING SMTPUTF8", ""),
        (">", "STARTTLS", ""),
        ("<", "220 2.0.0 SMTP server ready", ""),
        ("*", "", "Sending certificate"),
        ("*", "CN=mail.tailspintoys.ca", "Certificate subject"),
        ("*", "CN=R3", "Certificate issuer name"),
        ("*", "", "Remote certificate"),
        ("*", "CN=mail.protection.outlook.com", "Certificate subject"),
        ("*", "", "sending message with RecordId 167503004549 and InternetMessageId <m@x>"),
        (">", "MAIL FROM:<> SIZE=18019", ""),
        ("<", "250 2.1.0 Sender OK", ""),
        ("<", "250 2.6.0 <m@x> [InternalId=1] Queued mail for delivery", ""),
        (">", "QUIT", ""),
        ("-", "", "Remote"),
    ], local="13.92.177.139:30123", remote="104.47.34.97:25")
    path = write(tmp_path, SEND + lines, "SEND20240502-1.LOG")
    session = protocol_log.parse(path).records[0]
    assert session.log_type == "send"
    assert session.server is None and session.connector == "Outbound to Office 365"
    assert session.ehlo == "mbx1.tailspintoys.ca"
    assert session.starttls_offered is True and session.starttls_used is True
    assert session.certificate == Certificate(subject="CN=mail.tailspintoys.ca", issuer="CN=R3")
    assert session.messages == 1  # the RecordId line; the remote's 2.6.0 is not counted twice
    assert session.replies[0].startswith("220 BN8") and len(session.replies) == 5
    assert session.disconnect == "Remote"
    assert session.remote_ip == "104.47.34.97" and session.local_endpoint == "13.92.177.139:30123"


def test_long_session_keeps_first_and_last_replies(tmp_path):
    events = [("<", "EHLO big.example", ""), (">", "250 x Hello [1.2.3.4] STARTTLS", "")]
    for i in range(200):
        events += [("<", f"RCPT TO:<u{i}@tailspintoys.ca>", ""),
                   (">", f"250 2.1.5 Recipient {i}", "")]
    events += [(">", "250 2.6.0 <m@x> Queued mail for delivery", ""), ("-", "", "Local")]
    lines = rows("08DC6C0000000001", "S\\C", events)
    session = protocol_log.parse(write(tmp_path, RECEIVE + lines)).records[0]
    assert len(session.replies) == 20
    assert session.replies[:2] == ("250 x Hello [1.2.3.4] STARTTLS", "250 2.1.5 Recipient 0")
    assert session.replies[-1] == "250 2.6.0 <m@x> Queued mail for delivery"
    assert session.replies[-2] == "250 2.1.5 Recipient 199"
    assert session.messages == 1 and session.starttls_offered is True
    assert session.line_count == len(events)


# -- file-level robustness -------------------------------------------------------------------------


def test_utf8_bom(tmp_path):
    path = write(tmp_path, SAMPLE_B, bom=True)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [expected_b(path, 6)]
    assert protocol_log.sniff(read_head(path))


def test_utf16_resaved_log(tmp_path):
    path = tmp_path / "resaved.log"
    path.write_bytes(("\r\n".join(SAMPLE_B) + "\r\n").encode("utf-16"))
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [expected_b(path, 6)]


def test_two_header_blocks_after_restart(tmp_path):
    path = write(tmp_path, RECEIVE + SAMPLE_A + header(date="2024-03-13T09:05:00.000Z") + NEW_CERT)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [expected_a(path, 6), expected_new_cert(path, 18)]


def test_logs_joined_with_cat_keep_their_second_header(tmp_path):
    """Exchange starts each log with a byte-order mark; `cat a b` puts b's mid-file."""
    joined = (b"\xef\xbb\xbf" + "\r\n".join(RECEIVE + SAMPLE_A).encode() + b"\r\n"
              + b"\xef\xbb\xbf" + "\r\n".join(RECEIVE + NEW_CERT).encode() + b"\r\n")
    path = tmp_path / "RECV2024031309-1.LOG"
    path.write_bytes(joined)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    separate = [protocol_log.parse(write(tmp_path, RECEIVE + part, f"{n}.LOG")).records
                for n, part in enumerate((SAMPLE_A, NEW_CERT))]
    assert [s.session_id for s in parsed.records] == [
        s.session_id for part in separate for s in part]


def test_header_blocks_switch_log_type(tmp_path):
    path = write(tmp_path, SEND + SAMPLE_C + RECEIVE + SAMPLE_A)
    parsed = protocol_log.parse(path)
    assert [s.log_type for s in parsed.records] == ["send", "send", "receive"]


def test_fields_header_maps_columns(tmp_path):
    order = [8, 7, 6, 5, 4, 3, 2, 1, 0]
    fields = "#Fields: " + ",".join(protocol_log.STANDARD_FIELDS[i] for i in order)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in csv.reader(SAMPLE_A):
        writer.writerow([row[i] for i in order])
    lines = RECEIVE[:4] + [fields] + out.getvalue().splitlines()
    path = write(tmp_path, lines)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [expected_a(path, 6)]


def test_interleaved_sessions_and_sequence_order(tmp_path):
    a, n = SAMPLE_A[:], NEW_CERT[:]
    n[0], n[1] = n[1], n[0]  # reply logged before STARTTLS in the file: sequence order decides
    mixed = [line for pair in zip(a, n + [""] * 3) for line in pair if line]
    path = write(tmp_path, RECEIVE + mixed)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert [without_location(s) for s in parsed.records] == [
        without_location(expected_a(path, 6)), without_location(expected_new_cert(path, 7))]
    assert [s.location.line for s in parsed.records] == [6, 7]


def test_repeated_sequence_numbers_keep_file_order(tmp_path):
    lines = rows("08DC6D0000000001", "S\\C", [
        ("<", "EHLO client.example", ""), (">", "250 s.example PIPELINING STARTTLS", "")])
    lines[1] = lines[1].replace(",1,", ",0,", 1)
    session = protocol_log.parse(write(tmp_path, RECEIVE + lines)).records[0]
    assert session.starttls_offered is True


def test_session_is_streamed_when_its_disconnect_row_arrives(tmp_path):
    path = write(tmp_path, SAMPLE_B + SAMPLE_A)
    items = list(protocol_log.iter_sessions(path))
    assert [i.session_id for i in items] == ["08DC42C8FF236A1F", "08D675E58CA1DA38"]
    assert [s.session_id for s in protocol_log.parse(path).records] == [
        "08D675E58CA1DA38", "08DC42C8FF236A1F"]


def test_idle_sessions_are_finished_without_disconnect(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol_log, "SWEEP_EVERY", 1)
    later = rows("08DC6E0000000001", "S\\C", [("+", "", ""), ("-", "", "Local")])
    items = list(protocol_log.iter_sessions(write(tmp_path, SAMPLE_B + later)))
    assert [i.session_id for i in items] == ["08D675E58CA1DA38", "08DC6E0000000001"]
    assert items[0].disconnect is None


@pytest.mark.parametrize("cut", [60, 200])
def test_truncated_last_line(tmp_path, cut):
    lines = SAMPLE_B + SAMPLE_A[:5] + [SAMPLE_A[5][:cut]]
    path = tmp_path / "RECV.LOG"
    path.write_bytes(("\r\n".join(lines)).encode())
    parsed = protocol_log.parse(path)
    assert len(parsed.problems) == 1
    problem = parsed.problems[0]
    assert problem.location == Location(str(path), 13)
    assert problem.message.startswith("incomplete last line")
    assert "\n" not in problem.message
    assert parsed.records[0] == expected_b(path, 6)
    a = parsed.records[1]
    assert a.session_id == "08DC42C8FF236A1F" and a.line_count == 5 and a.disconnect is None
    assert a.messages == 0 and a.replies == (A_BANNER,)


def test_wrong_field_counts(tmp_path):
    few = "2024-03-13T09:01:18.723Z,EXCHANGE\\Default Frontend EXCHANGE,08DC42C8FF236A1F,3,>"
    many = SAMPLE_A[3] + ",extra,fields"
    lines = RECEIVE + SAMPLE_A[:3] + [few, many] + SAMPLE_A[3:]
    path = write(tmp_path, lines)
    parsed = protocol_log.parse(path)
    assert [(p.location.line, p.message) for p in parsed.problems] == [
        (9, "expected 9 fields, found 5; line skipped"),
        (10, "expected 9 fields, found 11; line skipped")]
    assert parsed.records == [expected_a(path, 6)]


def test_bad_values_in_a_row(tmp_path):
    bad_time = SAMPLE_A[2].replace("2024-03-13T09:01:18.723Z", "yesterday", 1)
    bad_seq = SAMPLE_A[2].replace(",2,", ",two,", 1)
    no_id = SAMPLE_A[2].replace("08DC42C8FF236A1F", "", 1)
    bad_quote = SAMPLE_A[2] + '"x'
    path = write(tmp_path, RECEIVE + [bad_time, bad_seq, no_id, bad_quote] + SAMPLE_A)
    parsed = protocol_log.parse(path)
    assert [p.location.line for p in parsed.problems] == [6, 7, 8, 9]
    assert "not a valid ISO 8601 time" in parsed.problems[0].message
    assert "not a number" in parsed.problems[1].message
    assert "empty session-id" in parsed.problems[2].message
    assert "malformed CSV" in parsed.problems[3].message
    assert parsed.records == [expected_a(path, 10)]


def test_extreme_times_and_unicode_digits(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol_log, "SWEEP_EVERY", 1)
    year_one = SAMPLE_A[0].replace("2024-03-13T09:01:18.723Z", "0001-01-01T00:00:00+01:00", 1)
    superscript = SAMPLE_A[0].replace(",0,", ",\u00b2,", 1)
    cert = SAMPLE_A[0].replace(",+,,", ",*,CN=a CN=b 0001-01-01T00:00:00+01:00 x;y,"
                                        "Sending certificate Subject Issuer name", 1)
    path = write(tmp_path, RECEIVE + [year_one, superscript, cert])
    parsed = protocol_log.parse(path)
    assert [p.location.line for p in parsed.problems] == [6, 7]
    assert parsed.records[0].certificate == Certificate(subject="CN=a", issuer="CN=b",
                                                         san=("x", "y"))


def test_binary_junk_line(tmp_path):
    path = tmp_path / "RECV.LOG"
    good = [line.encode() for line in RECEIVE + SAMPLE_A]
    junk = [b"\x00\x01\x02\xff\xfe\x00junk", b"\x8f\x90\xc3\x28\x1b[0m garbage"]
    path.write_bytes(b"\r\n".join(good[:8] + junk + good[8:]) + b"\r\n")
    parsed = protocol_log.parse(path)
    assert [p.location.line for p in parsed.problems] == [9, 10, 10]
    assert "binary data" in parsed.problems[0].message
    assert "Windows-1252" in parsed.problems[1].message
    assert "expected 9 fields" in parsed.problems[2].message
    assert parsed.records == [expected_a(path, 6)]


def test_cp1252_byte_in_data(tmp_path):
    path = tmp_path / "RECV.LOG"
    lines = [line.encode() for line in RECEIVE + SAMPLE_A]
    lines[7] = lines[7].replace(b"Backup-Veeam", b"B\xfcro-Veeam")
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    parsed = protocol_log.parse(path)
    assert parsed.problems == [InputProblem(
        Location(str(path), 8), "not valid UTF-8; read as Windows-1252 (first such line)")]
    assert parsed.records == [dataclasses.replace(expected_a(path, 6), ehlo="Büro-Veeam")]


def test_overlong_line(tmp_path):
    huge = "x" * (textio.MAX_LINE * 3)
    path = write(tmp_path, RECEIVE + SAMPLE_A[:2] + [huge] + SAMPLE_A[2:])
    parsed = protocol_log.parse(path)
    assert [(p.location.line, p.message) for p in parsed.problems] == [
        (8, "line longer than 64 KiB; skipped")]
    assert parsed.records == [expected_a(path, 6)]


def test_problems_are_capped(tmp_path):
    path = write(tmp_path, RECEIVE + ["junk"] * 300 + SAMPLE_A)
    parsed = protocol_log.parse(path)
    assert len(parsed.problems) == MAX_PROBLEMS + 1
    assert parsed.problems[-1] == InputProblem(Location(str(path)),
                                               "200 more unusable lines not listed")
    assert parsed.records == [expected_a(path, 306)]


def test_foreign_log_type_and_missing_file(tmp_path):
    path = write(tmp_path, header("Message Tracking Log"))
    assert "not an SMTP protocol log" in protocol_log.parse(path).problems[0].message
    missing = protocol_log.parse(tmp_path / "nope.log")
    assert missing.records == [] and "cannot read file" in missing.problems[0].message


def test_headerless_log_guesses_log_type(tmp_path):
    receive = protocol_log.parse(write(tmp_path, SAMPLE_A, "a.log"))
    assert receive.records == [expected_a(tmp_path / "a.log", 1)]
    send = protocol_log.parse(write(tmp_path, SAMPLE_C, "c.log"))
    assert [(s.log_type, s.server) for s in send.records] == [("send", None), ("send", None)]


@pytest.mark.parametrize("endpoint, ip", [
    ("104.47.34.97:25", "104.47.34.97"),
    ("[2a01:111:f400:7eab::205]:25", "2a01:111:f400:7eab::205"),
    ("2a01:111:f403:c100::5:52000", "2a01:111:f403:c100::5"),
    ("fe80::1c2d:3e4f:5a6b:7c8d%3:25", "fe80::1c2d:3e4f:5a6b:7c8d"),
    ("[fe80::1%11]:587", "fe80::1"),
    ("[::ffff:40.107.2.10]:41000", "40.107.2.10"),
    ("::FFFF:40.107.2.10:41000", "40.107.2.10"),
    ("::ffff:1:2", "::ffff:1"),
    ("10.0.0.1", "10.0.0.1"),
    ("", ""),
])
def test_remote_ip(endpoint, ip):
    assert remote_ip(endpoint) == ip


def test_ipv6_remote_endpoint_in_log(tmp_path):
    lines = [line.replace("10.100.100.30:62136", "[2a01:111:f400:7eab::205]:49152")
             .replace("10.100.100.25:25", "[2001:db8::25]:25") for line in SAMPLE_A]
    path = write(tmp_path, RECEIVE + lines)
    parsed = protocol_log.parse(path)
    assert parsed.problems == []
    assert parsed.records == [dataclasses.replace(
        expected_a(path, 6), remote_ip="2a01:111:f400:7eab::205",
        local_endpoint="[2001:db8::25]:25")]


# -- sniffing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("head, expected", [
    ("\n".join(RECEIVE), True),
    ("\n".join(SEND), True),
    ("\ufeff" + "\n".join(SAMPLE_B), True),
    ("#Software: Microsoft Exchange Server\n#LOG-TYPE: smtp receive protocol log\n", True),
    ("\n".join(SAMPLE_A), True),
    ("\n\n" + "\n".join(SAMPLE_C), True),
    (FIELDS + "\n" + SAMPLE_A[0], True),
    ("#Software: Microsoft Exchange Server\n#Version: 15.02.1118.007\n"
     "#Log-type: Message Tracking Log\n#Date: 2024-03-13T09:00:00.000Z\n"
     "#Fields: date-time,client-ip,client-hostname,server-ip\n", False),
    ("#Log-Type: Transport Connectivity Log\n", False),
    ('"Received","SenderAddress","RecipientAddress","Subject","Status"\n'
     '"3/16/2017 4:59:18 PM","a@contoso.com","b@tailspintoys.ca","hi","Pending"\n', False),
    ("2024-03-13T09:01:18.723Z,10.0.0.1,host,10.0.0.2,srv,,SMTP,RECEIVE,,<id>,a@b,,\n", False),
    ("Lorem ipsum dolor sit amet\n", False),
    ("", False),
])
def test_sniff(head, expected):
    assert protocol_log.sniff(head) is expected


# -- fuzzing ---------------------------------------------------------------------------------------

VALID = RECEIVE + SAMPLE_A + OLD_CERT + NEW_CERT + [EOP_NO_STARTTLS]
junk_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                    max_size=120).filter(lambda s: not s.startswith("#"))
junk_bytes = st.binary(max_size=120).filter(lambda b: b"\n" not in b and not b.startswith(b"#"))


FUZZ = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings(max_examples=150, **FUZZ)
@given(st.lists(st.tuples(st.integers(0, len(VALID)), st.one_of(junk_text.map(str.encode),
                                                                junk_bytes)), max_size=12),
       st.binary(max_size=60))
def test_fuzz_inserted_lines_keep_valid_sessions(tmp_path, inserts, tail):
    """`#` lines are left out: a header line legitimately changes how later rows are read."""
    lines = [line.encode() for line in VALID]
    for position, junk in sorted(inserts, key=lambda i: -i[0]):
        lines.insert(max(position, 5), junk)
    path = tmp_path / "fuzz.log"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n" + tail.replace(b"\n", b" "))
    baseline = protocol_log.parse(write(tmp_path, VALID, "base.log"))
    parsed = protocol_log.parse(path)
    found = {s.session_id: without_location(s) for s in parsed.records}
    for session in baseline.records:
        assert found.get(session.session_id) == without_location(session)
    assert all(isinstance(p, InputProblem) and "\n" not in p.message for p in parsed.problems)


@settings(max_examples=200, **FUZZ)
@given(st.binary(max_size=4096))
def test_fuzz_arbitrary_bytes_never_raise(tmp_path, data):
    path = tmp_path / "random.bin"
    path.write_bytes(data)
    parsed = protocol_log.parse(path)
    assert len(parsed.problems) <= MAX_PROBLEMS + 1
    protocol_log.sniff(read_head(path))


interesting = st.sampled_from([
    "", " ", "EHLO x", "HELO", "STARTTLS", "220 ready", "250 a Hello [1.2.3.4] STARTTLS",
    "250 2.6.0 <m> Queued mail for delivery", "Sending certificate", "Certificate subject",
    "Remote certificate", "Not after", "Sending certificate Subject Issuer name",
    "TLS negotiation failed with error X", "Failed to connect. x", "-", "*", "<", ">", "+",
    "sending message with RecordId 1", "CN=a CN=b " + "A" * 40 + " 2020-01-01T00:00:00Z ;",
    "[::1]:25", "fe80::1%3:25", "1.2.3.4:25", "9999-12-31T23:59:59Z",
])
field = st.one_of(interesting, st.text(max_size=30))
times = st.datetimes(datetime(2024, 1, 1), datetime(2024, 1, 2), timezones=st.just(UTC))
structured_row = st.tuples(
    st.one_of(times.map(lambda d: d.isoformat()), field),
    st.sampled_from(["S\\C", "Send C", ""]), st.sampled_from(["08DC000000000001", "X", ""]),
    st.one_of(st.integers(-2, 70).map(str), field), field, field,
    st.one_of(st.sampled_from(["+", "-", "<", ">", "*"]), field), field, field)


@settings(max_examples=200, **FUZZ)
@given(st.lists(structured_row, max_size=150), st.sampled_from([SEND, RECEIVE, []]))
def test_fuzz_structured_rows_never_raise(tmp_path, table, head):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(table)
    path = tmp_path / "rows.log"
    path.write_text("\n".join(head) + "\n" + out.getvalue(), encoding="utf-8")
    parsed = protocol_log.parse(path)
    assert all(len(s.replies) <= 20 and s.line_count >= 1 for s in parsed.records)
    assert all(s.start.tzinfo is not None and s.start <= s.end for s in parsed.records)
