"""Tokens for Microsoft Graph through MSAL: client secret, certificate, or device code.

The secret is read from an environment variable named by the admin, so it never appears on a
command line, in shell history, in output or in files we write; errors carry MSAL's error code
and description only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DELEGATED_SCOPE = "https://graph.microsoft.com/ExchangeMessageTrace.Read.All"


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


def _certificate_credential(pem: Path) -> dict:
    data = pem.read_bytes()
    cert = x509.load_pem_x509_certificate(data)
    return {"private_key": data.decode("ascii", "replace"),
            "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper()}  # noqa: S303 - the x5t


def token_provider(c: Credentials) -> TokenProvider:
    """A function returning a Graph access token (cached by MSAL; refreshed on demand)."""
    authority = f"{c.authority_host.rstrip('/')}/{c.tenant}"
    session = requests.Session()
    session.verify = c.verify
    if isinstance(c.verify, str):
        session.trust_env = False  # else REQUESTS_CA_BUNDLE would override the given bundle
    common = dict(authority=authority, http_client=session, instance_discovery=False,
                  timeout=30)
    if c.device_code:
        app = msal.PublicClientApplication(c.client_id, **common)
        scopes = [DELEGATED_SCOPE]
    else:
        if c.secret_env:
            secret = os.environ.get(c.secret_env)
            if not secret:
                raise AuthError(f"environment variable {c.secret_env} is not set or empty")
            credential: object = secret
        elif c.certificate:
            try:
                credential = _certificate_credential(c.certificate)
            except (OSError, ValueError) as exc:
                raise AuthError(f"{c.certificate}: not a readable PEM certificate and key "
                                f"({type(exc).__name__})") from None
        else:
            raise AuthError("give --client-secret-env, --certificate or --device-code")
        app = msal.ConfidentialClientApplication(c.client_id, client_credential=credential,
                                                 **common)
        scopes = [GRAPH_SCOPE]

    def get(force_refresh: bool = False) -> str:
        try:
            return _acquire(force_refresh)
        except requests.RequestException as exc:  # MSAL talks through requests
            raise AuthError(f"cannot reach the sign-in service at {c.authority_host}: "
                            f"{type(exc).__name__}") from None

    def _acquire(force_refresh: bool) -> str:
        if c.device_code:
            accounts = app.get_accounts()
            result = app.acquire_token_silent(scopes, accounts[0]) if accounts and not \
                force_refresh else None
            if not result:
                flow = app.initiate_device_flow(scopes=scopes)
                print(flow.get("message", "device code flow could not start"), file=sys.stderr)
                result = app.acquire_token_by_device_flow(flow)
        else:
            if force_refresh:
                app.remove_tokens_for_client()
            result = app.acquire_token_for_client(scopes)
        if "access_token" not in result:
            raise AuthError(f"authentication failed: {result.get('error', 'unknown error')}: "
                            f"{(result.get('error_description') or '').splitlines()[0][:200]}")
        return result["access_token"]

    return get
