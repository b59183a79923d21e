"""On-premises Exchange records: SMTP sessions from protocol logs, message tracking events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from . import Location

if TYPE_CHECKING:
    from .trace import DeferReason


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


@dataclass(frozen=True, slots=True)  # slots: tracking logs run to millions of lines
class TrackingEvent:
    """One line of an Exchange Server message tracking log (MSGTRK*), times UTC.

    The subject is deliberately not kept (privacy); the excerpt leaves it out too.
    """

    time_utc: datetime
    event_id: str  # upper case as logged: RECEIVE, SEND, DELIVER, DEFER, FAIL, SENDEXTERNAL, ...
    location: Location
    excerpt: str = ""
    client_ip: str | None = None
    client_hostname: str | None = None
    server_ip: str | None = None
    server_hostname: str | None = None
    source_context: str | None = None  # SMTP RECEIVE: `<protocol-log session-id>;<time>;<n>`
    connector_id: str | None = None
    source: str | None = None  # SMTP, STOREDRIVER, AGENT, ...
    internal_message_id: str | None = None
    message_id: str | None = None
    network_message_id: str | None = None  # Exchange 2013 and later only
    recipients: tuple[str, ...] = ()
    recipient_status: tuple[str, ...] = ()  # aligned with recipients
    reasons: tuple[DeferReason | None, ...] = ()  # decoded recipient_status, aligned with it
    total_bytes: int | None = None
    recipient_count: int | None = None
    sender: str | None = None
    directionality: str | None = None  # Incoming, Originating, Undefined
