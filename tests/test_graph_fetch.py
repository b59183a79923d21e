"""`trace fetch` end to end against a local HTTPS stand-in for Entra ID and Graph (never the
real services): tokens through MSAL, paging, throttling, errors, and no secret anywhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from graph_server import TENANT, graph_server
from typer.testing import CliRunner

from mailflow_doctor.cli import app
from mailflow_doctor.fetch.graph_trace import Budget, FetchError, windows

runner = CliRunner()
SECRET = "s3cr3t-Value~not-to-leak"
NOW = datetime.now(UTC)
REASON = ("Reason: [{LED=450 4.4.316 Connection refused};{MSG=Socket error code 10061};"
          "{FQDN=smtp.tailspintoys.ca};{IP=13.92.177.139};{LRT=11/23/2026 1:41:34 PM}]")


def trace(n: int, status: str) -> dict:
    return {"id": f"t{n}", "messageId": f"<m{n}@x>", "receivedDateTime": (NOW - timedelta(
        hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ"), "recipientAddress": f"u{n}@tailspintoys.ca",
            "senderAddress": "a@partner.example", "size": 100, "status": status,
            "subject": "Hi", "fromIP": "203.0.113.9", "toIP": "13.92.177.139"}


def fetch(base, ca, out, monkeypatch, *extra):
    monkeypatch.setenv("MFD_TEST_SECRET", SECRET)
    return runner.invoke(app, ["trace", "fetch", "--tenant", TENANT, "--client-id", "app-1",
                               "--client-secret-env", "MFD_TEST_SECRET", "--output", str(out),
                               "--since", "48h", "--authority-host", base,
                               "--graph-url", f"{base}/v1.0", "--ca-bundle", ca, *extra])


@pytest.fixture
def server(tmp_path):
    with graph_server(tmp_path, SECRET) as s:
        yield s


def test_fetch_pages_details_and_diagnose_reads_it(tmp_path, server, monkeypatch):
    base, state, ca = server
    state.traces = [trace(1, "Delivered"), trace(2, "Pending"), trace(3, "Failed"),
                    trace(4, "Delivered"), trace(5, "Pending")]
    state.details = {"t2": [{"id": "d1", "messageId": "<m2@x>", "dateTime":
                             (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                             "event": "Defer", "action": "", "description": REASON,
                             "data": ""}]}
    state.script = [(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "0"})]
    out = tmp_path / "fetched.json"
    result = fetch(base, ca, out, monkeypatch)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert [t["id"] for t in doc["traces"]] == ["t1", "t2", "t3", "t4", "t5"]  # 3 pages
    assert sorted(doc["details"]) == ["t2", "t3", "t5"]  # only pending and failed
    paged = [r for r in state.requests if "skiptoken" in r]
    assert len(paged) == 2
    assert all("getDetailsByRecipient(recipientAddress=" in r for r in state.requests
               if "getDetails" in r)
    shown = runner.invoke(app, ["trace", str(out), "--format", "json"])
    events = json.loads(shown.stdout)["events"]
    assert any(e["event"] == "defer" and e["reason"]["enhanced_code"] == "4.4.316"
               for e in events)
    for text in (result.output, out.read_text(), shown.output):
        assert SECRET not in text


def test_401_once_refreshes_the_token(tmp_path, server, monkeypatch):
    base, state, ca = server
    state.traces = [trace(1, "Delivered")]
    state.script = [(401, {"error": {"code": "InvalidAuthenticationToken"}}, {})]
    result = fetch(base, ca, tmp_path / "f.json", monkeypatch)
    assert result.exit_code == 0, result.output
    assert state.tokens_issued == 2


@pytest.mark.parametrize("answers, message", [
    ([(401, {}, {}), (401, {}, {})], "authentication failed"),
    ([(403, {"error": {"code": "Forbidden"}}, {})], "ExchangeMessageTrace.Read.All"),
    ([(200, b"<html>oops</html>", {})], "not JSON"),
])
def test_errors_are_one_clear_line(tmp_path, server, monkeypatch, answers, message):
    base, state, ca = server
    state.script = list(answers)
    out = tmp_path / "f.json"
    result = fetch(base, ca, out, monkeypatch)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert SECRET not in result.output and not out.exists()


def test_wrong_secret_is_reported_without_it(tmp_path, monkeypatch):
    with graph_server(tmp_path, "the-real-one") as (base, _state, ca):
        result = fetch(base, ca, tmp_path / "f.json", monkeypatch)
    assert result.exit_code == 2
    assert "invalid_client" in result.stderr and SECRET not in result.output


def test_budget_waits_when_100_requests_were_sent_in_5_minutes():
    now = [0.0]
    slept: list[float] = []
    budget = Budget(clock=lambda: now[0], sleep=lambda s: (slept.append(s),
                                                           now.__setitem__(0, now[0] + s)))
    for _ in range(100):
        budget.take()
        now[0] += 1.0
    assert slept == []
    budget.take()  # the 101st within 300 s must wait until the first leaves the window
    assert slept == [200.0]


def test_windows_are_split_and_history_is_bounded():
    end = NOW
    spans = windows(end - timedelta(days=25), end, NOW)
    assert len(spans) == 3 and spans[0][1] - spans[0][0] == timedelta(days=10)
    assert spans[-1][1] == end
    with pytest.raises(FetchError, match="90 days"):
        windows(end - timedelta(days=91), end, NOW)


def test_certificate_credential(tmp_path, server, monkeypatch):
    base, state, ca = server
    state.traces = [trace(1, "Delivered")]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailflow-doctor test app")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
                    + cert.public_bytes(serialization.Encoding.PEM))
    out = tmp_path / "f.json"
    result = runner.invoke(app, ["trace", "fetch", "--tenant", TENANT, "--client-id", "app-1",
                                 "--certificate", str(pem), "--output", str(out),
                                 "--authority-host", base, "--graph-url", f"{base}/v1.0",
                                 "--ca-bundle", ca])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["traces"][0]["id"] == "t1"
    [header] = state.assertion_headers
    assert header.get("x5t") or header.get("x5t#S256")
