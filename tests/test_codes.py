"""The knowledge base of status codes, Winsock codes and TLS messages, and how explain() uses it."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from mailflow_doctor.evidence.trace.reason import decode_reason
from mailflow_doctor.knowledge.codes import (
    RFC3463,
    explain,
    generic_reading,
    lookup_status,
    lookup_tls_message,
    lookup_winsock,
    status_entries,
    tls_entries,
    winsock_entries,
)
from mailflow_doctor.model import Cause
from mailflow_doctor.model.trace import DeferReason

DATA = resources.files("mailflow_doctor.knowledge").joinpath("data")
FILES = {"status_codes.json": "codes", "winsock.json": "codes", "tls_messages.json": "messages"}

REFERENCE = ("[{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
             "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=3/16/2017 4:59:18 PM}]. "
             "OutboundProxyTargetIP: 13.92.177.139. OutboundProxyTargetHostName: "
             "smtp.tailspintoys.ca")


def raw_entries():
    for name, key in FILES.items():
        for entry in json.loads(DATA.joinpath(name).read_text(encoding="utf-8"))[key]:
            yield name, entry


# -- the data files --------------------------------------------------------------------------------


def test_every_entry_has_https_sources_and_valid_causes() -> None:
    valid = {c.value for c in Cause}
    count = 0
    for name, entry in raw_entries():
        count += 1
        label = f"{name}: {entry.get('code', entry.get('name'))}"
        assert entry["sources"], label
        assert all(s.startswith("https://") for s in entry["sources"]), label
        assert entry["cause"] in valid, label
        assert set(entry.get("related_causes", [])) <= valid, label
        assert entry["cause"] not in entry.get("related_causes", []), label
    assert count == len(status_entries()) + len(winsock_entries()) + len(tls_entries())


def test_every_code_of_the_reference_table_is_present() -> None:
    # formats.md §4; 4.7.326, 4.7.327 and 4.4.24 are undocumented and read generically.
    documented = ["4.4.312", "4.4.315", "4.4.316", "5.4.316", "4.4.317", "4.4.318", "4.7.320",
                  "4.7.321", "4.7.322", "4.7.323", "4.7.324", "4.7.325", "4.4.8", "5.4.8",
                  "4.7.5", "4.4.7", "5.4.300", "4.4.1", "4.4.2", "4.3.1", "4.3.2", "5.7.64",
                  "5.7.51", "5.4.1", "5.7.1", "5.7.3", "4.7.500", "4.7.699", "4.7.850",
                  "4.7.899", "4.7.0"]
    missing = [code for code in documented if lookup_status(code) is None]
    assert missing == []
    for undocumented in ("4.7.326", "4.7.327", "4.4.24"):
        assert lookup_status(undocumented) is None


def test_every_winsock_code_of_the_reference_table_is_present() -> None:
    expected = {10050, 10051, 10053, 10054, 10060, 10061, 10064, 10065, 11001, 11002, 11003,
                11004}
    assert {w.code for w in winsock_entries()} == expected


def test_entries_load_as_frozen_records() -> None:
    info = lookup_status("4.4.316")
    with pytest.raises(AttributeError):
        info.cause = Cause.DNS_FAILURE  # type: ignore[misc]
    assert status_entries() is status_entries()  # loaded once


# -- lookups ---------------------------------------------------------------------------------------


def test_status_lookup() -> None:
    info = lookup_status("4.4.316")
    assert info.cause is Cause.SERVICE_NOT_LISTENING
    assert Cause.FIREWALL_BLOCKS_EOP in info.related_causes
    assert Cause.ONPREM_DECOMMISSIONED in info.related_causes
    assert lookup_status("450 4.4.316 Connection refused") is info
    assert lookup_status("4.4.315").cause is Cause.NETWORK_TIMEOUT
    assert lookup_status("4.4.318").cause is Cause.CONNECTION_RESET
    assert lookup_status("4.4.312").cause is Cause.DNS_FAILURE
    assert lookup_status("4.7.320").cause is Cause.CERT_UNTRUSTED
    assert lookup_status("5.4.316").cause is Cause.SERVICE_NOT_LISTENING


@pytest.mark.parametrize("code, expected", [
    ("4.7.500", "4.7.500-699"), ("451 4.7.612", "4.7.500-699"), ("4.7.699", "4.7.500-699"),
    ("4.7.700", None), ("4.7.850", "4.7.850-899"), ("4.7.900", None), ("5.7.512", None),
])
def test_status_ranges(code: str, expected: str | None) -> None:
    info = lookup_status(code)
    assert (info.code if info else None) == expected


@pytest.mark.parametrize("code", [None, "", "garbage", "9.9.9", "4.4.3160", "4.7.5000", "14.4.316",
                                  "6.1.1"])
def test_status_lookup_misses(code) -> None:
    assert lookup_status(code) is None


def test_winsock_lookup() -> None:
    assert lookup_winsock(10061).name == "WSAECONNREFUSED"
    assert lookup_winsock(10061).cause is Cause.SERVICE_NOT_LISTENING
    assert lookup_winsock("10060").cause is Cause.NETWORK_TIMEOUT
    assert lookup_winsock(10054).cause is Cause.CONNECTION_RESET
    assert lookup_winsock(11001).cause is Cause.DNS_FAILURE
    for miss in (None, "abc", 99999, 0):
        assert lookup_winsock(miss) is None


@pytest.mark.parametrize("text, cause", [
    ("SubjectMismatch", Cause.CERT_NAME_MISMATCH),
    ("CertificateExpired Expected Subject: email.domain.com.", Cause.CERT_EXPIRED),
    ("UntrustedRoot", Cause.CERT_UNTRUSTED),
    ("TLS negotiation failed with error NoCredentials", Cause.CERT_NO_PRIVATE_KEY),
    ("451 5.7.3 STARTTLS is required to send mail", Cause.STARTTLS_NOT_OFFERED),
    ("451 4.4.0 Security status IllegalMessage", Cause.TLS_HANDSHAKE_FAILED),
    ("451 4.4.0 TLS negotiation failed with error ConnectionAborted", Cause.TLS_HANDSHAKE_FAILED),
    ("451 4.4.0 TLS negotiation failed with error socketerror", Cause.TLS_HANDSHAKE_FAILED),
])
def test_tls_message_lookup(text: str, cause: Cause) -> None:
    assert lookup_tls_message(text).cause is cause


def test_tls_message_earliest_mention_wins_and_misses() -> None:
    assert lookup_tls_message("UntrustedRoot, then SubjectMismatch").name == "UntrustedRoot"
    assert lookup_tls_message("Socket error code 10061") is None
    assert lookup_tls_message(None) is None
    assert lookup_tls_message("") is None


# -- explain ---------------------------------------------------------------------------------------


def test_explain_reference_case() -> None:
    x = explain(decode_reason(REFERENCE))
    assert x.cause is Cause.SERVICE_NOT_LISTENING
    assert x.basis == "socket-error" and not x.generic
    assert "450 4.4.316" in x.title and "10061" in x.title
    assert Cause.FIREWALL_BLOCKS_EOP in x.related_causes
    assert x.cause not in x.related_causes
    assert any("EOP" in fix for fix in x.fixes)
    assert len(set(x.sources)) == len(x.sources)
    assert x.status.code == "4.4.316" and x.winsock.code == 10061 and x.tls is None
    assert any("firewall" in c for c in x.likely_causes)
    assert any("stopped" in c for c in x.likely_causes)


def test_tls_message_beats_socket_error_beats_status_code() -> None:
    both = DeferReason(raw="", smtp_code=450, enhanced_code="4.4.317",
                       inner_message="SubjectMismatch", socket_error=10061)
    assert explain(both).cause is Cause.CERT_NAME_MISMATCH
    assert explain(both).basis == "tls-message"
    socket = DeferReason(raw="", smtp_code=450, enhanced_code="4.7.320", socket_error=10060)
    assert explain(socket).cause is Cause.NETWORK_TIMEOUT
    code = DeferReason(raw="", smtp_code=450, enhanced_code="4.7.320")
    assert explain(code).cause is Cause.CERT_UNTRUSTED
    assert explain(code).basis == "status-code"


def test_tls_message_found_in_msg_field() -> None:
    reason = decode_reason("Reason: [{LED=450 4.7.320 Certificate validation failed};"
                           "{MSG=SubjectMismatch};{FQDN=h.example};{IP=192.0.2.1};"
                           "{LRT=4/14/2017 1:07:17 PM}]")
    x = explain(reason)
    assert x.cause is Cause.CERT_NAME_MISMATCH
    assert "4.7.320" in x.title and "SubjectMismatch" in x.title
    assert x.fixes[0] == x.tls.fixes[0]


def test_generic_reading_for_unknown_codes() -> None:
    x = explain(DeferReason(raw="", smtp_code=451, enhanced_code="4.4.0"))
    assert x.generic and x.cause is None and x.basis == "none"
    assert "transient" in x.meaning and "network and routing" in x.meaning
    assert RFC3463 in x.sources
    assert "permanent" in generic_reading("5.6.9") and "content" in generic_reading("5.6.9")
    assert "security" in generic_reading("4.7.326")
    assert "addressing" in generic_reading("5.1.99")
    assert "mailbox" in generic_reading("5.2.2")
    assert '"mailbox full"' in generic_reading("5.2.2")
    assert '"mail system congestion"' in generic_reading("4.4.5")
    assert '"bad destination mailbox address"' in generic_reading("5.1.1")
    assert "not one RFC 3463 defines" in generic_reading("5.1.99")
    assert "mail system" in generic_reading("4.3.9")
    assert "protocol" in generic_reading("5.5.0")
    assert "success" in generic_reading("2.0.0")
    assert "permanent" in generic_reading(None, 550)
    assert "no SMTP status code" in generic_reading(None)


def test_generic_code_with_tls_message_still_gets_a_cause() -> None:
    x = explain(DeferReason(raw="", inner_message="451 5.7.3 STARTTLS is required to send mail",
                            text="Cannot establish session with remote server"))
    assert x.cause is Cause.STARTTLS_NOT_OFFERED and x.generic and x.basis == "tls-message"


@pytest.mark.parametrize("reason", [
    DeferReason(raw=""),
    DeferReason(raw="x", smtp_code=999, enhanced_code="9.9.9", socket_error=-1),
])
def test_explain_never_fails_on_sparse_reasons(reason: DeferReason) -> None:
    x = explain(reason)
    assert x.title and x.meaning


def test_prx4_reply_names_client_submission_causes():
    """formats.md §4: PRX4 is documented for SMTP client submission to smtp.office365.com."""
    e = explain(decode_reason("451 4.7.0 Temporary server error. Please try again later. PRX4"))
    assert any("PRX4" in c and "shared" in c for c in e.likely_causes)
    assert any("SmtpClientAuthenticationDisabled $false" in f for f in e.fixes)
    assert any("451-470-temporary-server-error" in s for s in e.sources)


def test_send_connector_certificate_not_found_reads_as_a_stale_connector():
    e = explain(decode_reason("454 4.7.5 The certificate specified in TlsCertificateName of the "
                              "SendConnector could not be found."))
    assert e.cause == Cause.CONNECTOR_CERT_STALE.value and e.basis == "tls-message"
    assert any("Set-SendConnector -TlsCertificateName" in f for f in e.fixes)
