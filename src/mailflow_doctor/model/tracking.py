"""Exchange Server message tracking events (MSGTRK* logs): their own module, so that commands
reading only protocol logs do not build this class."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from . import Location

if TYPE_CHECKING:
    from .trace import DeferReason


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


def message_key(message_id: str | None) -> str:
    """A Message-ID as both the trace and the tracking logs may write it, for comparing: without
    its angle brackets, in lower case."""
    return (message_id or "").strip().strip("<>").lower()
