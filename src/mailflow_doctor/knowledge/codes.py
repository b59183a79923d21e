"""What status codes, socket errors and TLS failure names mean for EOP → on-premises delivery.

The facts live in `knowledge/data/*.json`, each entry with the page it comes from, so they can
be reviewed and corrected without touching code. This module only loads them (once) and, for
one decoded Defer reason, combines them into an `Explanation`: the most specific piece of
evidence decides the cause — an inner TLS message beats a socket error, which beats the
enhanced status code — and codes missing from the table still get the RFC 3463 reading of
their class and subject.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..model import Cause
from ..model.trace import DeferReason

__all__ = [
    "StatusInfo",
    "WinsockInfo",
    "TlsMessageInfo",
    "Explanation",
    "lookup_status",
    "lookup_winsock",
    "lookup_tls_message",
    "generic_reading",
    "explain",
    "status_entries",
    "winsock_entries",
    "tls_entries",
]

RFC3463 = "https://www.rfc-editor.org/rfc/rfc3463"

_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d])")
_CLASS = {
    "2": "success",
    "4": "persistent transient failure: the sender keeps the message and retries",
    "5": "permanent failure: the message is returned to the sender",
}
_SUBJECT = {
    "0": "other or undefined status",
    "1": "addressing",
    "2": "mailbox",
    "3": "mail system",
    "4": "network and routing",
    "5": "mail delivery protocol",
    "6": "message content or media",
    "7": "security or policy",
}
# RFC 3463 section 3: the detail codes it defines, by `subject.detail`.
_DETAIL = {
    "0.0": "other undefined status",
    "1.0": "other address status", "1.1": "bad destination mailbox address",
    "1.2": "bad destination system address", "1.3": "bad destination mailbox address syntax",
    "1.4": "destination mailbox address ambiguous", "1.5": "destination address valid",
    "1.6": "destination mailbox has moved, no forwarding address",
    "1.7": "bad sender's mailbox address syntax", "1.8": "bad sender's system address",
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled, not accepting messages", "2.2": "mailbox full",
    "2.3": "message length exceeds administrative limit", "2.4": "mailing list expansion problem",
    "3.0": "other or undefined mail system status", "3.1": "mail system full",
    "3.2": "system not accepting network messages",
    "3.3": "system not capable of selected features", "3.4": "message too big for system",
    "3.5": "system incorrectly configured",
    "4.0": "other or undefined network or routing status", "4.1": "no answer from host",
    "4.2": "bad connection", "4.3": "directory server failure", "4.4": "unable to route",
    "4.5": "mail system congestion", "4.6": "routing loop detected",
    "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status", "5.1": "invalid command",
    "5.2": "syntax error", "5.3": "too many recipients", "5.4": "invalid command arguments",
    "5.5": "wrong protocol version",
    "6.0": "other or undefined media error", "6.1": "media not supported",
    "6.2": "conversion required and prohibited", "6.3": "conversion required but not supported",
    "6.4": "conversion with loss performed", "6.5": "conversion failed",
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
    "7.2": "mailing list expansion prohibited",
    "7.3": "security conversion required but not possible",
    "7.4": "security features not supported", "7.5": "cryptographic failure",
    "7.6": "cryptographic algorithm not supported", "7.7": "message integrity failure",
}


@dataclass(frozen=True)
class StatusInfo:
    """One enhanced status code (or a documented range such as 4.7.500-699)."""

    code: str
    title: str
    meaning: str
    likely_causes: tuple[str, ...]
    fixes: tuple[str, ...]
    cause: Cause
    related_causes: tuple[Cause, ...]
    raised_by: str
    sources: tuple[str, ...]
    replies: tuple[str, ...] = ()


@dataclass(frozen=True)
class WinsockInfo:
    """One Windows Sockets error code and what it suggests on the EOP → on-premises path."""

    code: int
    name: str
    description: str
    hybrid_reading: str
    cause: Cause
    related_causes: tuple[Cause, ...]
    checks: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class TlsMessageInfo:
    """One TLS failure name as it appears inside `[Message=...]` or `MSG=`."""

    name: str
    match: tuple[str, ...]
    meaning: str
    fixes: tuple[str, ...]
    cause: Cause
    related_causes: tuple[Cause, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    """The reading of one Defer/Fail reason.

    `cause` is None when nothing more than the status class is known. `generic` is True when
    the enhanced code is not in the table and its meaning comes from RFC 3463 alone. `basis`
    says which piece decided the cause: tls-message, socket-error, status-code or none.
    """

    cause: Cause | None
    title: str
    meaning: str
    fixes: tuple[str, ...]
    sources: tuple[str, ...]
    generic: bool
    basis: str
    related_causes: tuple[Cause, ...] = ()
    likely_causes: tuple[str, ...] = ()  # the status code's documented readings, in words
    status: StatusInfo | None = None
    winsock: WinsockInfo | None = None
    tls: TlsMessageInfo | None = None


# -- loading ---------------------------------------------------------------------------------------


def _read(name: str) -> dict:
    text = resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")
    return json.loads(text)


def _causes(values: list[str]) -> tuple[Cause, ...]:
    return tuple(Cause(v) for v in values)


@cache
def status_entries() -> tuple[StatusInfo, ...]:
    """Every status-code entry, in file order."""
    return tuple(
        StatusInfo(
            code=e["code"],
            title=e["title"],
            meaning=e["meaning"],
            likely_causes=tuple(e["likely_causes"]),
            fixes=tuple(e["fixes"]),
            cause=Cause(e["cause"]),
            related_causes=_causes(e.get("related_causes", [])),
            raised_by=e["raised_by"],
            sources=tuple(e["sources"]),
            replies=tuple(e.get("replies", [])),
        )
        for e in _read("status_codes.json")["codes"]
    )


@cache
def winsock_entries() -> tuple[WinsockInfo, ...]:
    """Every Winsock entry, in file order."""
    return tuple(
        WinsockInfo(
            code=int(e["code"]),
            name=e["name"],
            description=e["description"],
            hybrid_reading=e["hybrid_reading"],
            cause=Cause(e["cause"]),
            related_causes=_causes(e.get("related_causes", [])),
            checks=tuple(e.get("checks", [])),
            sources=tuple(e["sources"]),
        )
        for e in _read("winsock.json")["codes"]
    )


@cache
def tls_entries() -> tuple[TlsMessageInfo, ...]:
    """Every TLS message entry, in file order."""
    return tuple(
        TlsMessageInfo(
            name=e["name"],
            match=tuple(e["match"]),
            meaning=e["meaning"],
            fixes=tuple(e["fixes"]),
            cause=Cause(e["cause"]),
            related_causes=_causes(e.get("related_causes", [])),
            sources=tuple(e["sources"]),
        )
        for e in _read("tls_messages.json")["messages"]
    )


def _key(cls: str, subject: str, detail: str) -> str:
    return f"{int(cls)}.{int(subject)}.{int(detail)}"


@cache
def _status_index() -> tuple[dict[str, StatusInfo], tuple[tuple[str, int, int, StatusInfo], ...]]:
    exact: dict[str, StatusInfo] = {}
    ranges = []
    for info in status_entries():
        head, dash, high = info.code.partition("-")
        m = _ENHANCED.fullmatch(head)
        if m is None:
            raise ValueError(f"status_codes.json: bad code {info.code!r}")
        if dash:
            prefix = f"{int(m.group(1))}.{int(m.group(2))}"
            ranges.append((prefix, int(m.group(3)), int(high), info))
        else:
            exact[_key(*m.groups())] = info
    return exact, tuple(ranges)


@cache
def _winsock_index() -> dict[int, WinsockInfo]:
    return {info.code: info for info in winsock_entries()}


@cache
def _tls_index() -> tuple[re.Pattern[str], dict[str, TlsMessageInfo]]:
    by_text = {m.lower(): info for info in tls_entries() for m in info.match}
    alternatives = sorted(by_text, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(a) for a in alternatives), re.IGNORECASE)
    return pattern, by_text


# -- lookups ---------------------------------------------------------------------------------------


def lookup_status(enhanced_code: str | None) -> StatusInfo | None:
    """The table entry for an enhanced code (`4.4.316`, also found inside `450 4.4.316 ...`)."""
    if not enhanced_code:
        return None
    m = _ENHANCED.search(str(enhanced_code))
    if m is None:
        return None
    exact, ranges = _status_index()
    key = _key(*m.groups())
    info = exact.get(key)
    if info is not None:
        return info
    prefix, _, detail = key.rpartition(".")
    for range_prefix, low, high, info in ranges:
        if prefix == range_prefix and low <= int(detail) <= high:
            return info
    return None


def lookup_winsock(code: int | str | None) -> WinsockInfo | None:
    """The table entry for a Windows Sockets error code."""
    try:
        return _winsock_index().get(int(code))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def lookup_tls_message(text: str | None) -> TlsMessageInfo | None:
    """The TLS failure named in a message; the earliest mention wins."""
    if not text:
        return None
    pattern, by_text = _tls_index()
    m = pattern.search(text)
    return by_text[m.group(0).lower()] if m else None


def generic_reading(enhanced_code: str | None, smtp_code: int | None = None) -> str:
    """RFC 3463 reading of a code from its class (2/4/5), subject (x.1 ... x.7) and detail."""
    m = _ENHANCED.search(enhanced_code or "")
    if m:
        cls, subject, detail = m.group(1), str(int(m.group(2))), str(int(m.group(3)))
        subject_text = _SUBJECT.get(subject, "an unassigned subject")
        detail_text = _DETAIL.get(f"{subject}.{detail}")
        return (
            f"{m.group(0)} is not in the table of known codes. By its class it is a "
            f"{_CLASS[cls]}; by its subject (x.{subject}) it concerns {subject_text}; "
            + (f"its detail (x.{subject}.{detail}) reads \"{detail_text}\" in RFC 3463."
               if detail_text else
               f"its detail (x.{subject}.{detail}) is not one RFC 3463 defines.")
        )
    if smtp_code is not None and str(smtp_code)[:1] in _CLASS:
        return (f"SMTP reply {smtp_code} carries no enhanced code; by its first digit it is a "
                f"{_CLASS[str(smtp_code)[0]]}.")
    return "The reason carries no SMTP status code."


# -- combining -------------------------------------------------------------------------------------


def _unique(items) -> tuple:
    return tuple(dict.fromkeys(items))


def explain(reason: DeferReason) -> Explanation:
    """Combine status code, socket error and inner TLS message into one reading."""
    status = lookup_status(reason.enhanced_code)
    winsock = lookup_winsock(reason.socket_error) if reason.socket_error is not None else None
    tls = None
    for text in (reason.inner_message, reason.msg, reason.text):
        tls = lookup_tls_message(text)
        if tls is not None:
            break

    decider = tls or winsock or status
    basis = ("tls-message" if tls else "socket-error" if winsock
             else "status-code" if status else "none")
    reply = " ".join(str(p) for p in (reason.smtp_code, reason.enhanced_code) if p)

    title = status.title if status else (reason.text or "Unrecognised status")
    if tls:
        title = f"{title}: {tls.name}"
    elif winsock:
        title = f"{title} (Winsock {winsock.code} {winsock.name})"
    if reply:
        title = f"{reply} {title}"

    meaning = [status.meaning if status else generic_reading(reason.enhanced_code,
                                                             reason.smtp_code)]
    if winsock:
        meaning.append(f"Socket error {winsock.code} ({winsock.name}): {winsock.description} "
                       f"{winsock.hybrid_reading}")
    if tls:
        meaning.append(f"{tls.name}: {tls.meaning}")

    parts = [p for p in (tls, winsock, status) if p is not None]
    fixes = _unique(
        fix for p in parts for fix in (p.checks if isinstance(p, WinsockInfo) else p.fixes)
    )
    sources = _unique(s for p in parts for s in p.sources)
    if status is None:
        sources = sources + (RFC3463,)
    related = _unique(c for p in parts for c in (p.cause, *p.related_causes))
    cause = decider.cause if decider else None

    return Explanation(
        cause=cause,
        title=title,
        meaning=" ".join(meaning),
        fixes=fixes,
        sources=sources,
        generic=status is None,
        basis=basis,
        related_causes=tuple(c for c in related if c != cause),
        likely_causes=status.likely_causes if status else (),
        status=status,
        winsock=winsock,
        tls=tls,
    )
