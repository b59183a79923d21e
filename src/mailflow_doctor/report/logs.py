"""Renderers for `logs sessions` and `logs summary`: results in, text or JSON out, no computing.

Log contents (EHLO names, replies, certificate names) are attacker-controlled: in text, each
value goes through terminal.escaped (see there).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from ..model.exchange import Certificate, SmtpSession
from ..store.queries import capability_parts, tls_parts
from ..store.run import RunInfo, SessionsResult, SummaryResult
from .terminal import escaped, json_text, needs_escaping

if TYPE_CHECKING:
    from ..store.summary import SummaryRow

SESSIONS_SCHEMA = "mailflow-doctor/logs-sessions/v1"
SUMMARY_SCHEMA = "mailflow-doctor/logs-summary/v1"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _short(value: datetime | None) -> str:
    return value.isoformat(" ", "seconds")[:19] + "Z" if value is not None else "-"


# -- sessions -------------------------------------------------------------------------------------


def session_dict(s: SmtpSession) -> dict:
    protocol, cipher, failure = tls_parts(s.tls)
    cert = s.certificate
    return {
        "session_id": s.session_id, "server": s.server, "connector": s.connector,
        "log_type": s.log_type, "start": _iso(s.start), "end": _iso(s.end),
        "remote_ip": s.remote_ip, "local_endpoint": s.local_endpoint, "ehlo": s.ehlo,
        "starttls_offered": s.starttls_offered, "starttls_used": s.starttls_used,
        "tls": None if s.tls is None else {"protocol": protocol, "cipher": cipher,
                                           "failure": failure},
        "certificate": None if cert is None else {
            "subject": cert.subject, "issuer": cert.issuer, "serial": cert.serial,
            "thumbprint": cert.thumbprint, "san": list(cert.san),
            "not_before": _iso(cert.not_before), "not_after": _iso(cert.not_after)},
        "messages": s.messages,
        "replies": [{"code": r[:3], "text": r} for r in s.replies],
        "disconnect": s.disconnect, "location": str(s.location), "lines": s.line_count,
        "tls_domain_capabilities": capability_parts(s.domain_capabilities),
    }


def _info_dict(info: RunInfo) -> dict:
    reg = info.registration
    return {"store": info.store, "files": reg.files, "files_read": info.ingested,
            "files_already_in_store": info.skipped, "files_outside_window": info.deferred,
            "files_read_by_python_reader": info.python_reader, "bad_lines": info.bad_lines,
            "problems": [{"location": str(p.location), "message": p.message}
                         for p in info.problems]}


def sessions_json(result: SessionsResult) -> str:
    f = result.filter
    return json_text({
        "schema": SESSIONS_SCHEMA,
        "filter": {"ip": f.ip, "cidr": f.cidr, "eop_instance": f.instance,
                   "since": _iso(f.since), "until": _iso(f.until)},
        "sessions": [session_dict(s) for s in result.sessions],
        "input": _info_dict(result.info)})


_OFFERED = {True: "offered", False: "NOT offered", None: "no EHLO reply"}


def _tls_text(s: SmtpSession, e=escaped) -> str:
    offered = _OFFERED[s.starttls_offered]
    used = ", used" if s.starttls_used else ""
    return (f"STARTTLS {offered}{used}; TLS {e(s.tls) if s.tls else 'none'}"
            f"{_capabilities_text(s.domain_capabilities)}")


@lru_cache(maxsize=64)
def _capabilities_text(line: str | None) -> str:
    """`; domain capabilities X (status Y, domain Z)`: one line or a few recur in every session
    of a server, so each is formatted once."""
    caps = capability_parts(line)
    if caps is None:
        return ""
    return (f"; domain capabilities {escaped(caps['capabilities']) or '-'} (status "
            f"{escaped(caps['status']) or '-'}"
            + (f", domain {escaped(caps['domain'])})" if caps["domain"] else ")"))


@lru_cache(maxsize=256)
def _certificate_text(cert: Certificate) -> str:
    """A server presents one certificate or two in every session: each is formatted once."""
    return (f"    certificate {escaped(cert.subject) or '-'} thumbprint "
            f"{escaped(cert.thumbprint) or '-'} expires {_short(cert.not_after)} "
            f"SAN {escaped(', '.join(cert.san)) or '-'}")


def _as_is(value: str | None) -> str:
    return value or ""


def _session_text(s: SmtpSession) -> list[str]:
    """The session's lines, from its values as they are when no line then holds a control
    character (nearly always; escaping would change nothing), else from escaped values."""
    lines = _session_lines(s, _as_is)
    return _session_lines(s, escaped) if needs_escaping(" ".join(lines)) else lines


def _session_lines(s: SmtpSession, e) -> list[str]:
    """The lines with each value shown through `e` (as it is, or escaped)."""
    arrow = "<-" if s.log_type == "send" else "->"  # a send session is ours, going out
    lines = [f"{_short(s.start)}  {e(s.server) or '-':10} {e(s.remote_ip):39} {arrow} "
             f"{e(s.local_endpoint)}  {e(s.session_id)}  {e(s.connector)}",
             f"    EHLO {e(s.ehlo) or '-'}; {_tls_text(s, e)}; {s.messages} message(s); "
             f"ended {_short(s.end)} ({e(s.disconnect) or 'no disconnect logged'})"]
    if s.certificate is not None:
        lines.append(_certificate_text(s.certificate))
    if s.replies:
        # Escaping only lengthens text, so cutting before it gives the same first 300.
        lines.append(f"    replies: {e(' | '.join([r[:60] for r in s.replies])[:300])[:300]}")
    lines.append(f"    at {e(str(s.location))}")
    return lines


def _footer(info: RunInfo) -> list[str]:
    reg = info.registration
    out = [f"{reg.files} log file(s): {info.ingested} read now, {info.skipped} already in the "
           f"store, {info.deferred} outside the time window (not read)"
           + (f"; {info.python_reader} read by the exact Python reader" if info.python_reader
              else ""),
           f"store: {info.store or 'temporary (deleted)'}"]
    if info.bad_lines or info.problems:
        out.append(f"{info.bad_lines} unusable line(s); first problems:" if info.bad_lines
                   else "problems:")
        out += [f"  {escaped(str(p))}" for p in info.problems]
    return out


def sessions_text(result: SessionsResult) -> str:
    lines = [f"SMTP sessions {result.filter.describe()}: {len(result.sessions)}", ""]
    for s in result.sessions:
        lines += _session_text(s)
    if result.sessions:
        lines.append("")
    lines += _footer(result.info)
    return "\n".join(lines) + "\n"


# -- summary --------------------------------------------------------------------------------------


def _row_dict(r: SummaryRow) -> dict:
    out = {"key": r.key, "sessions": r.sessions, "eop_sessions": r.eop_sessions,
           "first_seen": _iso(r.first_seen), "last_seen": _iso(r.last_seen),
           "eop_tls": {"ok": r.tls_ok, "failed": r.tls_failed,
                       "starttls_not_offered": r.starttls_not_offered, "none": r.no_tls},
           "eop_messages": r.messages}
    if r.networks:
        out["networks"] = [{"network": n.network, "sessions": n.sessions,
                            "first_seen": _iso(n.first_seen), "last_seen": _iso(n.last_seen)}
                           for n in r.networks]
    return out


def summary_json(result: SummaryResult) -> str:
    s = result.summary
    return json_text({
        "schema": SUMMARY_SCHEMA, "by": s.by, "instance": s.instance,
        "eop_ranges": list(s.eop_ranges), "since": _iso(s.since), "until": _iso(s.until),
        "sessions": s.sessions, "eop_sessions": s.eop_sessions,
        "rows": [_row_dict(r) for r in s.rows],
        "certificates": [{"server": c.server, "thumbprint": c.thumbprint, "subject": c.subject,
                          "not_after": _iso(c.not_after), "first_seen": _iso(c.first_seen),
                          "last_seen": _iso(c.last_seen), "sessions": c.sessions}
                         for c in s.certificates],
        "certificate_changes": [{"time": _iso(c.time), "server": c.server,
                                 "previous": c.previous, "thumbprint": c.thumbprint,
                                 "subject": c.subject, "not_after": _iso(c.not_after),
                                 "session_id": c.session_id, "location": str(c.location)}
                                for c in s.changes],
        "input": _info_dict(result.info)})


def summary_text(result: SummaryResult) -> str:
    s = result.summary
    title = {"source-prefix": "EOP range", "server": "server", "hour": "hour (UTC)"}[s.by]
    lines = [f"{s.sessions} session(s), {s.eop_sessions} from EOP ({s.instance}: "
             f"{', '.join(s.eop_ranges)})", "",
             f"{title:24} {'sessions':>8} {'EOP':>7} {'TLS ok':>7} {'failed':>6} "
             f"{'no STARTTLS':>11} {'plain':>6}  first seen            last seen"]
    for r in s.rows:
        lines.append(f"{escaped(r.key)[:24]:24} {r.sessions:8} {r.eop_sessions:7} {r.tls_ok:7} "
                     f"{r.tls_failed:6} {r.starttls_not_offered:11} {r.no_tls:6}  "
                     f"{_short(r.first_seen)}  {_short(r.last_seen)}")
        for n in r.networks:
            lines.append(f"  {n.network:22} {n.sessions:8}  {'':44}{_short(n.first_seen)}  "
                         f"{_short(n.last_seen)}")
    if not s.rows:
        lines.append("(no sessions)")
    lines += ["", "Certificates presented (receive logs):"]
    for c in s.certificates:
        lines.append(f"  {escaped(c.server):12} {escaped(c.thumbprint) or '-':40} "
                     f"{_short(c.first_seen)} .. {_short(c.last_seen)}  {c.sessions} session(s)"
                     f"  {escaped(c.subject)}  expires {_short(c.not_after)}")
    if not s.certificates:
        lines.append("  none logged")
    if s.changes:
        lines.append("Certificate changes:")
        for c in s.changes:
            lines.append(f"  {_short(c.time)}  {escaped(c.server)}: {escaped(c.previous)} -> "
                         f"{escaped(c.thumbprint)}  ({escaped(str(c.location))})")
    lines += [""] + _footer(result.info)
    return "\n".join(lines) + "\n"


RENDERERS = {"sessions": {"text": sessions_text, "json": sessions_json},
             "summary": {"text": summary_text, "json": summary_json}}

