"""pfSense `config.xml`: aliases, port forwards, interface and floating filter rules.

pf translates first (a port forward rewrites the destination to the inside host) and then
filters, so the WAN rules see the inside address. Order: quick floating rules, then the rules of
the ingress interface (first match, all quick), then — when none matched — the last matching
non-quick floating rule, then the default block. Aliases of hosts and networks are resolved
(nested too); URL tables and FQDN aliases hold addresses only the firewall knows, so the sources
they could match stay indeterminate.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import fromstring

from ...ipspace import IPAddress, PrefixSet
from ...model import InputProblem, Location, Parsed
from ...model.firewall import FlowVerdict, RuleRef
from ..textio import read_text
from ._walk import Candidate, Walk, endpoint, family_sources

KIND = "pfsense-config"
VENDOR = "pfsense"


def sniff(head: str) -> bool:
    return "<pfsense>" in head[:2000] or bool(re.search(r"<pfsense\b", head[:2000]))


def _text(e: Element | None, tag: str) -> str:
    found = e.find(tag) if e is not None else None
    return (found.text or "").strip() if found is not None else ""


@dataclass(frozen=True)
class PfSense:
    source: str
    text: str
    root: Element
    vendor: str = VENDOR

    def _aliases(self) -> dict[str, tuple[str, list[str]]]:
        return {_text(a, "name"): (_text(a, "type"), _text(a, "address").split())
                for a in self.root.iter("alias")}

    def _addresses(self, spec: Element | None, seen: tuple[str, ...] = ()
                   ) -> tuple[PrefixSet, bool]:
        """A <source>/<destination> element → (addresses, unknown part), negation applied."""
        if spec is None or spec.find("any") is not None:
            out, unknown = PrefixSet.everything(), False
        elif _text(spec, "address"):
            out, unknown = self._resolve([_text(spec, "address")], seen)
        else:
            out, unknown = PrefixSet(), True  # <network>lan</network>, wanip, ...
        if spec is not None and spec.find("not") is not None:
            out = PrefixSet.everything() - out
        return out, unknown

    def _resolve(self, names: list[str], seen: tuple[str, ...] = ()) -> tuple[PrefixSet, bool]:
        aliases = self._aliases()
        out, unknown = PrefixSet(), False
        for n in names:
            if n in aliases and n not in seen:
                kind, members = aliases[n]
                if kind in ("host", "network"):
                    sub, unk = self._resolve(members, seen + (n,))
                    out, unknown = out | sub, unknown or unk
                else:
                    unknown = True
                continue
            try:
                out = out | PrefixSet.from_text(n)
            except ValueError:
                unknown = True
        return out, unknown

    def _line(self, rule: Element) -> int | None:
        tracker = _text(rule, "tracker")
        m = re.search(rf"<tracker>{re.escape(tracker)}</tracker>", self.text) if tracker else None
        return self.text.count("\n", 0, m.start()) + 1 if m else None

    def _candidate(self, rule: Element, dst: IPAddress, port: int) -> Candidate | None:
        if rule.find("disabled") is not None:
            return None
        proto = _text(rule, "protocol") or "any"
        if proto not in ("tcp", "tcp/udp", "any"):
            return None
        dest = rule.find("destination")
        ports = _text(dest, "port")
        if ports:
            parts = re.split(r"[:-]", ports)
            lo, hi = parts[0], parts[-1]
            if not (lo.isdigit() and hi.isdigit()):
                return Candidate(self._ref(rule), "indeterminate", PrefixSet(),
                                 PrefixSet.everything())
            if not int(lo) <= port <= int(hi):
                return None
        dsts, dst_unknown = self._addresses(dest)
        if dst not in dsts and not dst_unknown:
            return None
        src, src_unknown = self._addresses(rule.find("source"))
        action = "permit" if _text(rule, "type") == "pass" else "deny"
        sure = src if dst in dsts and not src_unknown else PrefixSet()
        maybe = PrefixSet.everything() if src_unknown or dst_unknown else src
        return Candidate(self._ref(rule), action, sure, maybe)

    def _ref(self, rule: Element) -> RuleRef:
        descr = _text(rule, "descr") or _text(rule, "tracker")
        return RuleRef(_text(rule, "interface") or "floating",
                       f"{_text(rule, 'type')} rule \"{descr}\"",
                       Location(self.source, self._line(rule)))

    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk, space = Walk(), family_sources(sources, dst)
        ingress, inside, target = ingress or "wan", None, dst
        for rdr in self.root.findall("nat/rule"):
            dest = rdr.find("destination")
            matches = _text(dest, "address") == str(dst) or _text(dest, "network").endswith("ip")
            if _text(rdr, "interface") == ingress and matches and _text(rdr, "target"):
                target = ipaddress.ip_address(_text(rdr, "target"))
                inside = endpoint(target, int(_text(rdr, "local-port") or port))
                if _text(dest, "network").endswith("ip"):
                    walk.note("a port forward to the interface address was taken to publish "
                              "the asked address")
                break
        rules = self.root.findall("filter/rule")
        floating = [r for r in rules if _text(r, "floating") == "yes"]
        quick = [r for r in floating if r.find("quick") is not None]
        on_if = [r for r in rules if r not in floating and _text(r, "interface") == ingress]
        later = [r for r in reversed(floating) if r.find("quick") is None]
        rest = walk.first_match(space, (self._candidate(r, target, port)
                                        for r in quick + on_if + later))
        walk.decide(rest, "deny", None, f"default block on interface {ingress}")
        return walk.verdict(self.source, self.vendor, endpoint(dst, port), inside=inside,
                            ingress=ingress)


def parse(path: str | Path) -> Parsed[PfSense]:
    text, problems = read_text(path)
    try:
        root = fromstring(text)
    except (ParseError, ValueError) as exc:
        return Parsed(problems=problems + [InputProblem(Location(str(path)),
                                                        f"not readable XML: {exc}")])
    if root.tag != "pfsense":
        return Parsed(problems=problems + [InputProblem(Location(str(path)),
                                                        "not a pfSense config.xml")])
    return Parsed([PfSense(str(path), text, root)], problems)
