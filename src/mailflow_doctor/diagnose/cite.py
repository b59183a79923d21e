"""Evidence references, so every finding cites the file and line it rests on the same way."""

from __future__ import annotations

from pathlib import Path

from ..model import EvidenceRef, Location
from ..model.exchange import SmtpSession
from ..model.firewall import DenyEvent, RuleRef
from ..model.trace import TraceEvent

EXCERPT_MAX = 300


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= EXCERPT_MAX else text[: EXCERPT_MAX - 1] + "…"


def trace_event(event: TraceEvent) -> EvidenceRef:
    return EvidenceRef("message-trace", str(event.location), _clip(event.excerpt or event.detail))


def session(s: SmtpSession, note: str = "") -> EvidenceRef:
    text = note or (f"session {s.session_id} from {s.remote_ip} at {s.start:%Y-%m-%dT%H:%M:%SZ}"
                    f" on {s.connector}")
    return EvidenceRef("smtp-receive-log", str(s.location), _clip(text))


def rule(r: RuleRef) -> EvidenceRef:
    return EvidenceRef("firewall-config", str(r.location), _clip(r.text))


def rule_dict(r: RuleRef | None, default: str | None = None) -> dict | None:
    """A rule as it appears in `details` of the JSON report."""
    if r is None:
        return None
    return {"name": r.name, "text": r.text, "location": str(r.location), "default": default}


def short(location: Location) -> str:
    """`file:line` with the file's name only, for prose; evidence keeps the full path."""
    name = Path(location.source).name
    return f"{name}:{location.line}" if location.line is not None else name


def deny(e: DenyEvent) -> EvidenceRef:
    return EvidenceRef("firewall-log", str(e.location), _clip(e.excerpt))
