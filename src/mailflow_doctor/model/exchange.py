"""On-premises Exchange records: SMTP sessions from protocol logs (tracking events: `.tracking`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from . import Location


@dataclass(frozen=True)
class Certificate:
    """The certificate Exchange presented, as written in the protocol log."""

    subject: str | None = None
    issuer: str | None = None
    serial: str | None = None
    thumbprint: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    san: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmtpSession:
    """One SMTP session reconstructed from a protocol log."""

    session_id: str
    server: str | None
    connector: str
    start: datetime
    end: datetime
    local_endpoint: str
    remote_ip: str
    location: Location  # first line of the session
    log_type: Literal["receive", "send"] = "receive"
    ehlo: str | None = None
    starttls_offered: bool | None = None  # None: no EHLO reply was logged
    starttls_used: bool = False
    tls: str | None = None  # "TLS1_2 AES_128" on success, "failed: NoCredentials" on failure
    certificate: Certificate | None = None
    messages: int = 0
    replies: tuple[str, ...] = ()
    disconnect: str | None = None
    line_count: int = 0
    # The receive side's TlsDomainCapabilities line, e.g. `TlsDomainCapabilities='None';
    # Status='NoRemoteCertificate'`: whether the peer was taken for Exchange Online (the last
    # such line of the session, as logged).
    domain_capabilities: str | None = None
