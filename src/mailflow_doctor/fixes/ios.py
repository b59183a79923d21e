"""Cisco IOS: one permit per missing prefix, with sequence numbers just below the entry that
denies them (or after the last entry, for the implicit deny)."""

from __future__ import annotations

from ..ipspace import PrefixSet
from ..model.firewall import FlowVerdict
from . import Fix, Insertion


def _sequences(lines: list[str], acl: str) -> list[tuple[int, int]]:
    """(line number, sequence) of the entries of one list; implicit 10, 20, ... when unnumbered."""
    out, inside = [], False
    for no, raw in enumerate(lines, 1):
        if raw.startswith(f"ip access-list extended {acl}") or raw.startswith(
                f"ip access-list standard {acl}"):
            inside = True
            continue
        if inside and not raw.startswith(" "):
            inside = False
        words = raw.split()
        if inside and words and words[0] != "remark":
            out.append((no, int(words[0]) if words[0].isdigit() else 10 * (len(out) + 1)))
        elif raw.startswith(f"access-list {acl} ") and words[2:3] != ["remark"]:
            out.append((no, 10 * (len(out) + 1)))
    return out


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    lines = text.splitlines()
    host = verdict.destination.rsplit(":", 1)[0]
    port = verdict.destination.rsplit(":", 1)[1]
    service = "smtp" if port == "25" else port
    commands: list[str] = []
    insertions: list[Insertion] = []
    for d in verdict.decisions:
        part = d.prefixes & missing
        if d.action != "deny" or not part or d.rule is None:
            continue
        acl = d.rule.name
        named = any(ln.startswith(f"ip access-list extended {acl}") for ln in lines)
        entries = _sequences(lines, acl)
        nets = part.networks()
        if d.default:
            after = entries[-1][0] if entries else d.rule.location.line or 0
            first = (entries[-1][1] if entries else 0) + 10
        else:
            line = d.rule.location.line or 0
            before = [seq for no, seq in entries if no < line]
            deny_seq = next(seq for no, seq in entries if no == line)
            first = (before[-1] if before else 0) + 1
            after = line - 1
            if deny_seq - first < len(nets):  # no room: spread the entries out first
                step = 10 ** len(str(len(nets) + 1))
                commands.append(f"ip access-list resequence {acl} {step} {step}")
                first = len(before) * step + 1
        seqs = range(first, first + len(nets))
        body = [f"permit tcp {n.network_address} {n.hostmask} host {host} eq {service}"
                for n in nets]
        numbered = [f" {s} {b}" for s, b in zip(seqs, body)]
        commands += [f"ip access-list extended {acl}", *numbered]  # numbered lists too
        saved = numbered if named else [f"access-list {acl} {b}" for b in body]
        insertions.append(Insertion(after, tuple(saved)))
    return Fix("cisco-ios", verdict.config,
               f"Permit {', '.join(missing.cidrs())} to host {host} above the entries that deny "
               "them (sequence numbers keep the existing entries where they are).",
               commands, insertions)
