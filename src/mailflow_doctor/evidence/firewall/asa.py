"""Cisco ASA running-config reader and exact evaluator for "may EOP reach IP:25 over TCP?".

ASA semantics modelled (8.3 and later):
- Access lists match the *real* (inside) address. When a static NAT (object NAT, or manual
  `source static` NAT) maps the asked public address, the ACLs are walked against the real
  address and port, and the traffic is taken to arrive on the NAT's mapped interface.
- On the ingress interface the `access-group ... in interface IF` list is walked first, then the
  `access-group ... global` list; the implicit deny comes only after both. Lists bound to other
  interfaces play no part. An `out` list on the egress interface (the NAT's real interface) is a
  second filter over what the first one permits.
- `inactive` entries are skipped; `time-range`, identity operands, FQDN objects and undefined
  names make the entry's share of the sources "indeterminate".
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from ...ipspace import IPAddress, PrefixSet
from ...model import Parsed
from ...model.firewall import Decision, FlowVerdict
from ..textio import read_text
from ._asa_rules import Ace, AsaModel, AsaReader, Binding, StaticNat
from ._walk import (
    Candidate,
    Walk,
    all_of,
    any_of,
    endpoint,
    family_sources,
    port_in,
    reduce_rule,
    skipped_note,
    source_port_matches,
)

KIND = "cisco-asa-config"
VENDOR = "cisco-asa"

_SNIFF = re.compile(
    r"^(?:ASA Version \S+"
    r"|access-list \S+ (?:line \d+ )?extended (?:permit|deny) "
    r"|access-group \S+ (?:(?:in|out) interface \S+|global)"
    r"|object network \S+\s*$)", re.M)


def sniff(head: str) -> bool:
    """True for ASA configs: the version banner, extended ACEs, bindings or network objects."""
    return bool(_SNIFF.search(head))


def parse(path: str | Path) -> Parsed[AsaRuleset]:
    """Read a running-config; one AsaRuleset, or none when it holds no ACL, binding or NAT.

    A file that is not text at all raises textio.UnreadableInput, like every reader.
    """
    text, problems = read_text(path)
    model = AsaReader(str(path), text).read()
    records = [AsaRuleset(str(path), model)] if (model.acls or model.bindings or model.nats) else []
    return Parsed(records, problems + model.problems)


def _candidate(ace: Ace, address: IPAddress, port: int) -> Candidate | None:
    """Reduce one ACE to the sources it surely / possibly matches for TCP to address:port."""
    if ace.inactive or not ace.services:
        return None
    service = any_of(
        all_of(s.tcp,
               port_in(s.dst, port) if s.dst is not None else True,
               source_port_matches(s.src) if s.src is not None else True)
        for s in ace.services)
    condition = all_of(service, ace.dst.contains(address), ace.extra)
    return reduce_rule(ace.ref, ace.action, condition,  # type: ignore[arg-type]
                       ace.src.known, ace.src.unknown)


@dataclass(frozen=True)
class AsaRuleset:
    """One parsed ASA configuration; satisfies model.FirewallRuleset."""

    source: str
    model: AsaModel
    vendor: str = VENDOR

    # -- helpers -------------------------------------------------------------------------------
    def _translate(self, dst: IPAddress, port: int
                   ) -> tuple[StaticNat, IPAddress, int] | None:
        """The first static NAT (manual, then object NAT by size, then after-auto) mapping dst."""
        order = sorted(self.model.nats, key=lambda n: (
            n.section, n.real[1] - n.real[0] if n.section == 2 else 0,
            n.mapped_port is None if n.section == 2 else False))
        for nat in order:
            hit = nat.translate(dst, port)
            if hit is not None:
                return nat, hit[0], hit[1]
        return None

    def _binding(self, direction: str, interface: str | None) -> Binding | None:
        for b in self.model.bindings:
            if b.direction == direction and b.interface == interface:
                return b
        return None

    def _guess_ingress(self) -> str:
        """No ingress given and no NAT names one: the conventional internet-facing interface."""
        bound = [b.interface for b in self.model.bindings if b.direction == "in"]
        if "outside" in bound or "outside" in self.model.nameifs or len(set(bound)) != 1:
            return "outside"
        return bound[0]  # type: ignore[return-value]

    def _walk_acls(self, walk: Walk, space: PrefixSet, bindings: list[Binding],
                   address: IPAddress, port: int) -> PrefixSet:
        for b in bindings:
            aces = self.model.acls.get(b.acl, [])
            if not aces:
                walk.note(f"access-list {b.acl} (bound at line {b.ref.location.line}) has no "
                          "entries in this config")
            space = walk.first_match(space, (_candidate(a, address, port) for a in aces))
        return space

    # -- the question --------------------------------------------------------------------------
    def evaluate(self, sources: PrefixSet, destination: IPAddress, port: int,
                 ingress: str | None = None) -> FlowVerdict:
        dst = ipaddress.ip_address(destination)
        walk = Walk()
        space = family_sources(sources, dst)
        nat = self._translate(dst, port)
        real, real_port = (nat[1], nat[2]) if nat else (dst, port)
        if nat:
            walk.note(f"static NAT at line {nat[0].ref.location.line} maps {endpoint(dst, port)} "
                      f"to real {endpoint(real, real_port)}; ASA 8.3+ access lists match the "
                      "real address")
        if ingress is None and nat and nat[0].mapped_if != "any":
            ingress = nat[0].mapped_if
        elif ingress is None:
            ingress = self._guess_ingress()
            walk.note(f"ingress interface not given and no NAT names it; assumed '{ingress}'")

        layer = [b for b in (self._binding("in", ingress), self._binding("global", None)) if b]
        rest = self._walk_acls(walk, space, layer, real, port=real_port)
        if layer:
            names = " and ".join(
                f"global access-list {b.acl}" if b.direction == "global"
                else f"access-list {b.acl} (in on {ingress})" for b in layer)
            walk.decide(rest, "deny", layer[-1].ref, f"implicit deny at the end of {names}")
        else:
            text = (f"no access list applies to traffic arriving on interface {ingress}; "
                    "the ASA denies it (from a lower to a higher security level)")
            walk.note(text + "; assumed outside → inside traffic")
            walk.decide(rest, "deny", None, text)

        egress = nat[0].real_if if nat and nat[0].real_if != "any" else None
        out = self._binding("out", egress) if egress else None
        if out:
            self._apply_out_acl(walk, out, real, real_port)
        elif egress is None and any(b.direction == "out" for b in self.model.bindings):
            walk.note("outbound access lists exist but the egress interface is unknown; "
                      "they were not evaluated")
        if any(d.action == "indeterminate" for d in walk.decisions):
            walk.note("some entries use parts that cannot be evaluated offline (FQDN objects, "
                      "time ranges, identity operands or undefined names); the sources they "
                      "might match are marked indeterminate")
        for note in self.model.notes + [skipped_note(self.model.problems)]:
            if note:
                walk.note(note)
        return walk.verdict(self.source, self.vendor, endpoint(dst, port),
                            inside=endpoint(real, real_port) if nat else None, ingress=ingress)

    def _apply_out_acl(self, walk: Walk, out: Binding, address: IPAddress, port: int) -> None:
        """Filter what the inbound lists permit through the egress interface's `out` list.

        Permits that survive keep the inbound rule (the one to extend when fixing); what the out
        list denies or cannot decide is attributed to the out list's rule.
        """
        permitted = PrefixSet()
        for d in walk.decisions:
            if d.action == "permit":
                permitted = permitted | d.prefixes
        second = Walk()
        rest = self._walk_acls(second, permitted, [out], address, port)
        second.decide(rest, "deny", out.ref,
                      f"implicit deny at the end of access-list {out.acl} (out on {out.interface})")
        passed = PrefixSet()
        for d in second.decisions:
            if d.action == "permit":
                passed = passed | d.prefixes
        merged: list[Decision] = []
        for d in walk.decisions:
            if d.action != "permit":
                merged.append(d)
            elif d.prefixes & passed:
                merged.append(Decision(d.prefixes & passed, "permit", d.rule, d.default))
        merged += [d for d in second.decisions if d.action != "permit"]
        walk.decisions[:] = merged
        walk.note(f"outbound access-list {out.acl} on interface {out.interface} was applied "
                  "after the inbound lists")
