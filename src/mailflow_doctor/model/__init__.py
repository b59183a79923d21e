"""The records that flow one way through the tool: evidence → findings → report.

Readers produce evidence records, checks turn them into findings, renderers print a report.
Everything is a plain frozen dataclass so each stage can be tested on its own. This module
holds what every stage shares; the records of one kind of evidence live in their own module
(`trace`, `exchange`, `firewall`, `report`), so a command imports only the kinds it reads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, Literal, TypeVar


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


@dataclass(frozen=True, slots=True)  # slots: every record of a large log holds one
class Location:
    """A file (or probe) and, when known, the 1-based line or row inside it."""

    source: str
    line: int | None = None

    def __str__(self) -> str:
        source = self.source
        if "@" in source:  # perhaps a file extracted from an archive: shown as its member
            source = shown_source(source)
        return f"{source}:{self.line}" if self.line is not None else source


# evidence/archives.py extracts an archive to `<folder>/@<key>/<archive's own path>/<member>`,
# the archive's drive (`C:`) or UNC host and share kept as folders. The folder may be a temporary
# one, gone when the report is read, so a cited file shows as the archive's path followed by the
# member's: `/cases/EX01.zip/SmtpReceive/RECV2026112801-1.LOG`, `C:\cases\EX01.zip\...`; the one
# member of a single file's `.gz` (`…/RECV.LOG.gz/RECV.LOG`) as the `.gz` itself.
_EXTRACTED = re.compile(r"^.*[\\/]@[0-9a-f]{16}-[0-9a-f]{8}(?=[\\/])")
_GZ_MEMBER = re.compile(r"([\\/]([^\\/]+)(?<!\.tar)\.gz)[\\/]\2$", re.I)  # X.gz/X, not y.tar.gz/X
_DRIVE = re.compile(r"\\([A-Za-z])(?=\\)")


def shown_source(source: str, windows: bool = os.name == "nt") -> str:
    """A file's path as cited: an archive member's without the extraction folder."""
    shown = _EXTRACTED.sub("", source, count=1)
    if shown == source:
        return shown
    shown = _GZ_MEMBER.sub(r"\1", shown, count=1)
    if not windows:
        return shown
    drive = _DRIVE.match(shown)  # a drive letter came first, else a UNC host
    return f"{drive.group(1)}:{shown[2:]}" if drive else "\\" + shown


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
