"""Cisco ASA: add the missing prefixes to the object-group the permitting ACE already uses;
failing that, one ACE per prefix just above the entry (or at the end of the list) that denies.
"""

from __future__ import annotations

import ipaddress
import re

from ..ipspace import PrefixSet
from ..model.firewall import Decision, FlowVerdict
from . import Fix, Insertion

_OPERAND_START = {"any", "any4", "any6", "host", "object", "object-group", "interface"}


def _network_object(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str:
    if net.version == 6:
        return str(net)
    return f"{net.network_address} {net.netmask}"


def _source_group(ace: str) -> str | None:
    """The object-group an ACE takes its sources from, if it does."""
    w = ace.split()
    if len(w) < 6 or w[0] != "access-list" or w[2] != "extended":
        return None
    i = 4
    if w[i] in ("object-group", "object"):  # a service or protocol object as the protocol
        i += 2
    else:
        i += 1
    if i + 1 < len(w) and w[i] == "object-group":
        return w[i + 1]
    return None


def _group_end(lines: list[str], name: str) -> int | None:
    """1-based line number of the last line of `object-group network NAME`."""
    start = None
    for no, line in enumerate(lines, 1):
        if start is None:
            if re.fullmatch(rf"object-group network {re.escape(name)}\s*", line.rstrip()):
                start = no
            continue
        if not line.startswith(" "):
            return no - 1
    return len(lines) if start is not None else None


def _uses(lines: list[str], group: str) -> list[str]:
    return [ln.strip() for ln in lines
            if ln.startswith("access-list ") and f" object-group {group} " in f"{ln} "]


def _acl_position(lines: list[str], acl: str, line_no: int) -> int:
    """ASA `line N` of the entry at `line_no` (remarks count as lines too)."""
    return sum(1 for ln in lines[:line_no] if ln.startswith(f"access-list {acl} "))


def _acl_of(decision: Decision) -> str | None:
    if decision.rule is None:
        return None
    words = decision.rule.text.split()
    return words[1] if len(words) > 1 and words[0] in ("access-list", "access-group") else None


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    lines = text.splitlines()
    nets = missing.networks()
    permits = [d for d in verdict.decisions if d.action == "permit" and d.rule]
    for d in permits if prefer_group else []:
        group = _source_group(d.rule.text) if d.rule else None
        end = _group_end(lines, group) if group else None
        if group and end:
            children = tuple(f" network-object {_network_object(n)}" for n in nets)
            users = _uses(lines, group)
            summary = (f"Add {', '.join(missing.cidrs())} to object-group {group}, which the "
                       f"permitting entry at line {d.rule.location.line} already uses.")
            if len(users) > 1:
                summary += (f" Note: {len(users)} access-list entries use this group; all of "
                            "them will cover the new prefixes.")
            return Fix("cisco-asa", verdict.config, summary,
                       [f"object-group network {group}", *children],
                       [Insertion(end, children)])
    return _new_entries(lines, verdict, nets)


def _new_entries(lines: list[str], verdict: FlowVerdict, nets: list) -> Fix:
    """One permit per prefix above each denying entry, or appended before the implicit deny."""
    host = (verdict.inside_destination or verdict.destination).rsplit(":", 1)[0].strip("[]")
    port = int((verdict.inside_destination or verdict.destination).rsplit(":", 1)[1])
    service = "smtp" if port == 25 else str(port)
    commands: list[str] = []
    insertions: list[Insertion] = []
    missing = PrefixSet.parse(*nets)
    for d in verdict.decisions:
        part = d.prefixes & missing
        acl = _acl_of(d)
        if d.action != "deny" or not part or acl is None or d.rule is None:
            continue
        entries = [f"access-list {acl} extended permit tcp {_network_object(n)} host {host} "
                   f"eq {service}" for n in part.networks()]
        if d.default:  # implicit deny: append after the list's last entry
            last = max(no for no, ln in enumerate(lines, 1) if ln.startswith(f"access-list {acl} "))
            commands += entries
            insertions.append(Insertion(last, tuple(entries)))
        else:
            pos = _acl_position(lines, acl, d.rule.location.line or 0)
            commands += [e.replace(f"access-list {acl} extended",
                                   f"access-list {acl} line {pos} extended") for e in entries]
            insertions.append(Insertion((d.rule.location.line or 1) - 1, tuple(entries)))
    summary = (f"Insert permits for {', '.join(missing.cidrs())} to host {host} above the "
               "entries that deny them.")
    return Fix("cisco-asa", verdict.config, summary, commands, insertions)
