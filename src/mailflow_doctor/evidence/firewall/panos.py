"""Palo Alto PAN-OS: `set` commands (`show config running` in set format) or the XML config.

Security rules are matched in rulebase order against the pre-NAT destination address and the
post-NAT zone (PAN-OS's rule), then the default rules (intrazone allow, interzone deny). The
from-zone is that of the ingress interface (or the NAT rule's); the to-zone is that of the
interface the post-NAT address lies behind: the longest match among the interfaces' own subnets
and the static routes that name an interface. When neither covers it, to-zones are taken to
match, with a note. Rules naming
specific applications depend on App-ID and FQDN/dynamic objects on data the firewall holds: the
sources they could match stay indeterminate.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

from defusedxml.ElementTree import fromstring

from ...ipspace import IPAddress, PrefixSet
from ...model import InputProblem, Location, Parsed
from ...model.firewall import FlowVerdict, RuleRef
from ..textio import read_text
from ._walk import Candidate, Walk, endpoint, family_sources

KIND = "panos-config"
VENDOR = "panos"
_PREDEFINED = {"service-http": [(80, 80)], "service-https": [(443, 443)], "any": [(0, 65535)]}


def sniff(head: str) -> bool:
    return bool(re.search(r"^set (rulebase security rules|address |address-group |zone )", head,
                          re.M) or ("<config" in head and "<rulebase>" in head)
                or re.search(r"<entry name=\"[^\"]+\"[^>]*>\s*<(?:from|ip-netmask)>", head))


@dataclass
class PanConfig:
    source: str
    addresses: dict[str, tuple[str, str]] = field(default_factory=dict)  # kind, value
    groups: dict[str, list[str]] = field(default_factory=dict)
    services: dict[str, list[tuple[int, int]] | None] = field(default_factory=dict)
    zones: dict[str, str] = field(default_factory=dict)  # interface → zone
    # (network, interface): interface subnets and static routes, for the post-NAT zone
    networks: list[tuple[str, str]] = field(default_factory=list)
    rules: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # in order
    lines: dict[str, int] = field(default_factory=dict)
    nat: list[dict[str, list[str]]] = field(default_factory=list)
    vendor: str = VENDOR

    def _resolve(self, names: list[str], seen: tuple[str, ...] = ()) -> tuple[PrefixSet, bool]:
        out, unknown = PrefixSet(), False
        for n in names:
            if n == "any":
                out = out | PrefixSet.everything()
            elif n in self.groups and n not in seen:
                sub, unk = self._resolve(self.groups[n], seen + (n,))
                out, unknown = out | sub, unknown or unk
            elif n in self.addresses:
                kind, value = self.addresses[n]
                if kind in ("ip-netmask", "ip-range"):
                    out = out | PrefixSet.from_text(value)
                else:
                    unknown = True
            else:
                try:
                    out = out | PrefixSet.from_text(n)
                except ValueError:
                    unknown = True
        return out, unknown

    def _address(self, name: str) -> IPAddress | None:
        """A translated address, written as an address or as an address object."""
        value = self.addresses.get(name, ("ip-netmask", name))[1].split("/")[0]
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            return None

    def to_zone(self, address: IPAddress) -> tuple[str, str] | None:
        """(zone, interface) the address lies behind, by longest prefix; None if unknown."""
        best = None
        for network, iface in self.networks:
            try:
                net = ipaddress.ip_network(self.addresses.get(network, ("", network))[1],
                                           strict=False)
            except ValueError:
                continue
            if address in net and iface in self.zones and (
                    best is None or net.prefixlen > best[0].prefixlen):
                best = (net, iface)
        return (self.zones[best[1]], best[1]) if best else None

    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk, space = Walk(), family_sources(sources, dst)
        inside, post_nat = None, dst
        from_zone = self.zones.get(ingress or "")
        for rule in self.nat:
            dsts, _ = self._resolve(rule.get("destination", ["any"]))
            if dst in dsts and rule.get("translated-address"):
                translated = self._address(rule["translated-address"][0])
                if translated is None:
                    walk.note(f"NAT rule translates to {rule['translated-address'][0]!r}, which "
                              "is not an address: the post-NAT zone is unknown")
                    break
                post_nat = translated
                inside = endpoint(translated, int(rule.get("translated-port", [port])[0]))
                from_zone = from_zone or (rule.get("from") or [None])[0]
                break
        found = self.to_zone(post_nat)
        to_zone = found[0] if found else None
        if found:
            walk.note(f"security rules are matched on the pre-NAT destination and the post-NAT "
                      f"zone {found[0]} (interface {found[1]}, which {post_nat} lies behind)")
        else:
            walk.note("security rules are matched on the pre-NAT destination; to-zones were "
                      f"taken to match (no interface subnet or static route covers {post_nat})")
        candidates = []
        for name, r in self.rules.items():
            if r.get("disabled", ["no"])[0] == "yes":
                continue
            froms, tos = r.get("from", ["any"]), r.get("to", ["any"])
            if from_zone and "any" not in froms and from_zone not in froms:
                continue
            if to_zone and "any" not in tos and to_zone not in tos:
                continue
            dsts, dst_unknown = self._resolve(r.get("destination", ["any"]))
            if r.get("negate-destination", ["no"])[0] == "yes":
                dsts = PrefixSet.everything() - dsts
            if dst not in dsts and not dst_unknown:
                continue
            apps, services = r.get("application", ["any"]), r.get("service", ["any"])
            ports: list[tuple[int, int]] | None = []
            for s in services:
                if s == "application-default":
                    ports = [(25, 25)] if apps == ["smtp"] else None
                    break
                known = self.services.get(s, _PREDEFINED.get(s))
                if known is None:
                    ports = None
                    break
                ports += known
            if ports is not None and not any(a <= port <= b for a, b in ports):
                continue
            src, src_unknown = self._resolve(r.get("source", ["any"]))
            if r.get("negate-source", ["no"])[0] == "yes":
                src = PrefixSet.everything() - src
            action = "permit" if r.get("action", ["deny"])[0] == "allow" else "deny"
            certain = ports is not None and apps == ["any"] and dst in dsts
            ref = RuleRef(name, f"security rule \"{name}\" ({r.get('action', ['?'])[0]})",
                          Location(self.source, self.lines.get(name)))
            candidates.append(Candidate(ref, action, src if certain else PrefixSet(),
                                        PrefixSet.everything() if src_unknown or not certain
                                        else src))
        rest = walk.first_match(space, candidates)
        if from_zone and from_zone == to_zone:
            walk.decide(rest, "permit", None, "intrazone-default allow after the last rule")
        else:
            walk.decide(rest, "deny", None, "interzone-default deny after the last rule")
        return walk.verdict(self.source, self.vendor, endpoint(dst, port), inside=inside,
                            ingress=ingress)


def _members(words: list[str]) -> list[str]:
    return [w for w in words if w not in ("[", "]")]


def _from_set(text: str, cfg: PanConfig) -> None:
    routes: dict[str, dict[str, str]] = {}  # a static route's attributes come on several lines
    for no, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"^set (?:vsys \S+ |device-group \S+ |shared )", "set ", raw.strip())
        if not line.startswith("set "):
            continue
        try:
            w = shlex.split(line)[1:]
        except ValueError:
            continue
        if w[:1] == ["address"] and len(w) >= 4:
            cfg.addresses[w[1]] = (w[2], w[3])
        elif w[:1] == ["address-group"] and len(w) >= 4 and w[2] == "static":
            # `set` on a list adds to it, so repeated lines extend the group.
            cfg.groups[w[1]] = cfg.groups.get(w[1], []) + _members(w[3:])
        elif w[:1] == ["service"] and len(w) >= 6 and w[2:4] == ["protocol", "tcp"]:
            cfg.services[w[1]] = _port_ranges(w[w.index("port") + 1]) if "port" in w else None
        elif w[:1] == ["zone"] and "layer3" in w:
            for iface in _members(w[w.index("layer3") + 1:]):
                cfg.zones[iface] = w[1]
        elif w[:2] == ["network", "interface"] and "ip" in w:
            # ... ethernet ethernet1/2 layer3 [units ethernet1/2.10] ip 10.1.1.1/24
            iface = w[w.index("units") + 1] if "units" in w else w[3]
            cfg.networks += [(ip, iface) for ip in _members(w[w.index("ip") + 1:])]
        elif w[:2] == ["network", "virtual-router"] and "static-route" in w:
            route = routes.setdefault(w[w.index("static-route") + 1], {})
            for key in ("destination", "interface"):
                if key in w[:-1]:
                    route[key] = w[w.index(key) + 1]
        elif w[:3] == ["rulebase", "security", "rules"] and len(w) >= 5:
            rule = cfg.rules.setdefault(w[3], {})
            cfg.lines.setdefault(w[3], no)
            _attributes(rule, w[4:])
        elif w[:3] == ["rulebase", "nat", "rules"] and len(w) >= 5:
            rule: dict[str, list[str]] = {}
            _attributes(rule, w[4:])
            cfg.nat.append(rule)
    cfg.networks += [(r["destination"], r["interface"]) for r in routes.values()
                     if "destination" in r and "interface" in r]


_KEYS = {"from", "to", "source", "destination", "application", "service", "action", "disabled",
         "negate-source", "negate-destination", "source-user", "category", "log-end",
         "destination-translation", "translated-address", "translated-port", "description",
         "profile-setting", "log-setting", "rule-type", "tag", "hip-profiles"}


def _attributes(rule: dict[str, list[str]], words: list[str]) -> None:
    key = None
    i = 0
    while i < len(words):
        w = words[i]
        if w in _KEYS and w != "destination-translation":
            key = w
            rule[key] = []
        elif w == "destination-translation":
            key = None
        elif key and w not in ("[", "]"):
            rule[key].append(w)
        i += 1


def _port_ranges(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.append((int(lo), int(hi or lo)))
    return out


def _from_xml(root: Element, cfg: PanConfig) -> None:
    def members(e: Element | None) -> list[str]:
        return [m.text or "" for m in e.iter("member")] if e is not None else []

    for e in root.iter("address"):
        for entry in e.findall("entry"):
            for kind in ("ip-netmask", "ip-range", "fqdn"):
                if (v := entry.find(kind)) is not None:
                    cfg.addresses[entry.get("name", "")] = (kind, (v.text or "").strip())
    for e in root.iter("address-group"):
        for entry in e.findall("entry"):
            cfg.groups[entry.get("name", "")] = members(entry.find("static"))
    for e in root.iter("service"):
        for entry in e.findall("entry"):
            port = entry.find("protocol/tcp/port")
            if port is not None:
                cfg.services[entry.get("name", "")] = _port_ranges(port.text or "")
    for zone in root.iter("zone"):
        for entry in zone.findall("entry"):
            for iface in members(entry.find("network/layer3")):
                cfg.zones[iface] = entry.get("name", "")
    for interfaces in root.iter("interface"):  # <entry name="IF"><layer3><ip><entry name=NET>
        for entry in interfaces.iter("entry"):  # and units: <units><entry name="IF.10"><ip>
            for ip in entry.findall("ip/entry") + entry.findall("layer3/ip/entry"):
                cfg.networks.append((ip.get("name", ""), entry.get("name", "")))
    for route in root.iter("static-route"):
        for entry in route.findall("entry"):
            dest, iface = entry.findtext("destination"), entry.findtext("interface")
            if dest and iface:
                cfg.networks.append((dest.strip(), iface.strip()))
    for sec in root.iter("security"):
        for entry in sec.iter("entry"):
            if entry.find("action") is None:
                continue
            rule = {k: members(entry.find(k)) for k in ("from", "to", "source", "destination",
                                                         "application", "service")}
            for k in ("action", "disabled", "negate-source", "negate-destination"):
                if (v := entry.find(k)) is not None:
                    rule[k] = [(v.text or "").strip()]
            cfg.rules[entry.get("name", "")] = rule
    for nat in root.iter("nat"):
        for entry in nat.iter("entry"):
            translated = entry.find("destination-translation/translated-address")
            if translated is not None:
                port = entry.find("destination-translation/translated-port")
                cfg.nat.append({"from": members(entry.find("from")),
                                "destination": members(entry.find("destination")),
                                "translated-address": [translated.text or ""],
                                **({"translated-port": [port.text]} if port is not None else {})})


def parse(path: str | Path) -> Parsed[PanConfig]:
    text, problems = read_text(path)
    cfg = PanConfig(str(path))
    if text.lstrip().startswith("<"):
        try:
            _from_xml(fromstring(text), cfg)
        except (ParseError, ValueError) as exc:
            return Parsed(problems=problems + [InputProblem(Location(str(path)),
                                                            f"not readable XML: {exc}")])
        for name in cfg.rules:
            m = re.search(rf'<entry name="{re.escape(name)}"', text)
            cfg.lines[name] = text.count("\n", 0, m.start()) + 1 if m else None  # type: ignore
    else:
        _from_set(text, cfg)
    if not cfg.rules:
        return Parsed(problems=problems + [InputProblem(Location(str(path)),
                                                        "no security rules found")])
    return Parsed([cfg], problems)
