"""Step 4 of the chain, beyond "did EOP get in": what happened inside EOP's sessions.

EOP reports certificate and TLS problems only in its own defer reasons; on-premises they show as
sessions that never offered STARTTLS, that presented a certificate EOP could not accept (wrong
name, expired), that failed TLS on our side, or that were answered with a 5xx refusal. These
findings use the same cause codes as the trace's, and the engine merges the two readings.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from ...model import Cause, Finding, SmtpSession
from .. import cite
from ..facts import Facts


def _names(s: SmtpSession) -> list[str]:
    cert = s.certificate
    if cert is None:
        return []
    names = [n.strip().lower() for n in cert.san if n.strip()]
    if cert.subject and "CN=" in cert.subject.upper():
        names.append(cert.subject.upper().split("CN=", 1)[1].split(",")[0].strip().lower())
    return names


def _matches(host: str, names: list[str]) -> bool:
    host = host.lower().rstrip(".")
    return any(n == host or (n.startswith("*.") and fnmatch.fnmatch(host, n)
                             and host.count(".") == n.count(".")) for n in names)


def _finding(cause: Cause, sessions: list[SmtpSession], title: str, explanation: str,
             remediation: tuple[str, ...], note: Callable[[SmtpSession], str]) -> Finding:
    first, last = min(s.start for s in sessions), max(s.start for s in sessions)
    return Finding(
        cause=cause, severity="error", confidence=0.7, title=title,
        explanation=f"{explanation} Seen in {len(sessions)} EOP session(s) between "
                    f"{first:%Y-%m-%d %H:%M}Z and {last:%Y-%m-%d %H:%M}Z.",
        remediation=remediation,
        evidence=tuple(cite.session(s, note(s)) for s in sessions[:3]),
        details={"sessions": len(sessions), "first": first.isoformat(),
                 "last": last.isoformat()})


def check(facts: Facts) -> list[Finding]:
    eop = facts.eop_sessions
    out: list[Finding] = []
    no_tls = [s for s in eop if s.starttls_offered is False]
    if no_tls:
        out.append(_finding(
            Cause.STARTTLS_NOT_OFFERED, no_tls,
            "The receive connector does not offer STARTTLS to Exchange Online",
            "Exchange answered EOP's EHLO without STARTTLS (X-ANONYMOUSTLS alone), which "
            "happens when it has no usable certificate for the connector; EOP requires TLS "
            "and defers with 451 5.7.3 STARTTLS is required.",
            ("Check the certificate named in the receive connector's TlsCertificateName "
             "(Get-ReceiveConnector | fl Identity,TlsCertificateName) exists, is valid and "
             "has a private key (Get-ExchangeCertificate).",
             "Enable it for SMTP (Enable-ExchangeCertificate -Services SMTP) and restart the "
             "Front End Transport service."),
            lambda s: f"EHLO reply without STARTTLS to {s.remote_ip} ({s.ehlo})"))
    no_key = [s for s in eop if s.tls and "nocredentials" in s.tls.lower()]
    if no_key:
        out.append(_finding(
            Cause.CERT_NO_PRIVATE_KEY, no_key,
            "TLS fails on our side: the certificate has no usable private key",
            "Exchange logged 'TLS negotiation failed with error NoCredentials' in sessions "
            "with EOP: the certificate it tried to use has no private key it can access.",
            ("Re-import the certificate with its private key (PFX) on every front end, or "
             "renew it, and assign it to SMTP.",),
            lambda s: f"TLS {s.tls} with {s.remote_ip}"))
    host = facts.target.fqdn if facts.target else None
    presented = [s for s in eop if s.certificate and s.tls and not s.tls.startswith("failed")]
    if host:
        wrong = [s for s in presented if _names(s) and not _matches(host, _names(s))]
        if wrong:
            names = ", ".join(sorted(set(_names(wrong[0]))))
            out.append(_finding(
                Cause.CERT_NAME_MISMATCH, wrong,
                f"The certificate presented to EOP does not carry {host}",
                f"Exchange presented a certificate for {names} to EOP, which connects to "
                f"{host}; EOP rejects it (SubjectMismatch) and defers the mail.",
                ("Set the receive connector's TlsCertificateName to the certificate that "
                 f"carries {host} (Set-ReceiveConnector -TlsCertificateName '<I>issuer<S>"
                 "subject').",
                 "Or make the outbound connector's TlsDomain match a name on the "
                 "certificate, then re-run the Hybrid Configuration Wizard."),
                lambda s: f"certificate {', '.join(_names(s))} presented to {s.remote_ip}"))
    expired = [s for s in presented if s.certificate and s.certificate.not_after
               and s.certificate.not_after < s.start]
    if expired:
        out.append(_finding(
            Cause.CERT_EXPIRED, expired,
            "The certificate presented to EOP has expired",
            f"The certificate Exchange presented expired on "
            f"{expired[0].certificate.not_after:%Y-%m-%d}; EOP refuses it "  # type: ignore[union-attr]
            "(CertificateExpired).",
            ("Renew the certificate, assign it to SMTP, point the receive connector's "
             "TlsCertificateName at it and re-run the Hybrid Configuration Wizard.",),
            lambda s: f"expired certificate presented to {s.remote_ip}"))
    refused = [s for s in eop if any(r[:1] == "5" and r[:3] != "500" for r in s.replies)]
    if refused:
        sample = next(r for r in refused[0].replies if r[:1] == "5")
        out.append(_finding(
            Cause.RECEIVE_CONNECTOR_REJECTS_EOP, refused,
            "The receive connector refuses mail from EOP",
            f"Exchange answered EOP with a permanent refusal, e.g. '{sample[:120]}': the "
            "connector that receives EOP's sessions lacks the permissions or remote IP "
            "ranges for them.",
            ("Check which receive connector takes EOP's sessions (connector-id in the log) "
             "and that it is the Default Frontend connector with "
             "TlsDomainCapabilities mail.protection.outlook.com:AcceptCloudServicesMail.",
             "Make sure no custom connector's RemoteIPRanges captures EOP's addresses."),
            lambda s: f"5xx reply to {s.remote_ip} on {s.connector}"))
    return out
