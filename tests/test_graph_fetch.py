"""`trace fetch` end to end against a local HTTPS stand-in for Entra ID and Graph (never the
real services): tokens through MSAL, paging, throttling, errors, and no secret anywhere."""

from __future__ import annotations

import base64
import json
import logging
import socket
import ssl
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from graph_server import TENANT, State, _handler, graph_server, serve
from typer.testing import CliRunner

from mailflow_doctor.cli.app import app
from mailflow_doctor.fetch.auth import (
    DELEGATED_SCOPE,
    AuthError,
    Credentials,
    certificate_credential,
    token_provider,
)
from mailflow_doctor.fetch.graph_trace import (
    Budget,
    FetchError,
    GraphClient,
    detail_url,
    fetch_traces,
    windows,
    write_fetch,
)
from mailflow_doctor.fetch.throttle import MAX_WAIT, retry_after

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
    pem, cert = app_pem(tmp_path)
    out = tmp_path / "f.json"
    result = runner.invoke(app, ["trace", "fetch", "--tenant", TENANT, "--client-id", "app-1",
                                 "--certificate", str(pem), "--output", str(out),
                                 "--authority-host", base, "--graph-url", f"{base}/v1.0",
                                 "--ca-bundle", ca])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["traces"][0]["id"] == "t1"
    [header] = state.assertion_headers  # the JWT names the certificate by its SHA-1 (x5t)
    sha1 = cert.fingerprint(hashes.SHA1())
    assert header["alg"] == "RS256"
    assert base64.urlsafe_b64decode(header["x5t"] + "=" * (-len(header["x5t"]) % 4)) == sha1


# --- the library directly: injected sleep, so throttling tests never wait ---------------------

SINCE = NOW - timedelta(hours=48)


@pytest.fixture
def lib(server, monkeypatch, caplog):
    """A GraphClient on the local server, its sleeps recorded instead of slept."""
    base, state, ca = server
    caplog.set_level(logging.DEBUG)  # MSAL, httpx and requests log at DEBUG: no secret there
    monkeypatch.setenv("MFD_TEST_SECRET", SECRET)
    creds = Credentials(TENANT, "app-1", secret_env="MFD_TEST_SECRET", authority_host=base,
                        verify=ca)
    slept: list[float] = []
    with httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=10) as http:
        client = GraphClient(http, token_provider(creds), f"{base}/v1.0", sleep=slept.append)
        client.budget.sleep = slept.append
        yield client, state, slept
    assert SECRET not in caplog.text


def paths(state) -> list[str]:
    return [unquote(r) for r in state.requests]


def test_library_pages_details_quoting_and_file(tmp_path, lib):
    client, state, _ = lib
    state.traces = [trace(1, "pending"), trace(2, "delivered"), trace(3, "FAILED")]
    state.traces[0]["recipientAddress"] = "o'brien@tailspintoys.ca"
    state.details = {"t1": [{"id": "t1", "event": "Defer", "description": REASON}]}
    seen: list[tuple] = []
    doc = fetch_traces(client, TENANT, SINCE, NOW, progress=lambda *a: seen.append(a))
    assert [t["id"] for t in doc["traces"]] == ["t1", "t2", "t3"]
    assert len([r for r in state.requests if "skiptoken" in r]) == 1  # two pages
    assert set(doc["details"]) == {"t1", "t3"}
    assert doc["details"]["t1"] == {"recipientAddress": "o'brien@tailspintoys.ca",
                                    "value": state.details["t1"]}
    assert any(p.endswith("/messageTraces/t1/getDetailsByRecipient"
                          "(recipientAddress='o''brien@tailspintoys.ca')") for p in paths(state))
    assert seen[-1] == (2, 2, "message details") and (1, 1, "trace queries") in seen
    # The list's count moves with each page, before the window's query is done.
    listed = [a for a in seen if a[2] == "traces listed"]
    assert listed == [(2, None, "traces listed"), (3, None, "traces listed")]
    assert seen.index(listed[-1]) < seen.index((1, 1, "trace queries"))
    out = tmp_path / "fetched.json"
    write_fetch(doc, out)
    written = json.loads(out.read_text())
    assert list(written) == ["schema", "fetched_at", "tenant", "window", "traces", "details"]
    assert written["schema"] == "mailflow-doctor/graph-trace/v1"
    assert written["tenant"] == TENANT and written["fetched_at"].endswith("Z")
    assert set(written["window"]) == {"start", "end"}
    assert SECRET not in out.read_text() and not list(tmp_path.glob(".fetch-*"))


def test_filter_query_is_the_documented_one(lib):
    client, state, _ = lib
    state.traces = [trace(1, "Delivered")]
    fetch_traces(client, TENANT, SINCE, NOW, page_size=1234)
    [listed] = [r for r in state.requests if "messageTraces?" in r]
    query = parse_qs(urlparse(listed).query)
    assert query["$top"] == ["1234"]
    [flt] = query["$filter"]
    assert flt.startswith("receivedDateTime ge ") and " and receivedDateTime le " in flt
    assert flt.endswith("Z") and "status" not in flt


def test_statuses_graph_knows_are_filtered_server_side(lib):
    client, state, _ = lib
    state.traces = [trace(1, "Pending"), trace(2, "Delivered"), trace(3, "Failed")]
    doc = fetch_traces(client, TENANT, SINCE, NOW, statuses={"pending", "failed"})
    filters = [parse_qs(urlparse(r).query)["$filter"][0] for r in state.requests
               if "messageTraces?" in r and "skiptoken" not in r]
    assert sorted(f.rsplit(" and ", 1)[1] for f in filters) == [
        "status eq 'failed'", "status eq 'pending'"]
    # the stand-in ignores $filter, so the duplicates it returns must be dropped, and the
    # delivered one filtered here again
    assert sorted(t["id"] for t in doc["traces"]) == ["t1", "t3"]


def test_unknown_status_words_and_recipient_domain_filter_client_side(lib):
    client, state, _ = lib
    state.traces = [trace(1, "Pending"), trace(2, "Deferred"), trace(3, "Failed")]
    state.traces[2]["recipientAddress"] = "someone@elsewhere.example"
    doc = fetch_traces(client, TENANT, SINCE, NOW, recipient_domain="TailspinToys.ca",
                       statuses={"deferred", "failed"})
    assert all("status" not in unquote(r) for r in state.requests if "messageTraces?" in r)
    assert [t["id"] for t in doc["traces"]] == ["t2"]
    assert list(doc["details"]) == ["t2"]  # never for the filtered-out failed one
    assert not any("/t3/" in r for r in state.requests)


def test_retry_after_date_and_503_504_backoff(lib):
    client, state, slept = lib
    state.traces = [trace(1, "Delivered")]
    state.script = [(503, {"error": {"code": "ServiceUnavailable"}}, {}),
                    (429, {"error": {"code": "TooManyRequests"}},
                     {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),  # in the past
                    (504, {"error": {"code": "GatewayTimeout"}}, {"Retry-After": "7"})]
    doc = fetch_traces(client, TENANT, SINCE, NOW)
    assert [t["id"] for t in doc["traces"]] == ["t1"]
    assert slept == [1.0, 0.0, 7.0]


def test_throttling_that_never_ends_gives_up_after_bounded_waits(lib):
    client, state, slept = lib
    state.script = [(429, {"error": {"code": "TooManyRequests"}}, {"Retry-After": "100000"})
                    for _ in range(10)]
    with pytest.raises(FetchError, match=r"HTTP 429 TooManyRequests after 5 retries") as err:
        fetch_traces(client, TENANT, SINCE, NOW)
    assert slept == [MAX_WAIT] * 5 and len(state.script) == 4
    assert "?" not in str(err.value) and SECRET not in str(err.value)


@pytest.mark.parametrize("header, expected", [
    ("0", 0.0), ("12", 12.0), ("-5", 0.0), ("nan", 5.0), ("inf", MAX_WAIT), ("", 5.0),
    ("soon", 5.0), ("Thu, 01 Jan 2026 00:01:40 GMT", 100.0)])
def test_retry_after_values(header, expected):
    assert retry_after(header, now=datetime(2026, 1, 1, tzinfo=UTC)) == expected


def test_401_twice_and_403_messages_hold_no_secret(lib):
    client, state, _ = lib
    state.script = [(401, {"error": {"code": "InvalidAuthenticationToken"}}, {})] * 2
    with pytest.raises(FetchError, match="authentication failed") as err:
        fetch_traces(client, TENANT, SINCE, NOW)
    assert state.tokens_issued == 2 and SECRET not in str(err.value)
    state.script = [(403, {"error": {"code": "Forbidden", "message": "Missing role"}}, {})]
    with pytest.raises(FetchError, match="ExchangeMessageTrace.Read.All") as err:
        fetch_traces(client, TENANT, SINCE, NOW)
    assert "403 Forbidden: Missing role" in str(err.value) and SECRET not in str(err.value)


def test_malformed_body_names_the_path_only(lib):
    client, state, _ = lib
    state.script = [(200, b'{"value": [', {})]
    with pytest.raises(FetchError) as err:
        fetch_traces(client, TENANT, SINCE, NOW)
    assert str(err.value).startswith("/v1.0/admin/exchange/tracing/messageTraces: ")
    assert "not JSON" in str(err.value) and "$filter" not in str(err.value)


def test_next_link_to_another_host_is_not_followed(lib):
    client, state, _ = lib
    state.script = [(200, {"value": [trace(1, "Pending")], "@odata.nextLink":
                           "https://127.0.0.2:9/v1.0/admin/exchange/tracing/messageTraces"
                           "?$skiptoken=2"}, {})]
    with pytest.raises(FetchError, match="leads away from"):
        fetch_traces(client, TENANT, SINCE, NOW)


def test_budget_is_shared_by_list_and_detail_calls(lib):
    client, state, slept = lib
    clock = [0.0]
    client.budget = Budget(limit=3, seconds=300, clock=lambda: clock[0],
                           sleep=lambda s: (slept.append(s), clock.__setitem__(0, clock[0] + s)))
    state.traces = [trace(1, "Pending"), trace(2, "Failed")]  # 1 page + 2 details + ...
    state.traces.append(trace(3, "Pending"))  # ... 2nd page + 3rd detail = 5 requests
    fetch_traces(client, TENANT, SINCE, NOW)
    assert len([r for r in state.requests if "/v1.0/" in r]) == 5
    assert slept == [300.0]  # the 4th waits for the first three to leave; the 5th need not


def test_sign_in_failures_are_clean_auth_errors(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("MFD_TEST_SECRET", SECRET)
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    creds = Credentials(TENANT, "app-1", secret_env="MFD_TEST_SECRET",
                        authority_host=f"https://127.0.0.1:{port}")
    get = token_provider(creds)  # no network yet: MSAL is built at the first token request
    with pytest.raises(AuthError, match="cannot reach the sign-in service"):
        get(False)
    result = runner.invoke(app, [  # so the CLI refuses a bad range before anyone signs in
        "trace", "fetch", "--tenant", TENANT, "--client-id", "app-1", "--client-secret-env",
        "MFD_TEST_SECRET", "--since", "91d", "--output", str(tmp_path / "f.json"),
        "--authority-host", f"https://127.0.0.1:{port}", "--graph-url",
        f"https://127.0.0.1:{port}/v1.0"])
    assert result.exit_code == 2 and "keeps 90 days" in result.stderr
    with graph_server(tmp_path, "the-real-one") as (base, _state, ca):
        get = token_provider(Credentials(TENANT, "app-1", secret_env="MFD_TEST_SECRET",
                                         authority_host=base, verify=ca))
        with pytest.raises(AuthError, match="invalid_client") as err:
            get(False)
    assert SECRET not in str(err.value) and SECRET not in caplog.text
    with pytest.raises(AuthError, match="tenant"):
        token_provider(Credentials("../evil", "app-1", secret_env="MFD_TEST_SECRET"))
    monkeypatch.delenv("MFD_TEST_SECRET")
    with pytest.raises(AuthError, match="MFD_TEST_SECRET is not set"):
        token_provider(Credentials(TENANT, "app-1", secret_env="MFD_TEST_SECRET"))


def test_detail_url_quoting():
    url = detail_url("https://g/v1.0", "a/../b", "x'y z@d.example")
    assert url == ("https://g/v1.0/admin/exchange/tracing/messageTraces/a%2F..%2Fb"
                   "/getDetailsByRecipient(recipientAddress='x''y%20z@d.example')")


def test_windows_cut_at_now_and_accept_exactly_90_days():
    spans = windows(NOW - timedelta(days=90), NOW + timedelta(days=2), NOW + timedelta(
        seconds=3))
    assert len(spans) == 9 and spans[-1][1] == NOW + timedelta(seconds=3)
    assert spans[0][0] >= NOW - timedelta(days=90)
    with pytest.raises(FetchError, match="empty"):
        windows(NOW + timedelta(hours=1), NOW + timedelta(hours=2), NOW)


# --- certificate and device code --------------------------------------------------------------


def app_pem(tmp_path, key=None, cert_key=None) -> object:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert_key = cert_key or key
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailflow-doctor test app")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(cert_key.public_key()).serial_number(1)
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
            .sign(cert_key, hashes.SHA256()))
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
                    + cert.public_bytes(serialization.Encoding.PEM))
    return pem, cert


def test_certificate_thumbprint_and_bad_pem_files(tmp_path):
    pem, cert = app_pem(tmp_path)
    credential = certificate_credential(pem)
    assert credential["thumbprint"] == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert "BEGIN PRIVATE KEY" in credential["private_key"]
    assert "CERTIFICATE" not in credential["private_key"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError, match="does not belong"):
        certificate_credential(app_pem(tmp_path, cert_key=other)[0])
    with pytest.raises(AuthError, match="RSA"):
        certificate_credential(app_pem(tmp_path, key=ec.generate_private_key(ec.SECP256R1()))[0])
    (tmp_path / "junk.pem").write_text("not a pem")
    with pytest.raises(AuthError, match="not a readable PEM"):
        certificate_credential(tmp_path / "junk.pem")


@contextmanager
def custom_server(tmp_path, post):
    """The stand-in with another token service: `post(handler, path, form)` answers POSTs."""
    state = State("unused")
    state.forms = []

    def handler(base):
        class Handler(_handler(state, base)):
            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", "0")))
                                .decode())
                state.forms.append(form)
                post(self, state, form)
        return Handler

    with serve(tmp_path, state, handler) as running:
        yield running


def device_code_service(handler, state, form) -> None:
    if handler.path.endswith("/devicecode"):
        return handler._send(200, {
            "device_code": "dc-1", "user_code": "ABCD-EFGH", "interval": 1,
            "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 30,
            "message": "To sign in, use a web browser to open the page "
                       "https://microsoft.com/devicelogin and enter the code ABCD-EFGH"})
    state.tokens_issued += 1
    return handler._send(200, {"token_type": "Bearer", "expires_in": 3600,
                               "access_token": f"tok-{state.tokens_issued}"})


def echoing_service(handler, state, form) -> None:
    """A token service careless enough to quote the secret back in its error."""
    secret = form["client_secret"][0]
    handler._send(401, {"error": "invalid_client", "error_description":
                        f"AADSTS7000215: Invalid client secret provided: {secret}"})


def test_a_secret_quoted_back_by_the_service_is_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("MFD_TEST_SECRET", SECRET)
    with custom_server(tmp_path, echoing_service) as (base, state, ca):
        get = token_provider(Credentials(TENANT, "app-1", secret_env="MFD_TEST_SECRET",
                                         authority_host=base, verify=ca))
        with pytest.raises(AuthError, match=r"secret provided: \*\*\*") as err:
            get(False)
    assert state.forms[0]["client_secret"] == [SECRET] and SECRET not in str(err.value)


def test_network_errors_and_silent_servers_are_retried_then_reported():
    slept: list[float] = []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with httpx.Client(timeout=None) as http:  # the GraphClient sets its own timeout anyway
        client = GraphClient(http, lambda force: "tok", f"http://127.0.0.1:{closed}/v1.0",
                             sleep=slept.append)
        with pytest.raises(FetchError, match=r"messageTraces: ConnectError \(6 attempts\)"):
            fetch_traces(client, TENANT, SINCE, NOW)
        assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]
        with socket.socket() as silent:  # accepts connections, never answers
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            client = GraphClient(http, lambda force: "tok",
                                 f"http://127.0.0.1:{silent.getsockname()[1]}/v1.0",
                                 sleep=slept.append, timeout=0.2, max_retries=1)
            with pytest.raises(FetchError, match=r"ReadTimeout \(2 attempts\)"):
                fetch_traces(client, TENANT, SINCE, NOW)


def test_device_code_prints_the_instructions_to_stderr(tmp_path, capsys):
    with custom_server(tmp_path, device_code_service) as (base, state, ca):
        get = token_provider(Credentials(TENANT, "app-1", device_code=True,
                                         authority_host=base, verify=ca))
        assert get(False) == "tok-1"
        state.traces = [trace(1, "Delivered")]
        with httpx.Client(verify=ssl.create_default_context(cafile=ca), timeout=10) as http:
            doc = fetch_traces(GraphClient(http, get, f"{base}/v1.0"), TENANT, SINCE, NOW)
    assert doc["traces"][0]["id"] == "t1"
    captured = capsys.readouterr()
    assert "enter the code ABCD-EFGH" in captured.err and "ABCD" not in captured.out
    device, grant = state.forms[0], state.forms[1]
    assert DELEGATED_SCOPE in device["scope"][0].split()
    assert grant["grant_type"] == ["urn:ietf:params:oauth:grant-type:device_code"]


def test_device_code_that_cannot_start_is_a_clean_error(tmp_path):
    with graph_server(tmp_path, SECRET) as (base, _state, ca):  # answers devicecode with 401
        get = token_provider(Credentials(TENANT, "app-1", device_code=True,
                                         authority_host=base, verify=ca))
        with pytest.raises(AuthError, match="device code sign-in could not start"):
            get(False)
