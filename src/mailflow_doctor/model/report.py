"""The diagnosis: findings with their evidence, and the report renderers print."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import Cause, EvidenceRef, InputProblem, Severity

REPORT_SCHEMA = "mailflow-doctor/report/v1"


@dataclass(frozen=True)
class Finding:
    """One diagnosed cause, with why we believe it and what to change."""

    cause: Cause
    severity: Severity
    confidence: float
    title: str
    explanation: str
    remediation: tuple[str, ...] = ()
    evidence: tuple[EvidenceRef, ...] = ()
    details: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Report:
    """Everything a renderer needs; renderers never compute."""

    findings: tuple[Finding, ...]
    inputs: tuple[tuple[str, str], ...] = ()  # (file, detected kind)
    missing_evidence: tuple[str, ...] = ()
    problems: tuple[InputProblem, ...] = ()
    endpoints: str = ""  # which Microsoft 365 endpoints snapshot was used
    summary: dict = field(default_factory=dict, hash=False, compare=False)
