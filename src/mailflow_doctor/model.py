"""The records that flow one way through the tool: evidence → findings → report.

Readers produce evidence records, checks turn them into findings, renderers print a report.
Everything here is a plain frozen dataclass so each stage can be tested on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Generic, Literal, Protocol, TypeVar

from .ipspace import IPAddress, PrefixSet

REPORT_SCHEMA = "mailflow-doctor/report/v1"


class Cause(str, Enum):
    """Root-cause codes of the JSON contract (extend, never rename)."""

    FIREWALL_BLOCKS_EOP = "firewall-blocks-eop"
    SERVICE_NOT_LISTENING = "service-not-listening"
    NETWORK_TIMEOUT = "network-timeout"
    CONNECTION_RESET = "connection-reset"
    DNS_FAILURE = "dns-failure"
    DNS_MISMATCH = "dns-mismatch"
    STARTTLS_NOT_OFFERED = "starttls-not-offered"
    TLS_HANDSHAKE_FAILED = "tls-handshake-failed"
    CERT_NAME_MISMATCH = "cert-name-mismatch"
    CERT_EXPIRED = "cert-expired"
    CERT_UNTRUSTED = "cert-untrusted"
    CERT_NO_PRIVATE_KEY = "cert-no-private-key"
    CONNECTOR_CERT_STALE = "connector-cert-stale"
    RECEIVE_CONNECTOR_REJECTS_EOP = "receive-connector-rejects-eop"
    EOP_SOURCE_UNPUBLISHED = "eop-source-unpublished"
    THROTTLED = "throttled"
    ONPREM_DECOMMISSIONED = "onprem-decommissioned"
    MESSAGE_EXPIRED = "message-expired"


Severity = Literal["error", "warning", "info"]


# -- where facts come from ------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """A file (or probe) and, when known, the 1-based line or row inside it."""

    source: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


@dataclass(frozen=True)
class EvidenceRef:
    """One piece of evidence cited by a finding: `{source, location, excerpt}` in the JSON."""

    source: str  # kind of evidence, e.g. "message-trace", "smtp-receive-log", "firewall-config"
    location: str  # "file:line"
    excerpt: str


@dataclass(frozen=True)
class InputProblem:
    """A record that could not be used; reported as one line, never raised past the CLI."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


T = TypeVar("T")


@dataclass
class Parsed(Generic[T]):
    """What a reader returns: the good records and the problems found on the way."""

    records: list[T] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


# -- message trace ---------------------------------------------------------------------------------


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


# -- on-premises Exchange --------------------------------------------------------------------------


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


# -- firewalls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRef:
    """The rule that decided some traffic, quoted as written."""

    name: str  # ACL or chain name
    text: str
    location: Location


Action = Literal["permit", "deny", "indeterminate"]


@dataclass(frozen=True)
class Decision:
    """Which part of the asked source space one rule (or the default) decided, and how."""

    prefixes: PrefixSet
    action: Action
    # The deciding rule; for the default at the end, the line that sets it (the access-group
    # binding, the chain policy header). None only when no such line exists.
    rule: RuleRef | None
    default: str | None = None  # set for defaults: "implicit deny at the end of access-list X"


@dataclass(frozen=True)
class UnusedRule:
    """A rule that matches some asked sources but decides none: earlier rules already did."""

    rule: RuleRef
    prefixes: PrefixSet  # the asked sources it matches
    status: Literal["redundant", "shadowed"]  # same action as what decided them, or opposite


@dataclass(frozen=True)
class FlowVerdict:
    """The answer of one ruleset to: may these sources reach destination:port over TCP?"""

    config: str
    vendor: str
    destination: str  # "ip:port" as asked (the public endpoint)
    decisions: tuple[Decision, ...]
    inside_destination: str | None = None  # after destination NAT, when the ruleset maps it
    ingress: str | None = None  # interface the traffic arrives on
    notes: tuple[str, ...] = ()
    unused: tuple[UnusedRule, ...] = ()  # rules that match asked sources but decide none

    def prefixes(self, action: Action) -> PrefixSet:
        out = PrefixSet()
        for d in self.decisions:
            if d.action == action:
                out = out | d.prefixes
        return out

    @property
    def permitted(self) -> PrefixSet:
        return self.prefixes("permit")

    @property
    def denied(self) -> PrefixSet:
        return self.prefixes("deny")


class FirewallRuleset(Protocol):
    """A parsed firewall configuration that can answer a TCP flow question exactly."""

    vendor: str
    source: str

    def evaluate(
        self, sources: PrefixSet, destination: IPAddress, port: int, ingress: str | None = None
    ) -> FlowVerdict: ...


@dataclass(frozen=True)
class DenyEvent:
    """One firewall log line about a TCP connection attempt (times UTC when known)."""

    time_utc: datetime | None
    source_ip: str
    dest_ip: str
    dest_port: int
    location: Location
    action: Literal["deny", "logged"] = "deny"  # kernel LOG lines only say "logged"
    rule: str | None = None  # ACL name or log prefix
    interface: str | None = None
    excerpt: str = ""


# -- findings and report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One diagnosed cause, with why we believe it and what to change."""

    cause: Cause
    severity: Severity
    confidence: float
    title: str
    explanation: str
    remediation: tuple[str, ...] = ()
    evidence: tuple[EvidenceRef, ...] = ()
    details: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Report:
    """Everything a renderer needs; renderers never compute."""

    findings: tuple[Finding, ...]
    inputs: tuple[tuple[str, str], ...] = ()  # (file, detected kind)
    missing_evidence: tuple[str, ...] = ()
    problems: tuple[InputProblem, ...] = ()
    endpoints: str = ""  # which Microsoft 365 endpoints snapshot was used
    summary: dict = field(default_factory=dict, hash=False, compare=False)
