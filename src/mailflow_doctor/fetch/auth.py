"""Tokens for Microsoft Graph through MSAL: client secret, certificate, or device code.

The secret is read from an environment variable named by the admin, so it never appears on a
command line, in shell history, in output or in files we write; errors carry MSAL's error code
and description only, and any copy of the secret in them is masked all the same.

Pointing MSAL elsewhere (tests use a local HTTPS server): `authority_host` replaces
login.microsoftonline.com, `instance_discovery=False` stops MSAL asking Microsoft whether that
host is a known authority (it then reads `{authority}/v2.0/.well-known/openid-configuration`
from the host itself), and `verify` (a CA bundle path) goes to the requests session MSAL uses.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DELEGATED_SCOPE = "https://graph.microsoft.com/ExchangeMessageTrace.Read.All"
TIMEOUT = 30  # seconds, every request MSAL makes
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")  # a GUID or a domain


class AuthError(Exception):
    """Authentication failed; the message is safe to print (no secrets)."""


@dataclass(frozen=True)
class Credentials:
    tenant: str
    client_id: str
    secret_env: str | None = None
    certificate: Path | None = None
    device_code: bool = False
    authority_host: str = "https://login.microsoftonline.com"
    verify: bool | str = True  # a CA bundle path in tests against a local server


TokenProvider = Callable[[bool], str]  # force_refresh → access token


def certificate_credential(pem: Path) -> dict:
    """MSAL's certificate credential from one PEM file holding the private key and the
    certificate: the key alone, and the certificate's SHA-1 thumbprint (the JWT's x5t, which
    is what the app registration shows). Checks what Entra ID would otherwise reject vaguely."""
    try:
        data = pem.read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
        cert = x509.load_pem_x509_certificate(data)
    except TypeError:
        raise AuthError(f"{pem}: the private key is encrypted; give an unencrypted PEM") from None
    except (OSError, ValueError) as exc:
        raise AuthError(f"{pem}: not a readable PEM file with a private key and a certificate "
                        f"({type(exc).__name__})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AuthError(f"{pem}: the private key must be RSA (Entra ID client certificates)")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, spki) != \
            cert.public_key().public_bytes(serialization.Encoding.DER, spki):
        raise AuthError(f"{pem}: the first certificate does not belong to the private key")
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode("ascii")
    # SHA-1 only names the certificate here (JWT header x5t); it protects nothing.
    return {"private_key": key_pem, "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper()}


def _session(verify: bool | str) -> requests.Session:
    session = requests.Session()
    session.verify = verify
    if isinstance(verify, str):
        session.trust_env = False  # else REQUESTS_CA_BUNDLE would override the given bundle
    return session


def _masker(secret: str | None) -> Callable[[str], str]:
    return (lambda text: text.replace(secret, "***")) if secret else (lambda text: text)


def token_provider(c: Credentials) -> TokenProvider:
    """A function returning a Graph access token (cached by MSAL; refreshed on demand).

    Options are checked now; MSAL's application object (which reads the authority's OpenID
    metadata over the network) is built at the first token request, so a caller can refuse
    a bad time range before anyone signs in. Every failure is an AuthError."""
    if not _TENANT.match(c.tenant):
        raise AuthError(f"--tenant {c.tenant!r}: give the tenant id (GUID) or a domain")
    authority = f"{c.authority_host.rstrip('/')}/{c.tenant}"
    common = {"authority": authority, "http_client": _session(c.verify),
              "instance_discovery": False, "timeout": TIMEOUT}
    secret: str | None = None
    if c.device_code:
        make = partial(msal.PublicClientApplication, c.client_id, **common)
        scopes = [DELEGATED_SCOPE]
    else:
        if c.secret_env:
            secret = os.environ.get(c.secret_env)
            if not secret:
                raise AuthError(f"environment variable {c.secret_env} is not set or empty")
            credential: object = secret
        elif c.certificate:
            credential = certificate_credential(Path(c.certificate))
        else:
            raise AuthError("give --client-secret-env, --certificate or --device-code")
        make = partial(msal.ConfidentialClientApplication, c.client_id,
                       client_credential=credential, **common)
        scopes = [GRAPH_SCOPE]
    mask = _masker(secret)
    built: list = []

    def acquire(force_refresh: bool) -> str:
        if not built:
            built.append(make())
        app = built[0]
        if c.device_code:
            accounts = app.get_accounts()
            result = app.acquire_token_silent(scopes, accounts[0], force_refresh=force_refresh) \
                if accounts else None
            if not result:
                result = _device_flow(app, scopes)
        else:
            if force_refresh:
                app.remove_tokens_for_client()
            result = app.acquire_token_for_client(scopes)
        if "access_token" not in result:
            raise AuthError(mask(f"authentication failed: {_describe(result)}"))
        return result["access_token"]

    return lambda force_refresh=False: _guarded(lambda: acquire(force_refresh),
                                                c.authority_host, mask)


def _guarded(call: Callable, host: str, mask: Callable[[str], str]):
    """Run an MSAL call, turning its network and metadata errors into one clean AuthError
    (requests' errors are OSErrors, which callers would otherwise take for file errors)."""
    try:
        return call()
    except AuthError:
        raise
    except requests.RequestException as exc:
        raise AuthError(f"cannot reach the sign-in service at {host}: "
                        f"{type(exc).__name__}") from None
    except ValueError as exc:  # e.g. unreadable OpenID metadata, unknown tenant
        first = (str(exc).splitlines() or [""])[0][:200]
        raise AuthError(mask(f"authentication failed: {first}")) from None


def _device_flow(app: msal.PublicClientApplication, scopes: list[str]) -> dict:
    """Device code sign-in: the instructions go to stderr (stdout may be a report)."""
    flow = app.initiate_device_flow(scopes=scopes)
    if "user_code" not in flow:
        raise AuthError(f"device code sign-in could not start: {_describe(flow)}")
    print(flow.get("message") or f"Open {flow.get('verification_uri')} and enter the code "
          f"{flow['user_code']}", file=sys.stderr, flush=True)
    return app.acquire_token_by_device_flow(flow)  # bounded by the flow's expires_in


def _describe(result: dict) -> str:
    description = (result.get("error_description") or "").strip().splitlines()
    return f"{result.get('error', 'unknown error')}: {(description or [''])[0][:200]}"
