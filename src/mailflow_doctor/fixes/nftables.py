"""nftables: add the prefixes to the named set the permitting rule matches on; otherwise one
rule per prefix at the index of the rule (or the end of the chain, for a policy) that denies."""

from __future__ import annotations

import re

from ..ipspace import PrefixSet
from ..model.firewall import FlowVerdict
from . import Fix, Insertion

_SADDR = re.compile(r"\bip6? saddr (?:!= )?(?:\{[^}]*\}|\S+)")
_SET_REF = re.compile(r"\bip6? saddr @(\S+)")


def _layout(lines: list[str]) -> dict[int, tuple[str, str, str | None, str | None]]:
    """Per line: (family, table, chain or None, set or None) of the block it sits in."""
    out: dict[int, tuple[str, str, str | None, str | None]] = {}
    fam = table = chain = aset = None
    for no, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if m := re.match(r"table\s+(\S+)\s+(\S+)\s*\{", line):
            fam, table = m.groups()
        elif m := re.match(r"table\s+(\S+)\s*\{", line):
            fam, table = "ip", m.group(1)
        elif m := re.match(r"chain\s+(\S+)\s*\{", line):
            chain = m.group(1)
        elif m := re.match(r"set\s+(\S+)\s*\{", line):
            aset = m.group(1)
        elif line == "}":
            if aset:
                aset = None
            elif chain:
                chain = None
            else:
                fam = table = None
            continue
        if fam and table:
            out[no] = (fam, table, chain, aset)
    return out


def _rule_lines(lines: list[str], layout: dict, chain_key: tuple) -> list[int]:
    """Lines that are rules of one chain (not its type/policy line, not blank)."""
    return [no for no, key in layout.items() if key[:3] == chain_key and key[3] is None
            and lines[no - 1].strip() and not re.match(r"\s*(chain|type|policy|\})",
                                                       lines[no - 1])]


def propose(text: str, verdict: FlowVerdict, missing: PrefixSet,
            prefer_group: bool = True) -> Fix:
    lines = text.splitlines()
    layout = _layout(lines)
    elements = ", ".join(missing.cidrs())
    for d in verdict.decisions if prefer_group else []:
        if d.action != "permit" or not d.rule or not (m := _SET_REF.search(d.rule.text)):
            continue
        name = m.group(1)
        where = [no for no, (f, t, c, s) in layout.items()
                 if s == name and re.match(rf"\s*set\s+{re.escape(name)}\s*\{{", lines[no - 1])]
        if where:
            fam, table, _, _ = layout[where[0]]
            return Fix("nftables", verdict.config,
                       f"Add {elements} to set {name}, which the permitting rule at line "
                       f"{d.rule.location.line} matches on.",
                       [f"nft add element {fam} {table} {name} {{ {elements} }}"],
                       [Insertion(where[0], (f"\t\telements = {{ {elements} }}",))])
    return _new_rules(lines, layout, verdict, missing)


def _new_rules(lines: list[str], layout: dict, verdict: FlowVerdict,
               missing: PrefixSet) -> Fix:
    commands: list[str] = []
    insertions: list[Insertion] = []
    for d in verdict.decisions:
        part = d.prefixes & missing
        if d.action != "deny" or not part or not d.rule or not d.rule.location.line:
            continue
        fam, table, chain, _ = layout.get(d.rule.location.line, (None, None, None, None))
        if chain is None:
            continue
        key = (fam, table, chain)
        rules = _rule_lines(lines, layout, key)
        template = next((p.rule.text for p in verdict.decisions if p.action == "permit"
                         and p.rule and p.rule.location.line in rules and _SADDR.search(
                             p.rule.text)), None)
        word = "ip6" if ":" in part.cidrs()[0] else "ip"
        specs = [_SADDR.sub(f"{word} saddr {c}", template) if template else
                 _built(verdict, word, c) for c in part.cidrs()]
        if d.default:
            after = rules[-1] if rules else d.rule.location.line
            commands += [f"nft add rule {fam} {table} {chain} {s}" for s in specs]
        else:
            index = sum(1 for no in rules if no < d.rule.location.line)
            after = d.rule.location.line - 1
            commands += [f"nft insert rule {fam} {table} {chain} index {index + k} {s}"
                         for k, s in enumerate(specs)]
        insertions.append(Insertion(after, tuple(f"\t\t{s}" for s in specs)))
    return Fix("nftables", verdict.config,
               f"Accept {', '.join(missing.cidrs())} just above the rules that now drop them.",
               commands, insertions)


def _built(verdict: FlowVerdict, word: str, prefix: str) -> str:
    inside = verdict.inside_destination or verdict.destination
    host, port = inside.rsplit(":", 1)
    iface = f'iifname "{verdict.ingress}" ' if verdict.ingress else ""
    return f"{iface}{word} saddr {prefix} {word} daddr {host.strip('[]')} tcp dport {port} accept"
