"""Step 4 of the chain, beyond "did EOP get in": what happened inside EOP's sessions.

EOP reports certificate and TLS problems only in its own defer reasons; on-premises they show as
sessions that never offered STARTTLS, that presented a certificate EOP could not accept (wrong
name, expired, or the old one after a renewal), that failed TLS on our side, or that were
answered with a 5xx refusal. These
findings use the same cause codes as the trace's, and the engine merges the two readings.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from ...knowledge.codes import lookup_tls_message
from ...model import Cause
from ...model.exchange import Certificate, SmtpSession
from ...model.report import Finding
from .. import cite
from ..facts import Facts


def _names(s: SmtpSession) -> list[str]:
    return _cert_names(s.certificate) if s.certificate else []


def _cert_names(cert: Certificate) -> list[str]:
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


def _renewed_by(old: Certificate, new: Certificate) -> bool:
    """`new` replaces `old`: another certificate for one of its names, valid for longer."""
    return (new.thumbprint != old.thumbprint and new.not_after is not None
            and old.not_after is not None and new.not_after > old.not_after
            and bool(set(_cert_names(old)) & set(_cert_names(new))))


def _stale(eop: list[SmtpSession]) -> Finding | None:
    """Sessions still presenting a certificate after its renewal was presented elsewhere (or
    earlier on the same server): the connector there still names the old certificate."""
    presented = sorted((s for s in eop if s.certificate and s.certificate.thumbprint),
                       key=lambda s: s.start)
    first_seen: dict[str, SmtpSession] = {}
    for s in presented:
        first_seen.setdefault(s.certificate.thumbprint, s)  # type: ignore[union-attr]
    stale: list[tuple[SmtpSession, SmtpSession]] = []  # (old session, first with the renewal)
    for s in presented:
        renewal = next((n for n in first_seen.values() if n.start <= s.start
                        and _renewed_by(s.certificate, n.certificate)), None)  # type: ignore
        if renewal is not None:
            stale.append((s, renewal))
    if not stale:
        return None
    old_s, new_s = stale[0]
    old, new = old_s.certificate, new_s.certificate
    assert old is not None and new is not None
    expired = [s for s, _ in stale if old.not_after and old.not_after < s.start]
    servers = sorted({s.server or s.connector for s, _ in stale})
    finding = _finding(
        Cause.CONNECTOR_CERT_STALE, [s for s, _ in stale],
        f"{', '.join(servers)} still present(s) the certificate that was renewed",
        f"Certificate {new.thumbprint} (valid until {new.not_after:%Y-%m-%d}) has been "
        f"presented to EOP since {new_s.start:%Y-%m-%d %H:%M}Z on {new_s.server or '-'}, yet "
        f"{', '.join(servers)} kept presenting {old.thumbprint} (valid until "
        f"{old.not_after:%Y-%m-%d}) afterwards: the receive connector there still names the "
        "old certificate in TlsCertificateName"
        + (", which has expired, so EOP refuses TLS." if expired else
           "; it works until that certificate expires, then EOP defers all mail to it."),
        ("On each server listed, point the connector at the renewed certificate: "
         "Set-ReceiveConnector '<server>\\Default Frontend <server>' -TlsCertificateName "
         "'<I>issuer<S>subject' (issuer and subject of the renewed certificate).",
         "Check the hybrid send and receive connectors too (Get-SendConnector | fl "
         "Name,TlsCertificateName) and re-run the Hybrid Configuration Wizard.",
         "Remove the old certificate only after no connector names it."),
        lambda s: f"{s.server or s.connector} presented {s.certificate.thumbprint} "  # type: ignore
                  f"to {s.remote_ip}")
    severity = "error" if expired else "warning"
    return replace(finding, severity=severity, details={
        **finding.details, "old_thumbprint": old.thumbprint, "new_thumbprint": new.thumbprint,
        "renewal_first_seen": new_s.start.isoformat(), "servers": servers})


def _rejected(facts: Facts) -> Finding | None:
    """EOP hung up right after our certificate, before TLS completed: it refused the certificate.
    Which objection is read from the trace's inner message, else from the certificate itself."""
    closed = [s for s in facts.eop_sessions if s.certificate and s.starttls_used and not s.tls
              and (s.disconnect or "").lower().startswith("remote")]
    if not closed:
        return None
    said = Counter(info.cause for d in facts.defers if d.reason and (
        info := lookup_tls_message(d.reason.inner_message or d.reason.msg or d.reason.raw)))
    cert = closed[0].certificate
    assert cert is not None
    host = facts.target.fqdn if facts.target else None
    if said:
        cause, why = said.most_common(1)[0][0], "as the trace's defer reasons say"
    elif host and _names(closed[0]) and not _matches(host, _names(closed[0])):
        cause, why = Cause.CERT_NAME_MISMATCH, f"it does not carry {host}"
    elif cert.not_after and cert.not_after < closed[0].start:
        cause, why = Cause.CERT_EXPIRED, f"it expired on {cert.not_after:%Y-%m-%d}"
    elif cert.subject and cert.subject == cert.issuer:
        cause, why = Cause.CERT_UNTRUSTED, "it is self-signed"
    else:
        cause, why = Cause.TLS_HANDSHAKE_FAILED, "the logs do not say why"
    return _finding(
        cause, closed, "Exchange Online hangs up after the certificate is presented",
        f"EOP closed the session ({closed[0].disconnect}) right after Exchange sent certificate "
        f"{cert.thumbprint} ({cert.subject or 'no subject logged'}), before TLS completed: it did not accept "
        f"the certificate; {why}.",
        ("Present a certificate from a public CA that carries the host name EOP connects to, "
         "is within its validity and is assigned to SMTP; point the receive connector's "
         "TlsCertificateName at it.",),
        lambda s: f"{s.remote_ip} disconnected after certificate {s.certificate.thumbprint}"
                  f" ({s.disconnect})")  # type: ignore[union-attr]


def check(facts: Facts) -> list[Finding]:
    eop = facts.eop_sessions
    out: list[Finding] = []
    if stale := _stale(eop):
        out.append(stale)
    if rejected := _rejected(facts):
        out.append(rejected)
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
