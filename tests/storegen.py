"""SYNTHETIC SMTP Receive protocol logs for the case-store tests.

Everything here is invented (tailspintoys.ca names, session ids, thumbprints); the line format
follows formats.md §1 and the real samples in test_protocol_log.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

HEADER = ["#Software: Microsoft Exchange Server", "#Version: 15.0.0.0",
          "#Log-type: SMTP Receive Protocol Log", "#Date: 2026-11-23T08:00:00.000Z",
          "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
          "remote-endpoint,event,data,context"]
THUMB_OLD = "9C3E5A7B1D2F4E6A8C0B2D4F6E8A0C2E4B6D8F0A"
THUMB_NEW = "1F0E2D3C4B5A69788796A5B4C3D2E1F00F1E2D3C"
TLS_OK = ('"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption '
          'algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with '
          'strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits"')
EXT = ("SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES {}X-ANONYMOUSTLS AUTH NTLM X-EXPS "
       "GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING XRDST")


def cert_line(thumbprint: str) -> str:
    return (f" CN=mail.tailspintoys.ca CN=TailspinToys-Issuing-CA 4F2A0000000B3C1D9E8F7A6B5C4D3E2F"
            f" {thumbprint} 2026-03-02T00:00:00.000Z 2027-03-02T23:59:59.000Z "
            "mail.tailspintoys.ca;smtp.tailspintoys.ca,Sending certificate Subject Issuer name "
            "Serial number Thumbprint Not before Not after Subject alternate names")


def session(sid: str, when: datetime, remote: str, *, server: str = "EXCH01",
            tls: str = "ok", thumbprint: str = THUMB_OLD, messages: int = 1) -> list[str]:
    """One session's lines. `tls`: ok, fail, plain (STARTTLS offered, not used), notoffered."""
    host = f"{server}.tailspintoys.ca"
    ip = remote.rsplit(":", 1)[0]
    ehlo = "NAM12-BN8-obe.outbound.protection.outlook.com"
    offered = "" if tls == "notoffered" else "STARTTLS "
    events = [("+", ","), (">", f'"220 {host} Microsoft ESMTP MAIL Service ready",'),
              ("<", f"EHLO {ehlo},"), (">", f"250 {host} Hello [{ip}] {EXT.format(offered)},")]
    if tls in ("ok", "fail"):
        events += [("<", "STARTTLS,"), (">", "220 2.0.0 SMTP server ready,"),
                   ("*", cert_line(thumbprint))]
    if tls == "fail":
        events += [("*", ",TLS negotiation failed with error UnknownCredentials"),
                   ("-", ",Remote(SocketError)")]
    else:
        if tls == "ok":
            events += [("*", "," + TLS_OK), ("<", f"EHLO {ehlo},"),
                       (">", f"250 {host} Hello [{ip}] {EXT.format('')},")]
        for n in range(messages):
            events += [("<", "MAIL FROM:<a@contoso.com>,"), (">", "250 2.1.0 Sender OK,"),
                       ("<", "RCPT TO:<b@tailspintoys.ca>,"), (">", "250 2.1.5 Recipient OK,"),
                       ("<", "BDAT 100 LAST,"),
                       (">", f'"250 2.6.0 <m{n}@contoso.com> [InternalId=1, Hostname={host}] '
                             '100 bytes in 0.1, 1.0 KB/sec Queued mail for delivery",')]
        events += [("<", "QUIT,"), (">", "221 2.0.0 Service closing transmission channel,"),
                   ("-", ",Local")]
    out = []
    for seq, (event, rest) in enumerate(events):
        t = when + timedelta(milliseconds=10 * seq)
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
        out.append(f"{stamp},{server}\\Default Frontend {server},{sid},{seq},10.20.0.25:25,"
                   f"{remote},{event},{rest}")
    return out


def write_log(path: Path, lines: list[str], *, header: bool = True, bom: bool = True) -> Path:
    """Write a log as Exchange does: UTF-8 BOM, CRLF, header block first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{line}\r\n" for line in (HEADER if header else []) + lines)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path
