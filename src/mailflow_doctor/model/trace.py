"""Message trace records: one event per recipient and step, and the decoded Defer/Fail reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import Location


@dataclass(frozen=True, slots=True)
class DeferReason:
    """A decoded Exchange Online Defer/Fail reason (`[{LED=...};{MSG=...};...]`)."""

    raw: str
    smtp_code: int | None = None
    enhanced_code: str | None = None
    text: str = ""
    inner_message: str | None = None
    msg: str | None = None
    fqdn: str | None = None
    ip: str | None = None
    lrt: datetime | None = None
    last_attempted_server: str | None = None
    last_attempted_ip: str | None = None
    smtp_security: str | None = None
    eop_server: str | None = None
    eop_time: datetime | None = None
    eop_session: str | None = None
    proxy_target_ip: str | None = None
    proxy_target_host: str | None = None
    socket_error: int | None = None
    truncated: bool = False

    @property
    def target_ip(self) -> str | None:
        """The on-premises address EOP tried, from whichever field carries it."""
        ip = self.ip or self.proxy_target_ip or self.last_attempted_ip
        return ip.rsplit(":", 1)[0] if ip and ip.count(":") == 1 else ip

    @property
    def target_host(self) -> str | None:
        return self.fqdn or self.proxy_target_host or self.last_attempted_server


@dataclass(frozen=True, slots=True)  # slots: a trace can hold millions of events
class TraceEvent:
    """One message-trace event, whatever export it came from (times are UTC)."""

    time_utc: datetime
    message_id: str
    recipient: str
    event: str  # normalised lower case: receive, send, defer, fail, deliver, expand, ...
    location: Location
    excerpt: str = ""
    trace_id: str | None = None
    sender: str | None = None
    status: str | None = None
    source_ip: str | None = None  # EOP sending address, when the export carries it
    target_ip: str | None = None
    target_fqdn: str | None = None
    detail: str = ""
    reason: DeferReason | None = None
    data: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
