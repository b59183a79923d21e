"""Step 5 of the chain: does the firewall let every published EOP range reach TCP 25?

The verdict comes from the exact rule evaluation; its confidence from how well the other
evidence agrees: refused or timed-out defers to the same target, EOP sessions in the receive
logs only from the ranges the firewall permits, and deferred EOP sources inside the gap.
"""

from __future__ import annotations

from pathlib import Path

from ...model import Cause, Decision, Finding, FlowVerdict
from .. import cite
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
    if facts.evidence.sessions:
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
    if permitting and permitting.rule:
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
        },
    )


def check(facts: Facts) -> list[Finding]:
    """One finding per firewall configuration that leaves EOP ranges out."""
    return [f for v in facts.verdicts if (f := _finding(facts, v))]
