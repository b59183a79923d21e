"""Renderers for `mailflow-doctor decode`: one reason string and what it means."""

from __future__ import annotations

import textwrap

from ..knowledge.codes import Explanation
from ..model.trace import DeferReason
from .terminal import json_text, printable

_FIELDS = ("smtp_code", "enhanced_code", "text", "inner_message", "msg", "fqdn", "ip", "lrt",
           "last_attempted_server", "last_attempted_ip", "smtp_security", "eop_server",
           "eop_time", "eop_session", "proxy_target_ip", "proxy_target_host", "socket_error",
           "truncated")


def reason_dict(reason: DeferReason) -> dict:
    """The decoded fields, as every JSON output shows a reason."""
    out = {}
    for name in _FIELDS:
        value = getattr(reason, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def explanation_dict(x: Explanation) -> dict:
    return {
        "cause": x.cause.value if x.cause else None,
        "title": x.title,
        "meaning": x.meaning,
        "likely_causes": list(x.likely_causes),
        "related_causes": [c.value for c in x.related_causes],
        "fixes": list(x.fixes),
        "generic": x.generic,
        "basis": x.basis,
        "sources": list(x.sources),
    }


def render_json(reason: DeferReason, x: Explanation) -> str:
    return json_text({"reason": reason_dict(reason), "explanation": explanation_dict(x)})


def render_text(reason: DeferReason, x: Explanation) -> str:
    lines = [x.title, ""]
    for name in _FIELDS:
        value = getattr(reason, name)
        if value not in (None, "", False):
            lines.append(f"  {name.replace('_', ' '):22} {value}")
    lines.append("")
    lines += textwrap.wrap(x.meaning, 100)
    if x.cause:
        related = ", ".join(c.value for c in x.related_causes)
        lines.append(f"\nMost likely cause: {x.cause.value}"
                     + (f" (also possible: {related})" if related else ""))
    if x.generic:
        lines.append("(generic reading from the code's class and subject; not in the table)")
    if x.likely_causes:
        lines.append("\nKnown causes:")
        lines += [f"  - {c}" for c in x.likely_causes]
    if x.fixes:
        lines.append("\nWhat to check or change:")
        lines += [f"  - {f}" for f in x.fixes]
    lines.append("\nSources:")
    lines += [f"  {s}" for s in x.sources]
    return printable("\n".join(lines) + "\n")
