"""Plain-text report for the terminal and for pasting into a ticket."""

from __future__ import annotations

import textwrap
from collections import Counter

from ..model.report import Report
from .terminal import escaped, printable

WIDTH = 100


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent]


def render(report: Report) -> str:
    lines: list[str] = ["mailflow-doctor diagnosis", "=" * 25]
    target = report.summary.get("target")
    if target:
        where = target.get("fqdn") or ""
        if target.get("ip"):
            where = f"{where} ({target['ip']}:{target['port']})" if where else \
                f"{target['ip']}:{target['port']}"
        lines.append(f"On-premises endpoint: {escaped(where.strip())}")
    lines.append(f"EOP ranges: {report.endpoints}")
    got = report.summary.get("on_premises_receipts")
    unread = report.summary.get("tracking_files_outside_window", 0)
    if got and unread and not report.summary.get("tracking_files_read"):
        lines.append(f"Message tracking: none of the {unread} log file(s) given comes near the "
                     "time the trace covers, so none was read")
    elif got and got["deferred_messages"]:
        first = got["examples"][0] if got["examples"] else None
        when = f"the first at {first['received'][:16]}Z" if first else ""
        source = f", from {escaped(first['source_ip'])}" if first and first["source_ip"] else ""
        lines.append(f"Message tracking: {got['received_later']} of {got['deferred_messages']} "
                     "message(s) EOP deferred were received on-premises later"
                     + (f" ({when}{source})" if first else "")
                     + (f"; {unread} log file(s) far from the trace's time span not read"
                        if unread else ""))
    lines.append("")

    if not report.findings:
        lines.append("No problem found in the evidence given.")
    for n, f in enumerate(report.findings, 1):
        lines.append(f"{n}. [{f.severity.upper()}] {escaped(f.title)}")
        lines.append(f"   cause: {f.cause.value}   confidence: {f.confidence:.0%}")
        lines.extend(_wrap(f.explanation, "   "))
        for key in ("missing_prefixes", "permitted_prefixes"):
            if f.details.get(key):
                label = key.replace("_", " ")
                lines.append(f"   {label}: {', '.join(f.details[key])}")
        if f.remediation:
            lines.append("   What to do:")
            for step in f.remediation:
                lines.extend(_wrap(step, "     - ")[:1] + _wrap(step, "       ")[1:])
        fix = f.details.get("fix")
        if fix and fix.get("commands"):
            state = "verified" if fix.get("verified") else "NOT verified"
            lines.append(f"   The change ({state}):")
            lines.extend(f"       {command}" for command in fix["commands"])
        if f.evidence:
            lines.append("   Evidence:")
            for e in f.evidence:
                lines.append(f"     {escaped(str(e.location))}  "
                             f"{escaped(e.excerpt[:WIDTH - 10])}")
        lines.append("")

    if report.missing_evidence:
        lines.append("Evidence that would settle more:")
        for item in report.missing_evidence:
            lines.extend(_wrap(item, "  - ")[:1] + _wrap(item, "    ")[1:])
        lines.append("")
    if report.problems:
        lines.append(f"Input problems ({len(report.problems)}; the rest of each file was used):")
        for p in report.problems[:20]:
            lines.append(f"  {escaped(str(p))}")
        if len(report.problems) > 20:
            lines.append(f"  ... and {len(report.problems) - 20} more")
        lines.append("")
    lines.append("Inputs:")
    by_kind = Counter(kind for _, kind in report.inputs)
    width = max(map(len, by_kind), default=0)
    for kind, count in sorted(by_kind.items()):
        paths = [p for p, k in report.inputs if k == kind]
        first = escaped(paths[0])
        shown = first if count == 1 else f"{count} files, e.g. {first}"
        lines.append(f"  {kind:{width}} {shown}")
    return printable("\n".join(lines) + "\n")
