"""Folding the rows of one protocol-log session into an `SmtpSession`, a row at a time.

Only a small state object lives per open session, plus a short reorder window so that rows are
folded in sequence-number order (ties keep file order) without keeping the whole session.
"""

from __future__ import annotations

import re
from collections import deque
from datetime import datetime
from typing import Literal, NamedTuple

from ...model import Location
from ...model.exchange import SmtpSession
from ._certificate import CertificateLines

REORDER_WINDOW = 64  # rows buffered per session before the oldest are folded
REPLIES_HEAD = 15  # first replies kept ...
REPLIES_TAIL = 5  # ... and the last ones: the final reply often explains the disconnect

_TLS_OK = re.compile(
    r"TLS protocol (\w+) negotiation succeeded using bulk encryption algorithm (\w+)", re.I)
_TLS_FAILED = re.compile(r"TLS negotiation failed with error (\w+)", re.I)
_EHLO_REPLY = re.compile(r"250[ -]\S+ Hello \[[^\]]*\]\s+\S", re.I)


class Row(NamedTuple):
    """The fields of one usable log row that matter after grouping."""

    seq: int
    line: int
    time: datetime
    local: str
    remote: str
    event: str
    data: str
    context: str


def remote_ip(endpoint: str) -> str:
    """The address of `ip:port`, `[v6]:port` or `v6%zone:port` (port split on the last colon);
    an IPv4 address a dual-stack socket wrote as IPv6 (`::ffff:a.b.c.d`) as the IPv4 one."""
    host = endpoint.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif ":" in host:
        left, _, port = host.rpartition(":")
        if port.isdigit():
            host = left
    host = host.split("%", 1)[0]
    if host[:7].lower() == "::ffff:" and host.count(".") == 3:
        return host[7:]
    return host


def _tls_outcome(text: str) -> str | None:
    if m := _TLS_OK.search(text):
        protocol = m.group(1).upper().removeprefix("SP_PROT_")
        protocol = protocol.removesuffix("_SERVER").removesuffix("_CLIENT")
        return f"{protocol} {m.group(2)}"
    if m := _TLS_FAILED.search(text):
        return f"failed: {m.group(1)}"
    return None


class SessionState:
    """What is known so far about one session; rows arrive through `add`."""

    def __init__(self, session_id: str, log_type: Literal["receive", "send"], connector_id: str,
                 first: Row, folder_server: str | None = None) -> None:
        self.session_id = session_id
        self.log_type = log_type
        self.connector_id = connector_id
        self.folder_server = folder_server  # from the folder layout: send logs name no server
        # Receive log: `<` is the client's command, `>` our reply. Send log: the other way round.
        self._command_event, self._reply_event = ("<", ">") if log_type == "receive" else (">", "<")
        self.first_line = first.line
        self.start = self.end = self.last_seen = first.time
        self.local_endpoint = ""
        self.remote_endpoint = ""
        self.line_count = 0
        self._pending: list[Row] = []
        self._last_command: str | None = None
        self.ehlo: str | None = None
        self.starttls_offered: bool | None = None
        self.starttls_used = False
        self.tls: str | None = None
        self.certificates = CertificateLines()
        self.messages = 0
        self._replies: list[str] = []
        self._replies_tail: deque[str] = deque(maxlen=REPLIES_TAIL)
        self.disconnect: str | None = None
        self.domain_capabilities: str | None = None

    def add(self, row: Row) -> None:
        """Take one row in file order; folding waits until the reorder window is full."""
        self.line_count += 1
        self.start, self.end = min(self.start, row.time), max(self.end, row.time)
        self.last_seen = row.time
        self.local_endpoint = self.local_endpoint or row.local.strip()
        self.remote_endpoint = self.remote_endpoint or row.remote.strip()
        self._pending.append(row)
        if len(self._pending) >= REORDER_WINDOW:
            self._pending.sort(key=lambda r: r.seq)  # stable: equal numbers keep file order
            keep = REORDER_WINDOW // 2
            for early in self._pending[:-keep]:
                self._fold(early)
            del self._pending[:-keep]

    def finish(self, source: str) -> SmtpSession:
        """Fold what is still pending and build the record."""
        self._pending.sort(key=lambda r: r.seq)
        for row in self._pending:
            self._fold(row)
        self._pending.clear()
        server, _, name = self.connector_id.rpartition("\\")
        receive = self.log_type == "receive"
        return SmtpSession(
            session_id=self.session_id,
            server=(server if receive else None) or self.folder_server,
            connector=name if receive else self.connector_id,
            start=self.start,
            end=self.end,
            local_endpoint=self.local_endpoint,
            remote_ip=remote_ip(self.remote_endpoint),
            location=Location(source, self.first_line),
            log_type=self.log_type,
            ehlo=self.ehlo,
            starttls_offered=self.starttls_offered,
            starttls_used=self.starttls_used,
            tls=self.tls,
            certificate=self.certificates.presented(),
            messages=self.messages,
            replies=tuple(self._replies) + tuple(self._replies_tail),
            disconnect=self.disconnect,
            line_count=self.line_count,
            domain_capabilities=self.domain_capabilities,
        )

    # -- folding, in sequence order ---------------------------------------------------------------

    def _fold(self, row: Row) -> None:
        if row.event == self._command_event:
            self._command(row.data)
        elif row.event == self._reply_event:
            self._reply(row.data)
        elif row.event == "*":
            self._information(row.data, row.context)
        elif row.event == "-" and self.disconnect is None:
            self.disconnect = (row.context or row.data).strip()

    def _command(self, data: str) -> None:
        verb, _, argument = data.strip().partition(" ")
        verb = verb.upper()
        if verb in ("EHLO", "HELO") and self.ehlo is None and argument.strip():
            self.ehlo = argument.strip()
        self._last_command = verb

    def _reply(self, data: str) -> None:
        text = data.strip()
        code = text[:3]
        if not (code.isdigit() and len(text) >= 3):
            return
        command, self._last_command = self._last_command, None
        if len(self._replies) < REPLIES_HEAD:
            self._replies.append(text)
        else:
            self._replies_tail.append(text)
        if code == "250" and (command == "EHLO" or (command is None and _EHLO_REPLY.match(text))):
            offered = any(token.upper() == "STARTTLS" for token in text.split())
            self.starttls_offered = bool(self.starttls_offered) or offered
        elif code == "220" and command == "STARTTLS":
            self.starttls_used = True
        if (self.log_type == "receive" and code == "250" and " 2.6.0 " in text
                and "queued mail for delivery" in text.lower()):
            self.messages += 1

    def _information(self, data: str, context: str) -> None:
        if self.certificates.feed(data, context):
            return
        text = context or data
        if outcome := _tls_outcome(text):
            self.tls = outcome
        elif text.startswith("Failed to connect."):
            if self.disconnect is None:
                self.disconnect = f"connect-failed: {text}"
        else:  # both tests, as the SQL reader makes them (a line may hold both texts)
            if self.log_type == "send" and "sending message with recordid" in text.lower():
                self.messages += 1
            if "TlsDomainCapabilities=" in text:
                self.domain_capabilities = text.strip()
