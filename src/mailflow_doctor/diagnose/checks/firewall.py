"""Step 5 of the chain: does the firewall let every published EOP range reach TCP 25?

The verdict comes from the exact rule evaluation; its confidence from how well the other
evidence agrees: refused or timed-out defers to the same target, EOP sessions in the receive
logs only from the ranges the firewall permits, and deferred EOP sources inside the gap.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from ...fixes import Fix, propose
from ...ipspace import PrefixSet
from ...model import Cause
from ...model.firewall import Decision, FlowVerdict
from ...model.report import Finding
from .. import cite
from ..drops import Drops, eop_drops
from ..facts import REFUSED, TIMEOUT, Facts, failure_class


def _decision_dict(d: Decision) -> dict:
    return {"action": d.action, "prefixes": d.prefixes.cidrs(),
            "rule": cite.rule_dict(d.rule, d.default)}


def _deciding(verdict: FlowVerdict) -> Decision | None:
    """The deny decision that covers the most addresses: the rule to cite and to change."""
    denies = [d for d in verdict.decisions if d.action == "deny"]
    return max(denies, key=lambda d: d.prefixes.size(), default=None)


def _permitting(verdict: FlowVerdict) -> Decision | None:
    permits = [d for d in verdict.decisions if d.action == "permit" and d.rule]
    return max(permits, key=lambda d: d.prefixes.size(), default=None)


def _fix(facts: Facts, verdict: FlowVerdict, missing: PrefixSet) -> Fix | None:
    if not facts.target or not facts.target.ip:
        return None
    return propose(verdict, missing, ipaddress.ip_address(facts.target.ip), facts.target.port,
                   facts.ingress)


def _finding(facts: Facts, verdict: FlowVerdict) -> Finding | None:
    missing = verdict.denied & facts.eop
    if not missing:
        return None
    permitted = verdict.permitted & facts.eop
    confidence, support, doubts = 0.55, [], []

    blocked = [e for e in facts.defers if failure_class(e) in (REFUSED, TIMEOUT)]
    if blocked:
        confidence += 0.2
        support.append(f"{len(blocked)} delivery attempt(s) to {verdict.destination} were "
                       "refused or timed out in the message trace")

    gap, open_ = facts.activity(missing), facts.activity(permitted)
    # Compare at the time of the defers when there are any: before a recent change the
    # missing ranges did get through, and that is consistent, not contradictory.
    when = " while the defers accumulated" if facts.window else ""
    gap_n, open_n = ((gap.in_window, open_.in_window) if facts.window
                     else (len(gap.sessions), len(open_.sessions)))
    if facts.evidence.session_count:
        if open_n and not gap_n:
            confidence += 0.1
            support.append(f"the receive logs hold {open_n} EOP session(s){when}, all from "
                           "permitted ranges, and none from the missing ones")
            if gap.last:
                support.append(f"the missing ranges last reached Exchange at "
                               f"{gap.last:%Y-%m-%d %H:%M}Z, which points to a recent change")
        elif gap_n:
            confidence -= 0.3
            doubts.append(f"{gap_n} EOP session(s) from the ranges this configuration denies "
                          f"reached Exchange{when}: another path or a different active "
                          "configuration may apply")

    drops = _drops(facts, missing, verdict)
    if drops.by_24:
        confidence += 0.1
        total = sum(g.count for g in drops.by_range.values())
        times = [g.first for g in drops.by_range.values() if g.first]
        window = facts.window
        during = sum(1 for e in facts.evidence.denies if window and e.time_utc
                     and window[0] <= e.time_utc <= window[1] and e.source_ip in missing)
        support.append(f"the firewall's deny log holds {total} denied attempt(s) from the "
                       "missing ranges"
                       + (f", the first at {min(times):%Y-%m-%d %H:%M}" if times else "")
                       + (f", {during} of them while the defers accumulated" if window else ""))

    deferred_src = facts.trace_sources(blocked)
    in_gap = [ip for ip in deferred_src if ip in missing]
    if in_gap:
        confidence += 0.1
        support.append(f"{len(in_gap)} of {len(deferred_src)} deferred attempts came from EOP "
                       f"addresses inside the missing ranges (e.g. {in_gap[0]})")
    confidence = round(max(0.05, min(confidence, 0.98)), 2)

    deciding, permitting = _deciding(verdict), _permitting(verdict)
    dest = verdict.inside_destination or verdict.destination
    where = f" arriving on interface {verdict.ingress}" if verdict.ingress else ""
    explanation = (
        f"{Path(verdict.config).name} permits TCP {verdict.destination.rsplit(':', 1)[-1]} to "
        f"{verdict.destination}"
        + (f" (inside address {verdict.inside_destination})" if verdict.inside_destination else "")
        + f" from only part of Microsoft's published EOP ranges{where}. "
        f"Not permitted: {', '.join(missing.cidrs())}."
    )
    if deciding and deciding.rule:
        explanation += (f" They are decided by {deciding.default or 'the rule'} at "
                        f"{cite.short(deciding.rule.location)}.")
    if support:
        explanation += " This agrees with the other evidence: " + "; ".join(support) + "."
    if doubts:
        explanation += " However, " + "; ".join(doubts) + "."

    remediation = [f"Permit TCP 25 from {', '.join(missing.cidrs())} to {dest}{where}."]
    fix = _fix(facts, verdict, missing)
    if fix is not None:
        remediation.append(f"{fix.summary} The exact change in {verdict.vendor} syntax is in "
                           "details.fix; " + (fix.verification if fix.verified else
                                              f"not verified: {fix.verification}") + ".")
    elif permitting and permitting.rule:
        remediation.append(
            f"Simplest change: add the missing prefixes to the sources of the rule that already "
            f"permits EOP ({cite.short(permitting.rule.location)}: {permitting.rule.text}).")
    remediation.append(f"Keep the rule in line with {facts.snapshot.label}; the published ranges "
                       "change, so re-check after every update.")
    remediation.append("Queued messages are retried by Exchange Online automatically; confirm in "
                       "the message trace that they move from Pending to Delivered.")

    evidence = [cite.rule(d.rule) for d in verdict.decisions if d.rule]
    evidence += [cite.trace_event(e) for e in blocked[:3]]
    evidence += [cite.session(s) for s in open_.sessions[:2]]
    evidence += [cite.deny(g.sample) for g in list(drops.by_range.values())[:2] if g.sample]
    return Finding(
        cause=Cause.FIREWALL_BLOCKS_EOP, severity="error", confidence=confidence,
        title=f"Firewall blocks {len(missing.cidrs())} EOP range(s) to {verdict.destination}",
        explanation=explanation, remediation=tuple(remediation), evidence=tuple(evidence),
        details={
            "destination": verdict.destination,
            "inside_destination": verdict.inside_destination,
            "ingress": verdict.ingress,
            "config": verdict.config,
            "vendor": verdict.vendor,
            "missing_prefixes": missing.cidrs(),
            "permitted_prefixes": permitted.cidrs(),
            "indeterminate_prefixes": (verdict.prefixes("indeterminate") & facts.eop).cidrs(),
            "rule": cite.rule_dict(deciding.rule, deciding.default) if deciding else None,
            "decisions": [_decision_dict(d) for d in verdict.decisions],
            "sessions_from_missing": gap_n,
            "sessions_from_permitted": open_n,
            "last_session_from_missing": gap.last.isoformat() if gap.last else None,
            "notes": list(verdict.notes),
            "fix": {"commands": fix.commands, "summary": fix.summary, "verified": fix.verified,
                    "verification": fix.verification} if fix else None,
        },
    )


def _drops(facts: Facts, sources: PrefixSet, verdict: FlowVerdict | None = None) -> Drops:
    """Deny-log entries for these sources to the target (public or, after NAT, inside)."""
    port = facts.port
    dests = {facts.target.ip} if facts.target and facts.target.ip else set()
    if verdict and verdict.inside_destination:
        dests.add(verdict.inside_destination.rsplit(":", 1)[0].strip("[]"))
    return eop_drops(facts.evidence.denies, sources, port, dests or None)


def _from_deny_log(facts: Facts) -> Finding | None:
    """Without a configuration, the deny log itself shows which EOP networks are refused."""
    drops = _drops(facts, facts.eop)
    drops = drops if drops.by_24 else eop_drops(facts.evidence.denies, facts.eop, facts.port)
    if not drops.by_24:
        return None
    total = sum(g.count for g in drops.by_range.values())
    ranges = ", ".join(f"{r} ({g.count})" for r, g in drops.by_range.items())
    dests = sorted({d for g in drops.by_range.values() for d in g.destinations})
    blocked = [e for e in facts.defers if failure_class(e) in (REFUSED, TIMEOUT)]
    confidence = 0.75 + (0.1 if blocked else 0.0)
    return Finding(
        cause=Cause.FIREWALL_BLOCKS_EOP, severity="error", confidence=round(confidence, 2),
        title=f"The firewall denied {total} connection(s) from EOP to port {facts.port}",
        explanation=(f"The deny log shows EOP sources refused on their way to {', '.join(dests)}:"
                     f" {ranges}. Denied networks: {', '.join(drops.by_24)}. Would settle the "
                     "exact rule and the complete list of missing prefixes: the firewall "
                     "configuration."),
        remediation=(f"Permit TCP 25 from all of {', '.join(facts.eop.cidrs())} to the SMTP "
                     "endpoint; the log shows at least the networks listed here are refused.",
                     "Run this diagnosis with the firewall configuration for the exact change."),
        evidence=tuple(cite.deny(g.sample) for g in drops.by_24.values() if g.sample)[:5],
        details={"missing_prefixes": drops.prefixes.cidrs(), "ranges": {
            r: g.count for r, g in drops.by_range.items()}, "denied_networks": {
            n: {"count": g.count, "first": g.first.isoformat() if g.first else None,
                "last": g.last.isoformat() if g.last else None}
            for n, g in drops.by_24.items()}, "destinations": dests, "rule": None,
            "basis": "firewall deny log"},
    )


def _blocks(prefixes: PrefixSet) -> list[str]:
    """Published ranges cut into /16 (IPv4) and /48 (IPv6) blocks, fine enough to tell a
    partial ACL apart, coarse enough that a day of sessions lands in each open block."""
    out: list[str] = []
    for net in prefixes.networks():
        size = 16 if net.version == 4 else 48
        out += [str(n) for n in (net.subnets(new_prefix=size) if net.prefixlen < size else [net])]
    return out


def _suspected(facts: Facts) -> Finding | None:
    """Without a firewall configuration: refusals plus EOP ranges gone silent in the logs.

    When connections are refused or time out while the receive logs, at the same time, show
    EOP sessions from some published ranges and none from others, a partial block is the best
    reading; the configuration is what would confirm it and name the rule.
    """
    blocked = [e for e in facts.defers if failure_class(e) in (REFUSED, TIMEOUT)]
    if facts.verdicts or not blocked or not facts.window:
        return None
    if not facts.eop_sessions:
        reached = facts.heard_from_eop or not facts.sessions_from_others
        return None if reached else _never_reached(facts, blocked)
    nets = [PrefixSet.parse(n) for n in _blocks(facts.eop)]
    heard = [n for n in nets if facts.activity(n).in_window]
    silent = [n for n in nets if not facts.activity(n).in_window]
    if not heard or not silent:
        return None  # all silent: nothing reached Exchange at all; that is not a partial block
    sources = facts.trace_sources(blocked)
    if sources:
        silent = [n for n in silent if any(ip in n for ip in sources)]
        if not silent or any(ip in n for n in heard for ip in sources):
            return None  # attempts failed from ranges that did get through: not this
    missing = PrefixSet()
    for n in silent:
        missing = missing | n
    permitted = PrefixSet()
    for n in heard:
        permitted = permitted | n
    confidence = 0.65 if sources else 0.5
    target = _target(facts)
    explanation = (
        f"{len(blocked)} attempt(s) to {target} were refused or timed out, while the receive "
        f"logs at the same time show EOP sessions from {', '.join(permitted.cidrs())} and none "
        f"from {', '.join(missing.cidrs())}"
        + (f"; the failed attempts came from {', '.join(sorted(set(sources))[:3])}"
           if sources else "")
        + ". That is the pattern of a firewall that permits only part of the EOP ranges. "
        "Would settle it: the external firewall's configuration (ASA running-config or "
        "iptables-save), which names the rule.")
    return Finding(
        cause=Cause.FIREWALL_BLOCKS_EOP, severity="error", confidence=confidence,
        title=f"Suspected: a firewall blocks {len(missing.cidrs())} EOP range(s) to {target}",
        explanation=explanation,
        remediation=(f"Check the firewall rule that permits TCP 25 to {target}: it must include "
                     f"{', '.join(facts.eop.cidrs())}.",
                     "Run this diagnosis again with the firewall configuration to get the "
                     "exact missing prefixes and the deciding rule."),
        evidence=tuple([cite.trace_event(e) for e in blocked[:3]]
                       + [cite.session(s) for s in facts.activity(permitted).sessions[:2]]),
        details={"destination": target, "missing_prefixes": missing.cidrs(),
                 "permitted_prefixes": permitted.cidrs(), "rule": None,
                 "basis": "receive-log silence per EOP range", "needs": ["firewall-config"]},
    )


def _target(facts: Facts) -> str:
    return facts.target.endpoint if facts.target and facts.target.ip else "the endpoint"


def _never_reached(facts: Facts, blocked: list) -> Finding:
    """Without a firewall configuration: refusals while the receive logs, which do cover the
    time (other sources are in them), hold no session at all from EOP. The traffic never
    reached Exchange; something on the way turns all of EOP away."""
    target = _target(facts)
    port = facts.port
    others = facts.sessions_from_others
    sources = sorted(set(facts.trace_sources(blocked)))
    explanation = (
        f"{len(blocked)} attempt(s) to {target} were refused or timed out, and the receive "
        f"logs hold {others} session(s) from other sources around the time of the trace but "
        "none at all from a published EOP range"
        + (f" (the failed attempts came from {', '.join(sources[:3])})" if sources else "")
        + ": Exchange Online's connections never reached Exchange. A firewall or NAT rule "
        f"that does not let EOP through to port {port} is the likely reason. Would settle "
        "it: the external firewall's configuration (ASA running-config or iptables-save)"
        + ("." if facts.evidence.denies else " or its deny log."))
    return Finding(
        cause=Cause.FIREWALL_BLOCKS_EOP, severity="error", confidence=0.55 if sources else 0.5,
        title=f"Suspected: no connection from EOP reaches {target}",
        explanation=explanation,
        remediation=(f"Check the firewall rule and any NAT or port forward for TCP {port} to "
                     f"{target}: they must let in {', '.join(facts.eop.cidrs())}.",
                     "Run this diagnosis again with the firewall configuration or its deny "
                     "log to get the exact rule and the missing prefixes."),
        evidence=tuple(cite.trace_event(e) for e in blocked[:3]),
        details={"destination": target, "missing_prefixes": facts.eop.cidrs(),
                 "permitted_prefixes": [], "rule": None,
                 "basis": "no EOP session in receive logs that hold other sessions",
                 "needs": ["firewall-config"]},
    )


def check(facts: Facts) -> list[Finding]:
    """One finding per configuration that leaves EOP ranges out; without a configuration, what
    the deny log shows, or else a suspicion from the receive logs."""
    if facts.verdicts:
        return [f for v in facts.verdicts if (f := _finding(facts, v))]
    other = _from_deny_log(facts) or _suspected(facts)
    return [other] if other else []
