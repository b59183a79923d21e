"""iptables: one ACCEPT per missing prefix, inserted just above each rule (or policy) that
denies it, shaped like the chain's own permitting rule when there is one."""

from __future__ import annotations

import re

from ..ipspace import PrefixSet
from ..model.firewall import Decision, FlowVerdict
from . import Fix, Insertion

_SOURCE = re.compile(r"(?:! )?(?:-s|--source) \S+")


def _chain_rules(lines: list[str], chain: str, upto: int | None = None) -> list[int]:
    """1-based line numbers of the `-A CHAIN` lines of the filter table (up to a line)."""
    out, in_filter = [], False
    for no, line in enumerate(lines, 1):
        if line.startswith("*"):
            in_filter = line.strip() == "*filter"
        elif in_filter and line.startswith(f"-A {chain} "):
            if upto is not None and no > upto:
                break
            out.append(no)
    return out


def _header_line(lines: list[str], chain: str) -> int:
    in_filter = False
    for no, line in enumerate(lines, 1):
        if line.startswith("*"):
            in_filter = line.strip() == "*filter"
        elif in_filter and line.startswith(f":{chain} "):
            return no
    return 0


def _spec(template: str | None, chain: str, prefix: str, verdict: FlowVerdict) -> str:
    """The rule text after `-A CHAIN`, for one source prefix."""
    if template:
        body = template.split(" ", 2)[2] if template.count(" ") >= 2 else ""
        body = _SOURCE.sub("", body).strip()
        return f"-s {prefix} {body}".strip()
    inside = verdict.inside_destination or verdict.destination
    host, port = inside.rsplit(":", 1)
    host = host.strip("[]")
    iface = f"-i {verdict.ingress} " if verdict.ingress else ""
    bits = 128 if ":" in host else 32
    return f"-s {prefix} -d {host}/{bits} {iface}-p tcp -m tcp --dport {port} -j ACCEPT"


def _template(verdict: FlowVerdict, chain: str) -> str | None:
    for d in verdict.decisions:
        if d.action == "permit" and d.rule and d.rule.text.startswith(f"-A {chain} ") \
                and " -j ACCEPT" in f"{d.rule.text} ":
            return d.rule.text
    return None


def _chain_of(d: Decision) -> str | None:
    if d.rule is None:
        return None
    text = d.rule.text
    if text.startswith(":"):
        return text[1:].split()[0]
    if text.startswith("-A "):
        return text.split()[1]
    return None


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    lines = text.splitlines()
    commands: list[str] = []
    insertions: list[Insertion] = []
    for d in verdict.decisions:
        part, chain = d.prefixes & missing, _chain_of(d)
        if d.action != "deny" or not part or chain is None or d.rule is None:
            continue
        template = _template(verdict, chain)
        specs = [_spec(template, chain, c, verdict) for c in part.cidrs()]
        if d.default:  # the chain policy: append at the end of the chain
            rules = _chain_rules(lines, chain)
            after = rules[-1] if rules else _header_line(lines, chain)
            commands += [f"iptables -A {chain} {s}" for s in specs]
        else:
            line = d.rule.location.line or 1
            position = len(_chain_rules(lines, chain, upto=line))
            after = line - 1
            commands += [f"iptables -I {chain} {position + k} {s}" for k, s in enumerate(specs)]
        insertions.append(Insertion(after, tuple(f"-A {chain} {s}" for s in specs)))
    summary = (f"Accept {', '.join(missing.cidrs())} just above the rules that now drop them; "
               "save with iptables-save afterwards so the change survives a reboot.")
    return Fix("iptables", verdict.config, summary, commands, insertions)
