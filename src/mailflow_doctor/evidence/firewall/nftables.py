"""nftables reader and exact evaluator, on top of the iptables chain walk.

nftables has no fixed chains: base chains attach to hooks with a priority, several may share a
hook, and `accept` only ends the base chain it happens in — the next base chain on the same hook
still sees the packet, while `drop` is final. Each rule is translated into the iptables rule
model (same matches, same targets), each hook's base chain stands in for the matching built-in
chain (prerouting → PREROUTING, forward → FORWARD, input → INPUT), and base chains sharing a hook
are evaluated one after the other in priority order, each on what the previous one accepted.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from ...ipspace import IPAddress, PrefixSet, union
from ...model import InputProblem, Location, Parsed
from ...model.firewall import FlowVerdict, RuleRef
from ..textio import read_text
from ._asa_names import TCP_PORTS
from ._ipt_chains import INDETERMINATE, Chain, ChainWalker
from ._ipt_rules import Flow, IptRule, parse_ports
from ._nft_syntax import NftChain, NftTable, Term, parse_json, parse_text
from ._walk import Walk, endpoint, family_sources, invert_ports, skipped_note
from .iptables import IptablesRuleset, choose_chain, classify

KIND = "nftables"
VENDOR = "nftables"

_BUILTIN = {"prerouting": "PREROUTING", "forward": "FORWARD", "input": "INPUT"}
_VERDICTS = {"accept": "ACCEPT", "drop": "DROP", "reject": "REJECT", "return": "RETURN"}
_FAMILIES = {4: ("ip", "inet"), 6: ("ip6", "inet")}
# nft prints /etc/services names with `-S`; the usual mail ones beyond the common table.
_SERVICES = {**TCP_PORTS, "submission": 587, "submissions": 465, "smtps": 465, "imap": 143,
             "imaps": 993, "pop3s": 995}


def sniff(head: str) -> bool:
    """`nft list ruleset` text (a `table <family> <name> {` block) or `nft -j` JSON."""
    if head.lstrip().startswith("{") and '"nftables"' in head[:200]:
        return True
    return bool(re.search(r"^\s*table\s+(ip|ip6|inet|arp|bridge|netdev)\s+\S+\s*\{", head, re.M)
                and re.search(r"^\s*(chain|set)\s+\S+\s*\{", head, re.M))


def parse(path: str | Path) -> Parsed[NftablesRuleset]:
    text, problems = read_text(path)
    source = str(path)
    parser = parse_json if text.lstrip().startswith("{") else parse_text
    tables, more = parser(text, source)
    rules_problems = [InputProblem(Location(source, r.line),
                                   f"nftables expression not evaluated: {t.values[0]}")
                      for tb in tables for c in tb.chains.values() for r in c.rules
                      for t in r.terms if t.kind == "unknown"]
    records = [NftablesRuleset(source, tuple(tables), tuple(more))] if tables else []
    if not tables and not more:
        more = [InputProblem(Location(source), "no nftables table found")]
    return Parsed(records, problems + more + rules_problems)


def _addresses(values: tuple[str, ...], sets: dict[str, list[str]]) -> PrefixSet | None:
    out = PrefixSet()
    for v in values:
        if v.startswith("@"):
            if v[1:] not in sets:
                return None
            inner = _addresses(tuple(sets[v[1:]]), sets)
            if inner is None:
                return None
            out = out | inner
        else:
            out = out | PrefixSet.from_text(v)
    return out


def _rule(chain_name: str, rule_line: int | None, text: str, terms: list[Term],
          sets: dict[str, list[str]], source: str, family: str) -> IptRule:
    ref = RuleRef(chain_name, text, Location(source, rule_line))
    rule = IptRule(chain=chain_name, ref=ref)
    if family in ("ip", "ip6"):
        rule.src = PrefixSet.everything(4 if family == "ip" else 6)
    for t in terms:
        try:
            _apply(rule, t, sets)
        except ValueError as exc:
            rule.unknown.append(f"{t.kind} {' '.join(t.values)} ({exc})")
    if rule.unknown and rule.target is None:
        rule.target = "UNKNOWN"  # an unread statement may be terminal: never assume it is not
    return rule


def _apply(rule: IptRule, t: Term, sets: dict[str, list[str]]) -> None:
    if t.kind in ("saddr", "daddr"):
        values = _addresses(t.values, sets)
        if values is None:
            rule.unknown.append(f"unknown set {' '.join(t.values)}")
            return
        family = PrefixSet.everything(4 if t.family == "ip" else 6)
        chosen = (family - values) if t.negated else values
        if t.kind == "saddr":
            rule.src = rule.src & chosen
        else:
            rule.dst = chosen if rule.dst is None else rule.dst & chosen
    elif t.kind in ("iif", "oif"):
        if len(t.values) != 1:
            rule.unknown.append(f"{t.kind} set")
            return
        name = t.values[0].replace("*", "+")
        setattr(rule, "in_if" if t.kind == "iif" else "out_if", (name, t.negated))
    elif t.kind == "l4proto":
        hit = "tcp" in t.values or "6" in t.values
        rule.static = rule.static and (hit != t.negated)
    elif t.kind in ("dport", "sport"):
        if t.family != "th":
            rule.static = rule.static and t.family == "tcp"
        values = tuple(str(_SERVICES.get(v, v)) for p in t.values
                       for v in (sets.get(p[1:], []) if p.startswith("@") else [p]))
        ranges = parse_ports(",".join(v.replace("-", ":") for v in values))
        if t.negated:
            ranges = invert_ports(ranges)
        setattr(rule, "dports" if t.kind == "dport" else "sports", ranges)
    elif t.kind == "ctstate":
        rule.states = (frozenset(v.upper() for v in t.values), t.negated)
    elif t.kind == "verdict":
        verb = t.values[0]
        if verb in ("jump", "goto"):
            rule.target, rule.goto = t.values[1], verb == "goto"
        elif verb in _VERDICTS:
            rule.target = _VERDICTS[verb]
    elif t.kind == "dnat":
        rule.target, rule.target_opts = "DNAT", {"--to-destination": t.values[0]}
    else:
        rule.unknown.append(" ".join(t.values))


@dataclass(frozen=True)
class NftablesRuleset:
    """A parsed nftables ruleset; satisfies model.FirewallRuleset."""

    source: str
    tables: tuple[NftTable, ...]
    problems: tuple[InputProblem, ...] = ()
    vendor: str = VENDOR

    def _chains(self, table: NftTable, base: NftChain) -> dict[str, Chain]:
        """A base chain under its built-in name, with the regular chains it can jump to."""
        out = {n: self._chain(table, c, n) for n, c in table.chains.items() if c.hook is None}
        out[_BUILTIN[base.hook or ""]] = self._chain(table, base, _BUILTIN[base.hook or ""])
        return out

    def _chain(self, table: NftTable, c: NftChain, name: str) -> Chain:
        rules = [_rule(name, r.line, r.text, r.terms, table.sets, self.source, table.family)
                 for r in c.rules]
        policy = ("DROP" if c.policy == "drop" else "ACCEPT") if c.hook else None
        header = RuleRef(c.name, c.header or f"chain {c.name}",
                         Location(self.source, c.line)) if c.hook else None
        return Chain(name, policy, header, rules)

    def _hooks(self, version: int) -> dict[str, list[dict[str, Chain]]]:
        """Per hook, the chain sets of its base chains in priority order."""
        found: dict[str, list[tuple[int, dict[str, Chain]]]] = {h: [] for h in _BUILTIN}
        for table in self.tables:
            if table.family not in _FAMILIES[version]:
                continue
            for c in table.chains.values():
                wanted = "nat" if c.hook == "prerouting" else "filter"
                if c.hook in _BUILTIN and (c.type or "filter") == wanted:
                    found[c.hook].append((c.priority, self._chains(table, c)))
        return {h: [chains for _, chains in sorted(v, key=lambda x: x[0])]
                for h, v in found.items()}

    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk = Walk()
        hooks = self._hooks(dst.version)
        space, asked = family_sources(sources, dst), endpoint(dst, port)

        def uncertain(rule: IptRule) -> None:
            walk.note(f"line {rule.ref.location.line}: {', '.join(rule.unknown) or 'a condition'}"
                      " cannot be evaluated offline; the sources it might match are "
                      "indeterminate")

        nat = hooks["prerouting"][0] if hooks["prerouting"] else None
        if len(hooks["prerouting"]) > 1:
            walk.note("several nat prerouting base chains: only the first by priority was used")
        front = IptablesRuleset(self.source, None, nat, dst.version)
        inside, final_ingress = None, ingress
        for piece, outcome in front.dnat_pieces(space, dst, port, ingress, walk, uncertain):
            if outcome == INDETERMINATE:
                continue
            flow = Flow(dst, port, ingress)
            if outcome is not None:
                _, ip, new_port, iface, ref = outcome
                flow = Flow(ip, new_port or port, ingress or iface, dnat=True)
                inside, final_ingress = inside or endpoint(ip, flow.port), flow.ingress
                walk.note(f"dnat at line {ref.location.line} maps {asked} to "
                          f"{endpoint(ip, flow.port)}")
            self._filter(walk, piece, flow, hooks, uncertain)
        if note := skipped_note(self.problems):
            walk.note(note)
        walk.notes = [n.replace("with -i", "with iifname").replace("with -o", "with oifname")
                      for n in walk.notes]
        return walk.verdict(self.source, self.vendor, asked, inside=inside,
                            ingress=final_ingress)

    def _filter(self, walk: Walk, space: PrefixSet, flow: Flow,
                hooks: dict[str, list[dict[str, Chain]]], uncertain) -> None:
        """Each base chain of the hook in turn; what one accepts, the next one sees."""
        first = {name: chains[name] for hook in ("forward", "input") for chains in hooks[hook][:1]
                 for name in (_BUILTIN[hook],)}
        name, why = choose_chain(first, flow.dst, flow.dnat)
        walk.note(why.replace("filter FORWARD chain", "forward hook"))
        stages = hooks[name.lower()]
        if not stages:
            walk.decide(space, "permit", None, f"no nftables base chain on the {name.lower()} "
                                               "hook: nothing filters the traffic")
            return
        accepted: list[tuple[PrefixSet, RuleRef | None, str | None]] = [(space, None, None)]
        for chains in stages:
            todo, accepted = union(p for p, _, _ in accepted), []

            def emit(part: PrefixSet, out: object, ref: RuleRef | None, default: str | None,
                     into: list = accepted) -> None:
                if not part:
                    return
                if out == "permit":
                    into.append((part, ref, default))
                else:
                    walk.decide(part, out if out in ("deny", "indeterminate") else
                                "indeterminate", ref, default)

            def policy(chain: Chain) -> tuple[object, str]:
                verb = chain.policy or "ACCEPT"
                return ("deny" if verb == "DROP" else "permit",
                        f"policy {verb.lower()} of base chain {chain.ref.name if chain.ref else name}")

            ChainWalker(chains, flow.condition, lambda r, c=chains: classify(c, r, False),
                        policy, emit, uncertain, walk.offer).run(name, todo)
        for part, ref, default in accepted:
            walk.decide(part, "permit", ref, default)
        for text in flow.notes:
            walk.note(text)
