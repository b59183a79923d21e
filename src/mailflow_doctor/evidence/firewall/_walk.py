"""The exact first-match walk shared by every firewall evaluator.

The question is always the same: which of these source prefixes may open a new TCP connection to
one destination address and port? Destination, protocol, port and interface are fixed by the
question, so each rule reduces to two source sets: the sources it *surely* matches and the sources
it *may* match (when part of the rule cannot be evaluated offline: FQDN objects, ipsets, time
ranges...). The walk subtracts each rule's share from the still-undecided space, so the decisions
partition the asked sources by construction. Uncertain shares become "indeterminate", never a guess.

Conditions are three-valued: True (matches), False (does not), None (cannot tell offline).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ...ipspace import IPAddress, PrefixSet
from ...model.firewall import Action, Decision, FlowVerdict, RuleRef, UnusedRule

Tri = bool | None
PortRanges = tuple[tuple[int, int], ...]  # inclusive (low, high) port intervals

# EOP connects from an ephemeral port we cannot know, so a source-port condition surely matches
# only when it covers every unprivileged port, and surely fails only when it covers none of them.
EPHEMERAL: tuple[int, int] = (1024, 65535)
ALL_PORTS: PortRanges = ((0, 65535),)


def all_of(*values: Tri) -> Tri:
    """Three-valued AND: one False decides; otherwise one unknown makes the whole unknown."""
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def any_of(values: Iterable[Tri]) -> Tri:
    """Three-valued OR: one True decides; otherwise one unknown makes the whole unknown."""
    values = list(values)
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def port_in(ranges: PortRanges, port: int) -> bool:
    return any(lo <= port <= hi for lo, hi in ranges)


def source_port_matches(ranges: PortRanges) -> Tri:
    """Does a source-port condition match a connection from an unknown ephemeral port?"""
    lo, hi = EPHEMERAL
    covered = sum(max(0, min(b, hi) - max(a, lo) + 1) for a, b in _merge(ranges))
    if covered == hi - lo + 1:
        return True
    return False if covered == 0 else None


def invert_ports(ranges: PortRanges) -> PortRanges:
    """The complement of a port set within 0-65535 (for `neq` and `!`)."""
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in _merge(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= 65535:
        out.append((nxt, 65535))
    return tuple(out)


def _merge(ranges: PortRanges) -> PortRanges:
    merged: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((a, b) for a, b in merged)


def endpoint(address: IPAddress, port: int) -> str:
    """`ip:port`, with IPv6 addresses in brackets so the port stays unambiguous."""
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


@dataclass(frozen=True)
class Candidate:
    """One rule reduced to the asked flow: the sources it surely matches and those it may match."""

    ref: RuleRef
    action: Action  # what the rule does with what it matches ("permit" or "deny")
    sure: PrefixSet
    maybe: PrefixSet  # may overlap `sure`; only the part outside it is uncertain


def reduce_rule(ref: RuleRef, action: Action, condition: Tri, src: PrefixSet,
                src_unknown: bool = False) -> Candidate | None:
    """Combine a rule's non-source condition with its source set into a Candidate.

    `src_unknown` says the source operand also holds members we cannot resolve (an FQDN object),
    so every address outside the known part may match too.
    """
    if condition is False:
        return None
    everything = PrefixSet.everything()
    possible = everything if src_unknown else src
    if condition is True:
        return Candidate(ref, action, src, possible)
    return Candidate(ref, action, PrefixSet(), possible)


@dataclass
class Walk:
    """Accumulates the decisions of one evaluation, merging consecutive ones of the same rule."""

    decisions: list[Decision] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Rules that matched asked sources, with their action, and those that decided any: a rule
    # is unused only if no part of the evaluation (a NAT piece, a jump from elsewhere) let it.
    _reached: dict[RuleRef, tuple[Action, PrefixSet]] = field(default_factory=dict)
    _used: set[RuleRef] = field(default_factory=set)

    def decide(self, space: PrefixSet, action: Action, rule: RuleRef | None,
               default: str | None = None) -> None:
        if not space:
            return
        last = self.decisions[-1] if self.decisions else None
        if last and (last.rule, last.action, last.default) == (rule, action, default):
            self.decisions[-1] = Decision(last.prefixes | space, action, rule, default)
        else:
            self.decisions.append(Decision(space, action, rule, default))

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def offer(self, rule: RuleRef, action: Action, reach: PrefixSet, took: bool) -> None:
        """`rule` surely matches the asked sources `reach`; `took` says it decided some."""
        if took:
            self._used.add(rule)
        elif reach and action != "indeterminate":
            before = self._reached.get(rule)
            self._reached[rule] = (action, before[1] | reach if before else reach)

    def unused(self) -> list[UnusedRule]:
        """Rules that match asked sources but never decide any: earlier rules already did,
        with the same action (redundant) or not (shadowed)."""
        out = []
        for rule, (action, reach) in self._reached.items():
            if rule not in self._used:
                actions = {d.action for d in self.decisions if d.prefixes & reach}
                out.append(UnusedRule(rule, reach, "redundant" if actions == {action}
                                      else "shadowed"))
        return out

    def first_match(self, space: PrefixSet, candidates: Iterable[Candidate | None]) -> PrefixSet:
        """Walk a flat rule list over `space`; returns the part no rule decided."""
        asked = space
        for cand in candidates:
            if cand is None:
                continue
            self.offer(cand.ref, cand.action, asked & cand.sure, bool(space & cand.sure))
            if not space:
                continue
            sure = space & cand.sure
            self.decide(sure, cand.action, cand.ref)
            space = space - sure
            unsure = space & cand.maybe
            self.decide(unsure, "indeterminate", cand.ref)
            space = space - unsure
        return space

    def verdict(self, config: str, vendor: str, destination: str, *,
                inside: str | None = None, ingress: str | None = None) -> FlowVerdict:
        return FlowVerdict(config=config, vendor=vendor, destination=destination,
                           decisions=tuple(self.decisions), inside_destination=inside,
                           ingress=ingress, notes=tuple(self.notes),
                           unused=tuple(self.unused()))


def family_sources(sources: PrefixSet, destination: IPAddress) -> PrefixSet:
    """Only sources of the destination's family can reach it; the others take no part."""
    return sources.family(destination.version)  # type: ignore[arg-type]


def skipped_note(problems: Sequence[object]) -> str | None:
    if not problems:
        return None
    return (f"{len(problems)} line(s) of this configuration could not be read and were left out "
            "of the evaluation; see the input problems")
