"""Firewall records: who decided which EOP sources, and deny log lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from ..ipspace import IPAddress, PrefixSet
from . import Location


@dataclass(frozen=True)
class RuleRef:
    """The rule that decided some traffic, quoted as written."""

    name: str  # ACL or chain name
    text: str
    location: Location


Action = Literal["permit", "deny", "indeterminate"]


@dataclass(frozen=True)
class Decision:
    """Which part of the asked source space one rule (or the default) decided, and how."""

    prefixes: PrefixSet
    action: Action
    # The deciding rule; for the default at the end, the line that sets it (the access-group
    # binding, the chain policy header). None only when no such line exists.
    rule: RuleRef | None
    default: str | None = None  # set for defaults: "implicit deny at the end of access-list X"


@dataclass(frozen=True)
class UnusedRule:
    """A rule that matches some asked sources but decides none: earlier rules already did."""

    rule: RuleRef
    prefixes: PrefixSet  # the asked sources it matches
    status: Literal["redundant", "shadowed"]  # same action as what decided them, or opposite


@dataclass(frozen=True)
class FlowVerdict:
    """The answer of one ruleset to: may these sources reach destination:port over TCP?"""

    config: str
    vendor: str
    destination: str  # "ip:port" as asked (the public endpoint)
    decisions: tuple[Decision, ...]
    inside_destination: str | None = None  # after destination NAT, when the ruleset maps it
    ingress: str | None = None  # interface the traffic arrives on
    notes: tuple[str, ...] = ()
    unused: tuple[UnusedRule, ...] = ()  # rules that match asked sources but decide none

    def prefixes(self, action: Action) -> PrefixSet:
        out = PrefixSet()
        for d in self.decisions:
            if d.action == action:
                out = out | d.prefixes
        return out

    @property
    def permitted(self) -> PrefixSet:
        return self.prefixes("permit")

    @property
    def denied(self) -> PrefixSet:
        return self.prefixes("deny")


class FirewallRuleset(Protocol):
    """A parsed firewall configuration that can answer a TCP flow question exactly."""

    vendor: str
    source: str

    def evaluate(
        self, sources: PrefixSet, destination: IPAddress, port: int, ingress: str | None = None
    ) -> FlowVerdict: ...


@dataclass(frozen=True, slots=True)  # slots: a deny log can run to millions of lines
class DenyEvent:
    """One firewall log line about a TCP connection attempt (times UTC when known)."""

    time_utc: datetime | None
    source_ip: str
    dest_ip: str
    dest_port: int
    location: Location
    action: Literal["deny", "logged"] = "deny"  # kernel LOG lines only say "logged"
    rule: str | None = None  # ACL name or log prefix
    interface: str | None = None
    excerpt: str = ""
