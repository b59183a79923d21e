"""Writers of SYNTHETIC evidence files in the real formats, for end-to-end cases.

They follow ../shared/reference/formats.md: SmtpReceive protocol logs (Exchange 2019),
Get-MessageTraceDetailV2 | Export-Csv output, and the extended message trace report CSV.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

RECV_HEADER = [
    "#Software: Microsoft Exchange Server", "#Version: 15.0.0.0",
    "#Log-type: SMTP Receive Protocol Log", "#Date: 2026-11-23T00:00:00.000Z",
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,"
    "event,data,context",
]
EXTENDED_COLUMNS = (
    "date_time_utc,client_ip,client_hostname,server_ip,server_hostname,source_context,"
    "connector_id,source,event_id,internal_message_id,message_id,network_message_id,"
    "recipient_address,recipient_status,total_bytes,recipient_count,related_recipient_address,"
    "reference,message_subject,sender_address,return_path,message_info,directionality,tenant_id,"
    "original_client_ip,original_server_ip,custom_data").split(",")
DETAIL_COLUMNS = ["Organization", "MessageId", "MessageTraceId", "RecipientAddress",
                  "SenderAddress", "Date", "Event", "Action", "Detail", "Data"]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def us(t: datetime) -> str:
    return f"{t.month}/{t.day}/{t.year} {t.strftime('%I:%M:%S %p').lstrip('0')}"


def _csv_line(values: list) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values)
    return buf.getvalue()


def receive_log(path: Path, sessions: list[tuple[datetime, str]], server: str = "EXCH01",
                local: str = "10.0.0.25:25", starttls: bool = True,
                certificate: str | None = None,
                ehlo: str = "NAM12-BN8-obe.outbound.protection.outlook.com") -> None:
    """One EOP-style session (EHLO, STARTTLS, one message queued) per (start, remote IP).

    `starttls=False` leaves STARTTLS out of the EHLO reply (the session then ends there);
    `certificate` is the new-format certificate line's data (subject issuer serial thumbprint
    not-before not-after SANs), logged after STARTTLS.
    """
    lines = list(RECV_HEADER)
    for n, (t, remote) in enumerate(sorted(sessions)):
        sid = f"08DE2B4C{n:08X}"
        conn = f"{server}\\Default Frontend {server}"
        events = [
            ("+", "", ""),
            (">", f"220 {server}.example.net Microsoft ESMTP MAIL Service ready", ""),
            ("<", f"EHLO {ehlo}", ""),
            (">", f"250 {server}.example.net Hello [{remote}] SIZE 37748736 PIPELINING DSN "
                  f"ENHANCEDSTATUSCODES {'STARTTLS ' if starttls else ''}X-ANONYMOUSTLS AUTH "
                  "NTLM X-EXPS 8BITMIME", ""),
            ("<", "STARTTLS", ""),
            (">", "220 2.0.0 SMTP server ready", ""),
            ("*", "", "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk "
                      "encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash "
                      "algorithm CALG_SHA_384 with strength 0 bits and key exchange algorithm "
                      "CALG_ECDH_EPHEM with strength 384 bits"),
            ("<", "MAIL FROM:<> SIZE=4242", ""),
            ("*", f"{sid};{iso(t)};1", "receiving message"),
            (">", f"250 2.6.0 <m{n}@example.org> [InternalId=1{n:012d}, Hostname={server}] "
                  "4242 bytes in 0.051, 81.2 KB/sec Queued mail for delivery", ""),
            ("-", "", "Local"),
        ]
        if not starttls:
            events = events[:4] + [("<", "QUIT", ""), ("-", "", "Remote")]
        elif certificate:
            events.insert(6, ("*", certificate, "Sending certificate Subject Issuer name Serial "
                                                "number Thumbprint Not before Not after Subject "
                                                "alternate names"))
        for seq, (event, data, context) in enumerate(events):
            stamp = iso(t + timedelta(milliseconds=20 * seq))
            lines.append(_csv_line([stamp, conn, sid, seq, local, f"{remote}:{40000 + n}",
                                    event, data, context]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8-sig")


def led(code: str, text: str, socket: int, fqdn: str, ip: str, t: datetime) -> str:
    return (f"[{{LED={code} {text}}};{{MSG=Socket error code {socket}}};{{FQDN={fqdn}}};"
            f"{{IP={ip}}};{{LRT={us(t)}}}]")


def detail_csv(path: Path, rows: list[dict]) -> None:
    """Get-MessageTraceDetailV2 | Export-Csv (Windows PowerShell 5.1 style, with #TYPE line)."""
    buf = io.StringIO()
    buf.write("#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTraceDetail\r\n")
    writer = csv.DictWriter(buf, DETAIL_COLUMNS, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({c: r.get(c, "") for c in DETAIL_COLUMNS} for r in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")


def extended_csv(path: Path, rows: list[dict], encoding: str = "utf-16") -> None:
    """The extended message trace report (UTF-16 with BOM by default, as downloaded)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, EXTENDED_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({c: r.get(c, "") for c in EXTENDED_COLUMNS} for r in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding=encoding)


def extended_row(t: datetime, event: str, n: int, *, source: str = "", target_ip: str = "",
                 target_host: str = "", status: str = "") -> dict:
    return {"date_time_utc": iso(t), "event_id": event, "message_id": f"<msg{n}@example.org>",
            "recipient_address": f"user{n}@example.net", "sender_address": "a@example.org",
            "client_ip": source, "server_ip": target_ip, "server_hostname": target_host,
            "recipient_status": status, "source": "SMTP", "connector_id": "Outbound to OnPrem",
            "directionality": "Incoming", "total_bytes": "4242", "recipient_count": "1"}
