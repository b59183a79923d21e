"""A local HTTPS stand-in for Entra ID's token endpoint and Graph's message trace API.

Responses are shaped like the Microsoft documentation's examples (paging with @odata.nextLink,
429 with Retry-After, 401, 403, a malformed body); `script` lets a test choose per request
what the trace list answers. Listens on 127.0.0.1 only, with a certificate made for the test.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import ssl
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TENANT = "contoso.onmicrosoft.com"


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (also the CA bundle the client trusts)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class State:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.tokens_issued = 0
        self.assertion_headers: list[dict] = []
        self.requests: list[str] = []
        self.script: list[tuple[int, object, dict]] = []  # trace-list answers, in order
        self.traces: list[dict] = []
        self.details: dict[str, list[dict]] = {}


def _handler(state: State, base: str):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _send(self, code: int, body: object, headers: dict | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(self.path)
            path = unquote(urlparse(self.path).path)
            if path.endswith("/.well-known/openid-configuration"):
                return self._send(200, {
                    "issuer": f"{base}/{TENANT}/v2.0",
                    "authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/{TENANT}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/{TENANT}/oauth2/v2.0/devicecode"})
            if not self.headers.get("Authorization", "").startswith("Bearer tok-"):
                return self._send(401, {"error": {"code": "InvalidAuthenticationToken"}})
            if "getDetailsByRecipient" in path:
                trace_id = path.split("/messageTraces/")[1].split("/")[0]
                return self._send(200, {"@odata.context": "x",
                                        "value": state.details.get(trace_id, [])})
            if path.endswith("/admin/exchange/tracing/messageTraces"):
                if state.script:
                    code, body, headers = state.script.pop(0)
                    return self._send(code, body, headers)
                skip = int(parse_qs(urlparse(self.path).query).get("$skiptoken", ["0"])[0])
                page = state.traces[skip:skip + 2]
                body = {"@odata.context": "x", "value": page}
                if skip + 2 < len(state.traces):
                    body["@odata.nextLink"] = f"{base}/v1.0/admin/exchange/tracing/messageTraces" \
                                              f"?$skiptoken={skip + 2}"
                return self._send(200, body)
            return self._send(404, {"error": {"code": "NotFound"}})

        def do_POST(self) -> None:
            state.requests.append(self.path)
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            assertion = form.get("client_assertion", [""])[0]
            if assertion:  # certificate credential: a JWT whose header names the thumbprint
                header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
                state.assertion_headers.append(header)
            elif form.get("client_secret", [""])[0] != state.secret:
                return self._send(401, {"error": "invalid_client",
                                        "error_description": "AADSTS7000215: Invalid client "
                                                             "secret provided."})
            state.tokens_issued += 1
            return self._send(200, {"token_type": "Bearer", "expires_in": 3600,
                                    "access_token": f"tok-{state.tokens_issued}"})
    return Handler


@contextmanager
def graph_server(tmp_path: Path, secret: str):
    state = State(secret)
    with serve(tmp_path, state, lambda base: _handler(state, base)) as running:
        yield running


@contextmanager
def serve(tmp_path: Path, state: State, handler):
    """HTTPS on a free loopback port with `handler(base)` as the request handler class;
    yields (base URL, state, CA file)."""
    cert, key = make_cert(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)  # type: ignore[arg-type]
    base = f"https://127.0.0.1:{server.server_address[1]}"
    server.RequestHandlerClass = handler(base)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield base, state, str(cert)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
