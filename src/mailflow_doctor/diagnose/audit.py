"""`firewall audit` and `firewall fix`: the firewall question on its own, for any sources.

Several configurations given together are layers in the path (an edge ACL and a host firewall,
say): a source gets through only if every layer permits it, so the combined answer intersects
the permitted sets and unions the missing ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..fixes import Fix, propose
from ..ipspace import IPAddress, PrefixSet
from ..model.firewall import FirewallRuleset, FlowVerdict


@dataclass(frozen=True)
class Audit:
    sources: PrefixSet
    destination: str
    verdicts: tuple[FlowVerdict, ...]

    @property
    def permitted(self) -> PrefixSet:
        out = self.sources
        for v in self.verdicts:
            out = out & v.permitted
        return out

    @property
    def missing(self) -> PrefixSet:
        out = PrefixSet()
        for v in self.verdicts:
            out = out | (v.denied & self.sources)
        return out

    @property
    def indeterminate(self) -> PrefixSet:
        out = PrefixSet()
        for v in self.verdicts:
            out = out | (v.prefixes("indeterminate") & self.sources)
        return out - self.missing


def audit(rulesets: list[FirewallRuleset], sources: PrefixSet, destination: IPAddress,
          port: int, ingress: str | None = None) -> Audit:
    family = sources.family(destination.version)  # type: ignore[arg-type]
    verdicts = tuple(r.evaluate(family, destination, port, ingress) for r in rulesets)
    asked = verdicts[0].destination if verdicts else f"{destination}:{port}"
    return Audit(family, asked, verdicts)


def fixes(result: Audit, destination: IPAddress, port: int,
          ingress: str | None = None) -> list[Fix]:
    """One proposed change per configuration that denies some of the sources."""
    out = []
    for v in result.verdicts:
        if fix := propose(v, v.denied & result.sources, destination, port, ingress):
            out.append(fix)
    return out
