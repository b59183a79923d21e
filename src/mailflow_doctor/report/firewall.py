"""Renderers for `firewall audit` and `firewall fix`."""

from __future__ import annotations

import ipaddress
import json

from ..diagnose.audit import Audit
from ..diagnose.cite import rule_dict
from ..diagnose.drops import DropGroup, Drops
from ..fixes import Fix
from .terminal import printable

AUDIT_SCHEMA = "mailflow-doctor/firewall-audit/v1"


def audit_dict(a: Audit) -> dict:
    return {
        "schema": AUDIT_SCHEMA,
        "destination": a.destination,
        "sources": a.sources.cidrs(),
        "permitted_prefixes": a.permitted.cidrs(),
        "missing_prefixes": a.missing.cidrs(),
        "indeterminate_prefixes": a.indeterminate.cidrs(),
        "configs": [{
            "config": v.config, "vendor": v.vendor,
            "inside_destination": v.inside_destination, "ingress": v.ingress,
            "permitted_prefixes": (v.permitted & a.sources).cidrs(),
            "missing_prefixes": (v.denied & a.sources).cidrs(),
            "rules": [{"action": d.action, "prefixes": d.prefixes.cidrs(),
                       "rule": rule_dict(d.rule, d.default)} for d in v.decisions],
            "notes": list(v.notes),
            "unused_rules": [{"status": u.status, "prefixes": u.prefixes.cidrs(),
                              "rule": rule_dict(u.rule)} for u in v.unused],
        } for v in a.verdicts],
    }


def audit_json(a: Audit) -> str:
    return json.dumps(audit_dict(a), indent=2) + "\n"


def audit_text(a: Audit) -> str:
    lines = [f"Destination {a.destination}, sources {', '.join(a.sources.cidrs())}",
             f"  permitted:     {', '.join(a.permitted.cidrs()) or '(none)'}",
             f"  missing:       {', '.join(a.missing.cidrs()) or '(none)'}",
             f"  indeterminate: {', '.join(a.indeterminate.cidrs()) or '(none)'}", ""]
    for v in a.verdicts:
        lines.append(f"{v.config} ({v.vendor})"
                     + (f", inside {v.inside_destination}" if v.inside_destination else "")
                     + (f", ingress {v.ingress}" if v.ingress else ""))
        for d in v.decisions:
            where = f"{d.rule.location}: {d.rule.text}" if d.rule else ""
            lines.append(f"  {d.action:13} {', '.join(d.prefixes.cidrs())}")
            lines.append(f"                {d.default + ' — ' if d.default else ''}{where}")
        for u in v.unused:
            lines.append(f"  {u.status}: {u.rule.location}: {u.rule.text} "
                         f"(matches {', '.join(u.prefixes.cidrs())}, decided earlier)")
        lines += [f"  note: {n}" for n in v.notes]
        lines.append("")
    return printable("\n".join(lines))


def fixes_json(fixes: list[Fix]) -> str:
    return json.dumps({"schema": "mailflow-doctor/firewall-fix/v1", "fixes": [
        {"config": f.config, "vendor": f.vendor, "summary": f.summary, "commands": f.commands,
         "verified": f.verified, "verification": f.verification} for f in fixes]},
        indent=2) + "\n"


def fixes_text(fixes: list[Fix]) -> str:
    if not fixes:
        return "Nothing to change: every asked source is permitted (or undecidable offline).\n"
    lines = []
    for f in fixes:
        lines += [f"{f.config} ({f.vendor})", f"  {f.summary}", ""]
        lines += [f"    {c}" for c in f.commands]
        lines += ["", f"  {'Verified' if f.verified else 'NOT verified'}: {f.verification}", ""]
    return printable("\n".join(lines))


def _group_dict(g: DropGroup) -> dict:
    return {"count": g.count, "first": g.first.isoformat() if g.first else None,
            "last": g.last.isoformat() if g.last else None,
            "destinations": sorted(g.destinations), "rules": sorted(g.rules)}


def drops_json(d: Drops) -> str:
    return json.dumps({"schema": "mailflow-doctor/firewall-drops/v1",
                       "ranges": {k: _group_dict(g) for k, g in d.by_range.items()},
                       "networks": {k: _group_dict(g) for k, g in d.by_24.items()},
                       "logged_not_denied": d.logged_only}, indent=2) + "\n"


def drops_text(d: Drops) -> str:
    if not d.by_24:
        return "No denied EOP connection attempts in the logs given.\n"
    lines = ["Denied EOP attempts per published range and network:"]
    for name, g in d.by_range.items():
        lines.append(f"  {name:20} {g.count:7}  {_span(g)}")
        for net, sub in d.by_24.items():
            if ipaddress.ip_network(net).subnet_of(ipaddress.ip_network(name)):  # type: ignore[arg-type]
                lines.append(f"    {net:18} {sub.count:7}  {_span(sub)}  "
                             f"{', '.join(sorted(sub.destinations))}")
    if d.logged_only:
        lines.append(f"({d.logged_only} more logged without saying they were dropped)")
    return printable("\n".join(lines) + "\n")


def _span(g: DropGroup) -> str:
    if not g.first or not g.last:
        return ""
    return f"{g.first:%Y-%m-%d %H:%M} – {g.last:%Y-%m-%d %H:%M}"
