"""Defer/Fail reason decoding, against the real strings collected in formats.md §3.5 and §3.6."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailflow_doctor.evidence.trace.reason import _decode, decode_reason
from mailflow_doctor.model.trace import DeferReason

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Verbatim strings from formats.md, with every field the decoder must produce. Fields left out
# must keep their defaults: the whole DeferReason is compared.
EXAMPLES: dict[str, tuple[str, dict]] = {
    "1-reference-case": (
        "[{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
        "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=3/16/2017 4:59:18 PM}]. "
        "OutboundProxyTargetIP: 13.92.177.139. OutboundProxyTargetHostName: smtp.tailspintoys.ca",
        dict(smtp_code=450, enhanced_code="4.4.316", text="Connection refused",
             msg="Socket error code 10061", fqdn="smtp.tailspintoys.ca", ip="13.92.177.139",
             lrt=utc(2017, 3, 16, 16, 59, 18), proxy_target_ip="13.92.177.139",
             proxy_target_host="smtp.tailspintoys.ca", socket_error=10061),
    ),
    "2-4.7.320-short": (
        "Reason: [{LED=450 4.7.320 Certificate validation failed};{MSG=SubjectMismatch};"
        "{FQDN=hybrid.domain.com};{IP=###.###.###.###};{LRT=4/14/2017 1:07:17 PM}]. "
        "OutboundProxyTargetIP: ###.###.###.###. OutboundProxyTargetHostName: hybrid.domain.com",
        dict(smtp_code=450, enhanced_code="4.7.320", text="Certificate validation failed",
             msg="SubjectMismatch", fqdn="hybrid.domain.com", ip="###.###.###.###",
             lrt=utc(2017, 4, 14, 13, 7, 17), proxy_target_ip="###.###.###.###",
             proxy_target_host="hybrid.domain.com"),
    ),
    "3-4.7.320-metadata": (
        "Reason: [{LED=450 4.7.320 Certificate validation failed [Message=SubjectMismatch] "
        "[LastAttemptedServerName=mail.contoso.com] [LastAttemptedIP=172.16.254.1:25] "
        "[XXXEUR01FTXXX.eop-EUR01.prod.protection.outlook.com]};{MSG=SubjectMismatch};"
        "{FQDN=mail.contoso.com};{IP=172.16.254.1};{LRT=11/1/2017 12:12:45 PM}]. "
        "OutboundProxyTargetIP: 172.16.254.1. OutboundProxyTargetHostName: mail.contoso.com",
        dict(smtp_code=450, enhanced_code="4.7.320", text="Certificate validation failed",
             inner_message="SubjectMismatch", msg="SubjectMismatch", fqdn="mail.contoso.com",
             ip="172.16.254.1", lrt=utc(2017, 11, 1, 12, 12, 45),
             last_attempted_server="mail.contoso.com", last_attempted_ip="172.16.254.1:25",
             eop_server="XXXEUR01FTXXX.eop-EUR01.prod.protection.outlook.com",
             proxy_target_ip="172.16.254.1", proxy_target_host="mail.contoso.com"),
    ),
    "4-4.4.317-subjectmismatch-truncated": (
        "Reason: [{LED=450 4.4.317 Cannot connect to remote server [Message=SubjectMismatch "
        "Expected Subject: *.contoso.com. Presented Subject: CN=ExchangeServer01. Thumbprint: "
        "D0AC2FC63B9C5798828B45D849BE8D33.] [LastAttemptedServerName=mail.contoso.com] "
        "[LastAttemptedIP=72.x.x.x.:25] [SmtpSecurity=-1;-1] [BN7. OutboundProxyTargetIP: "
        "72.x.x.x. OutboundProxyTargetHostName: mail.contoso.com",
        dict(smtp_code=450, enhanced_code="4.4.317", text="Cannot connect to remote server",
             inner_message="SubjectMismatch Expected Subject: *.contoso.com. Presented Subject: "
                           "CN=ExchangeServer01. Thumbprint: D0AC2FC63B9C5798828B45D849BE8D33.",
             last_attempted_server="mail.contoso.com", last_attempted_ip="72.x.x.x.:25",
             smtp_security="-1;-1", proxy_target_ip="72.x.x.x",
             proxy_target_host="mail.contoso.com", truncated=True),
    ),
    "5-starttls-required": (
        "LED=450 4.4.317 Cannot connect to remote server "
        "[Message=451 5.7.3 STARTTLS is required to send mail]",
        dict(smtp_code=450, enhanced_code="4.4.317", text="Cannot connect to remote server",
             inner_message="451 5.7.3 STARTTLS is required to send mail", truncated=True),
    ),
    "5-starttls-required-variant": (
        "Cannot establish session with remote server "
        "[Message=451 5.7.3 STARTTLS is required to send mail]",
        dict(text="Cannot establish session with remote server",
             inner_message="451 5.7.3 STARTTLS is required to send mail"),
    ),
    "6-tls-socketerror-truncated": (
        "Reason: [{LED=450 4.4.317 Cannot connect to remote server [Message=451 4.4.0 TLS "
        "negotiation failed with error SocketError] [LastAttemptedServerName=xxx] "
        "[LastAttemptedIP=xxx] [SmtpSecurity=-2;-2] [DM6NAM12FT012.eop-nam12.prod.protection."
        "outlook.com 2023-03-07T18:46:06.378Z 08DB1DF24DB12D84]};{MSG=4. OutboundProxyTargetIP: "
        "xxx. OutboundProxyTargetHostName: xxx",
        dict(smtp_code=450, enhanced_code="4.4.317", text="Cannot connect to remote server",
             inner_message="451 4.4.0 TLS negotiation failed with error SocketError", msg="4",
             last_attempted_server="xxx", last_attempted_ip="xxx", smtp_security="-2;-2",
             eop_server="DM6NAM12FT012.eop-nam12.prod.protection.outlook.com",
             eop_time=utc(2023, 3, 7, 18, 46, 6, 378000), eop_session="08DB1DF24DB12D84",
             proxy_target_ip="xxx", proxy_target_host="xxx", truncated=True),
    ),
    "7-certificate-expired": (
        "450 4.4.317 Cannot connect to remote server [Message=CertificateExpired Expected "
        "Subject: email.domain.com. Presented Subject: CN=email.domain.com. Thumbprint: "
        "94E711DD84BC285CD2911DAC3D0C9E3ABB29671E.] [LastAttemptedServerName=email.domain.com] "
        "[LastAttemptedIP=x.147.128.25:25] [SmtpSecurity=-1;-1] [DM6NAM11FT035.eop-nam11.prod."
        "protection.outlook.com 2025-01-04T16:37:07.429Z 08DD2CB85E2FE9DB]",
        dict(smtp_code=450, enhanced_code="4.4.317", text="Cannot connect to remote server",
             inner_message="CertificateExpired Expected Subject: email.domain.com. Presented "
                           "Subject: CN=email.domain.com. Thumbprint: "
                           "94E711DD84BC285CD2911DAC3D0C9E3ABB29671E.",
             last_attempted_server="email.domain.com", last_attempted_ip="x.147.128.25:25",
             smtp_security="-1;-1",
             eop_server="DM6NAM11FT035.eop-nam11.prod.protection.outlook.com",
             eop_time=utc(2025, 1, 4, 16, 37, 7, 429000), eop_session="08DD2CB85E2FE9DB"),
    ),
    "7-connection-aborted": (
        "450 4.4.317 Cannot connect to remote server [Message=451 4.4.0 TLS negotiation failed "
        "with error ConnectionAborted] [LastAttemptedServerName=email.domain.com] "
        "[LastAttemptedIP=x.147.128.25:25] [SmtpSecurity=-2;-2] [CO1NAM11FT009.eop-nam11.prod."
        "protection.outlook.com 2025-01-08T20:32:00.975Z 08DD2F9B58D61006]",
        dict(smtp_code=450, enhanced_code="4.4.317", text="Cannot connect to remote server",
             inner_message="451 4.4.0 TLS negotiation failed with error ConnectionAborted",
             last_attempted_server="email.domain.com", last_attempted_ip="x.147.128.25:25",
             smtp_security="-2;-2",
             eop_server="CO1NAM11FT009.eop-nam11.prod.protection.outlook.com",
             eop_time=utc(2025, 1, 8, 20, 32, 0, 975000), eop_session="08DD2F9B58D61006"),
    ),
    "8-illegal-message": (
        "Reason: [{LED=450 4.4.317 Cannot connect to remote server [Message=451 4.4.0 Security "
        "status IllegalMessage].",
        dict(smtp_code=450, enhanced_code="4.4.317", text="Cannot connect to remote server",
             inner_message="451 4.4.0 Security status IllegalMessage", truncated=True),
    ),
    "9-old-variant": (
        "'[{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
        "{Last attempted server name=Hybrid.ourdomain.com}",
        dict(smtp_code=450, enhanced_code="4.4.316", text="Connection refused",
             msg="Socket error code 10061", last_attempted_server="Hybrid.ourdomain.com",
             socket_error=10061, truncated=True),
    ),
    "10-braces-in-led": (
        "Defer:Reason: [{LED=451-4.7.23 Message deferred - unable to verify SPF policy for 451 "
        "4.7.23 chromaderm.com.au. IB305 i{2b0c499b-c839-43d2-9c76-dda19649fe67}};{MSG=};"
        "{FQDN=extmail.bigpond.com};{IP=203.42.22.10};{LRT=1/21/2025 3:45:12 AM}]. "
        "OutboundProxyTargetIP: 203.42.22.10. OutboundProxyTargetHostName: extmail.bigpond.com",
        dict(smtp_code=451, enhanced_code="4.7.23",
             text="Message deferred - unable to verify SPF policy for 451 4.7.23 "
                  "chromaderm.com.au. IB305 i{2b0c499b-c839-43d2-9c76-dda19649fe67}",
             fqdn="extmail.bigpond.com", ip="203.42.22.10", lrt=utc(2025, 1, 21, 3, 45, 12),
             proxy_target_ip="203.42.22.10", proxy_target_host="extmail.bigpond.com"),
    ),
    "11-rmilne-cut": (
        "Reason: [{LED=450 4.4.316 Connection r",
        dict(smtp_code=450, enhanced_code="4.4.316", text="Connection r", truncated=True),
    ),
    "3.6-ndr-expired": (
        "3/1/2018 11:03:23 AM - Server at HE1PR01MB1545.eurprd01.prod.exchangelabs.com returned "
        "'550 5.4.316 Message expired, connection refused(Socket error code 10061)'",
        dict(smtp_code=550, enhanced_code="5.4.316", text="Message expired, connection refused",
             socket_error=10061),
    ),
    "3.6-ndr-refused": (
        "12/25/2017 1:44:34 PM - Server at 4ceps.net (37.233.123.20) returned '450 4.4.316 "
        "Connection refused [Message=Socket error code 10061] [LastAttemptedServerName=4ceps.net]"
        " [LastAttemptedIP=37.233.123.20:25] [BN3NAM01FT008.eop-nam01.prod.protection.outlook."
        "com](Socket error code 10061)'",
        dict(smtp_code=450, enhanced_code="4.4.316", text="Connection refused",
             inner_message="Socket error code 10061", last_attempted_server="4ceps.net",
             last_attempted_ip="37.233.123.20:25",
             eop_server="BN3NAM01FT008.eop-nam01.prod.protection.outlook.com",
             socket_error=10061),
    ),
    "3.6-queue-expired": (
        "#550 4.4.7 QUEUE.Expired; message expired ##",
        dict(smtp_code=550, enhanced_code="4.4.7", text="QUEUE.Expired; message expired"),
    ),
    "3.6-proxy-frontend": (
        "450 4.7.0 Proxy session setup failed on Frontend with '451 4.4.0 Primary target IP "
        "address responded with ...'",
        dict(smtp_code=450, enhanced_code="4.7.0",
             text="Proxy session setup failed on Frontend with '451 4.4.0 Primary target IP "
                  "address responded with ...'"),
    ),
    "3.6-onprem-timeout": (
        "421 4.4.1 Connection timed out.\" Attempted failover to alternate host, but that did "
        "not succeed. Either there are no alternate hosts, or delivery failed to all alternate "
        "hosts.",
        dict(smtp_code=421, enhanced_code="4.4.1",
             text="Connection timed out.\" Attempted failover to alternate host, but that did "
                  "not succeed. Either there are no alternate hosts, or delivery failed to all "
                  "alternate hosts."),
    ),
    "4-winsock-on-prem": (
        "441 4.4.1 Error encountered while communicating with primary target IP address: "
        "\"Failed to connect. Winsock error code: 10060\"",
        dict(smtp_code=441, enhanced_code="4.4.1",
             text="Error encountered while communicating with primary target IP address: "
                  "\"Failed to connect. Winsock error code: 10060\"",
             socket_error=10060),
    ),
}


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_real_examples_decode_every_field(name: str) -> None:
    text, fields = EXAMPLES[name]
    assert decode_reason(text) == DeferReason(raw=text, **fields)


def test_reference_case_targets() -> None:
    reason = decode_reason(EXAMPLES["1-reference-case"][0])
    assert reason.target_ip == "13.92.177.139"
    assert reason.target_host == "smtp.tailspintoys.ca"
    assert reason.lrt.tzinfo is not None


def test_target_from_last_attempted_ip_drops_port() -> None:
    reason = decode_reason(EXAMPLES["3.6-ndr-refused"][0])
    assert reason.target_ip == "37.233.123.20"
    assert reason.target_host == "4ceps.net"


@pytest.mark.parametrize("text", [
    "", "   ", "hello world", "Message received by: BN7PR00MB0001",
    "Socket error code 10061", "13.92.177.139", "version 15.0.0.0",
    "OutboundProxyTargetIP: 1.2.3.4. OutboundProxyTargetHostName: x",
])
def test_no_led_no_reply_is_none(text: str) -> None:
    assert decode_reason(text) is None


def test_non_string_is_none() -> None:
    assert decode_reason(None) is None  # type: ignore[arg-type]
    assert decode_reason(b"[{LED=450 4.4.316 x}]") is None  # type: ignore[arg-type]


def test_empty_proxy_suffix_and_empty_fields() -> None:
    text = ("[{LED=450 4.4.316 Connection refused};{MSG=};{FQDN=};{IP=};{LRT=}]. "
            "OutboundProxyTargetIP: OutboundProxyTargetHostName: mail.contoso.com")
    assert decode_reason(text) == DeferReason(
        raw=text, smtp_code=450, enhanced_code="4.4.316", text="Connection refused",
        proxy_target_host="mail.contoso.com")


@pytest.mark.parametrize("lrt, expected", [
    ("3/16/2017 4:59:18 PM", utc(2017, 3, 16, 16, 59, 18)),
    ("1/21/2025 12:05:00 AM", utc(2025, 1, 21, 0, 5, 0)),
    ("1/21/2025 12:05:00 PM", utc(2025, 1, 21, 12, 5, 0)),
    ("16/03/2017 16:59:18", utc(2017, 3, 16, 16, 59, 18)),
    ("02/03/2017 16:59:18", utc(2017, 3, 2, 16, 59, 18)),  # 24-hour form is day first
    ("3/16/2017 16:59:18", utc(2017, 3, 16, 16, 59, 18)),  # ...unless that cannot be
    ("2017-03-16T16:59:18Z", utc(2017, 3, 16, 16, 59, 18)),
    ("2017-03-16T17:59:18+01:00", utc(2017, 3, 16, 16, 59, 18)),
    ("2017-03-16 16:59:18", utc(2017, 3, 16, 16, 59, 18)),
    ("13/13/2017 1:00:00 PM", None),
    ("yesterday", None),
])
def test_lrt_forms(lrt: str, expected: datetime | None) -> None:
    reason = decode_reason(f"[{{LED=450 4.4.316 Connection refused}};{{MSG=}};{{FQDN=}};{{IP=}};"
                           f"{{LRT={lrt}}}]")
    assert reason.lrt == expected
    if expected is not None:
        assert reason.lrt.utcoffset().total_seconds() == 0


# -- properties ------------------------------------------------------------------------------------

TOKENS = st.sampled_from([
    "[{LED=", "LED=", "};{MSG=", "};{FQDN=", "};{IP=", "};{LRT=", "};{Last attempted server name=",
    "}]", "}", "{", "[", "]", ";", ". ", "'", "[Message=", "[LastAttemptedIP=", "[SmtpSecurity=",
    "OutboundProxyTargetIP:", "OutboundProxyTargetHostName:", "450 4.4.316 ", "451-4.7.23 ",
    "Socket error code ", "Winsock error code: ", "10061", "3/16/2017 4:59:18 PM",
    "2023-03-07T18:46:06.378Z", "08DB1DF24DB12D84", "x.eop-nam12.prod.protection.outlook.com",
    "(", ")", " ", "#", "\n", "\x00",
])
REASONISH = st.lists(TOKENS | st.text(max_size=6), max_size=25).map("".join)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text: str) -> None:
    result = _decode(text) if text else None  # bypass the safety net to see real bugs
    assert result is None or isinstance(result, DeferReason)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(REASONISH)
def test_reason_like_text_never_raises(text: str) -> None:
    result = _decode(text) if text else None
    assert result is None or result.raw == text


WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
               min_size=1, max_size=12)
REPLY_TEXT = st.lists(WORD, min_size=1, max_size=6).map(" ".join)
LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
HOST = st.lists(LABEL, min_size=2, max_size=4).map(".".join)
IPV4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC))


def us_time(d: datetime) -> str:
    hour = d.hour % 12 or 12
    return f"{d.month}/{d.day}/{d.year} {hour}:{d.minute:02}:{d.second:02} " \
           f"{'PM' if d.hour >= 12 else 'AM'}"


@settings(max_examples=300)
@given(smtp=st.sampled_from([421, 450, 451, 452, 550, 554]),
       enhanced=st.tuples(st.sampled_from([4, 5]), st.integers(0, 7), st.integers(0, 999)),
       text=REPLY_TEXT, msg=st.one_of(st.just(""), REPLY_TEXT), fqdn=HOST, ip=IPV4, lrt=WHEN,
       inner=st.one_of(st.none(), REPLY_TEXT), eop=st.one_of(st.none(), HOST),
       dash=st.booleans(), suffix=st.booleans())
def test_generated_reason_round_trips(smtp, enhanced, text, msg, fqdn, ip, lrt, inner, eop, dash,
                                      suffix) -> None:
    code = ".".join(map(str, enhanced))
    meta = (f" [Message={inner}]" if inner else "") + (f" [{eop}]" if eop else "")
    raw = (f"Reason: [{{LED={smtp}{'-' if dash else ' '}{code} {text}{meta}}};{{MSG={msg}}};"
           f"{{FQDN={fqdn}}};{{IP={ip}}};{{LRT={us_time(lrt)}}}]")
    if suffix:
        raw += f". OutboundProxyTargetIP: {ip}. OutboundProxyTargetHostName: {fqdn}"
    r = decode_reason(raw)
    assert (r.smtp_code, r.enhanced_code, r.text) == (smtp, code, text)
    assert (r.msg, r.fqdn, r.ip, r.lrt) == (msg or None, fqdn, ip, lrt)
    assert (r.inner_message, r.eop_server) == (inner, eop)
    assert (r.proxy_target_ip, r.proxy_target_host) == ((ip, fqdn) if suffix else (None, None))
    assert not r.truncated


COMPLETE = [name for name in EXAMPLES if name.split("-")[0] in {"1", "2", "3", "10"}]


@pytest.mark.parametrize("name", COMPLETE)
def test_every_cut_of_a_real_string_is_safe(name: str) -> None:
    text = EXAMPLES[name][0]
    led = text.index("LED=") + len("LED=")
    close = text.rindex("}]")
    for cut in range(1, len(text)):
        result = _decode(text[:cut])
        if led <= cut <= close:
            assert result is not None and result.truncated, text[:cut]
        if result is not None:
            assert result.raw == text[:cut]


@settings(max_examples=200)
@given(st.sampled_from([EXAMPLES[n][0] for n in EXAMPLES]), st.data())
def test_truncated_prefixes_never_raise(text: str, data) -> None:
    cut = data.draw(st.integers(0, len(text)))
    result = decode_reason(text[:cut])
    assert result is None or isinstance(result, DeferReason)
