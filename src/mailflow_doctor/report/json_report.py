"""The stable JSON contract (`mailflow-doctor/report/v1`) that other tools rely on."""

from __future__ import annotations

from .. import __version__
from ..model.report import REPORT_SCHEMA, Finding, Report
from .terminal import json_text


def finding_dict(f: Finding) -> dict:
    return {
        "cause": f.cause.value,
        "severity": f.severity,
        "confidence": f.confidence,
        "title": f.title,
        "explanation": f.explanation,
        "remediation": list(f.remediation),
        "evidence": [{"source": e.source, "location": e.location, "excerpt": e.excerpt}
                     for e in f.evidence],
        "details": f.details,
    }


def as_dict(report: Report) -> dict:
    return {
        "schema": REPORT_SCHEMA,
        "tool": {"name": "mailflow-doctor", "version": __version__},
        "endpoints": report.endpoints,
        "findings": [finding_dict(f) for f in report.findings],
        "missing_evidence": list(report.missing_evidence),
        "inputs": [{"file": path, "kind": kind} for path, kind in report.inputs],
        "problems": [{"location": str(p.location), "message": p.message}
                     for p in report.problems],
        "summary": report.summary,
    }


def render(report: Report) -> str:
    return json_text(as_dict(report), default=str)
