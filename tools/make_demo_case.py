"""Build the bundled demo case: a synthetic copy of the reference scenario (tailspintoys).

A firewall change at 13:40Z removed some EOP objects from the ACL that publishes
smtp.tailspintoys.ca (13.92.177.139 → 10.20.0.25). From then on EOP servers in the removed ranges
are refused (4.4.316 / 10061) while the others still deliver; messages retry from other EOP
servers and some stay queued. The trace, the receive logs and the firewall configuration are
made consistent with each other. Run `python tools/make_demo_case.py` to rebuild the files; the
output is deterministic.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

CASE = Path(__file__).resolve().parent.parent / "src" / "mailflow_doctor" / "demo" / "case"
START = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
CHANGE = datetime(2026, 11, 23, 13, 40, tzinfo=timezone.utc)
END = datetime(2026, 11, 23, 20, 30, tzinfo=timezone.utc)  # when the trace was exported
PUBLIC, INSIDE, FQDN = "13.92.177.139", "10.20.0.25", "smtp.tailspintoys.ca"
SERVER = "EXCH01"
CONNECTOR = "Outbound to 4b0c2f7e-9d31-4c55-8a0e-6f1d2e3c4b5a"
# EOP sending pools; after CHANGE the firewall lets only the first three through.
PERMITTED = ["40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/15"]
BLOCKED = ["52.102.0.0/15", "104.47.0.0/17"]
EHLO_NAMES = ["NAM12-BN8-obe.outbound.protection.outlook.com",
              "NAM10-MW2-obe.outbound.protection.outlook.com",
              "CAN01-YT3-obe.outbound.protection.outlook.com",
              "NAM04-DM6-obe.outbound.protection.outlook.com"]
EXT_COLUMNS = ("date_time_utc,client_ip,client_hostname,server_ip,server_hostname,source_context,"
               "connector_id,source,event_id,internal_message_id,message_id,network_message_id,"
               "recipient_address,recipient_status,total_bytes,recipient_count,"
               "related_recipient_address,reference,message_subject,sender_address,return_path,"
               "message_info,directionality,tenant_id,original_client_ip,original_server_ip,"
               "custom_data").split(",")
TENANT = "7d1f4a2b-3c5e-4f60-9a8b-1c2d3e4f5a6b"
rng = random.Random(20261123)


def eop_ip(pool: list[str]) -> str:
    net = ipaddress.ip_network(rng.choice(pool))
    return str(net[rng.randrange(256, net.num_addresses - 256)])


def us_time(t: datetime) -> str:
    return f"{t.month}/{t.day}/{t.year} {t.strftime('%I:%M:%S %p').lstrip('0')}"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class ReceiveLog:
    """Writes Exchange 2019 SmtpReceive lines for EOP and internal sessions."""

    def __init__(self) -> None:
        self.rows: list[tuple[datetime, str]] = []
        self.counter = 0x08DE2B4C1A2F3D01

    def session(self, t: datetime, remote: str, ehlo: str, msgid: str, size: int) -> None:
        self.counter += rng.randrange(3, 40)
        sid = f"{self.counter:016X}"
        port = rng.randrange(1025, 65535)
        conn = f"{SERVER}\\Default Frontend {SERVER}"
        seq = 0

        def line(dt: float, event: str, data: str = "", context: str = "") -> None:
            nonlocal seq
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(
                [iso(t + timedelta(seconds=dt)), conn, sid, seq, f"{INSIDE}:25", f"{remote}:{port}",
                 event, data, context])
            self.rows.append((t + timedelta(seconds=dt), buf.getvalue()))
            seq += 1

        hello = (f"250 {SERVER}.tailspintoys.ca Hello [{remote}] SIZE 37748736 PIPELINING DSN "
                 "ENHANCEDSTATUSCODES STARTTLS X-ANONYMOUSTLS AUTH NTLM X-EXPS GSSAPI NTLM "
                 "8BITMIME BINARYMIME CHUNKING XRDST")
        line(0, "+")
        line(0, "*", "SMTPSubmit SMTPAcceptAnySender SMTPAcceptAuthoritativeDomainSender "
                     "AcceptRoutingHeaders", "Set Session Permissions")
        line(0, ">", f"220 {SERVER}.tailspintoys.ca Microsoft ESMTP MAIL Service ready at "
                     f"{t:%a, %d %b %Y %H:%M:%S} +0000")
        line(0.01, "<", f"EHLO {ehlo}")
        line(0.01, ">", hello)
        line(0.02, "<", "STARTTLS")
        line(0.02, ">", "220 2.0.0 SMTP server ready")
        line(0.02, "*", " CN=mail.tailspintoys.ca CN=TailspinToys-Issuing-CA "
                        "4F2A0000000B3C1D9E8F7A6B5C4D3E2F 9C3E5A7B1D2F4E6A8C0B2D4F6E8A0C2E4B6D8F0A "
                        "2026-03-02T00:00:00.000Z 2027-03-02T23:59:59.000Z "
                        "mail.tailspintoys.ca;smtp.tailspintoys.ca;autodiscover.tailspintoys.ca",
             "Sending certificate Subject Issuer name Serial number Thumbprint Not before "
             "Not after Subject alternate names")
        line(0.09, "*", "", "TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk "
                            "encryption algorithm CALG_AES_256 with strength 256 bits, MAC hash "
                            "algorithm CALG_SHA_384 with strength 0 bits and key exchange "
                            "algorithm CALG_ECDH_EPHEM with strength 384 bits")
        if ehlo.endswith("outbound.protection.outlook.com"):
            line(0.09, "*", "", "TlsDomainCapabilities='AcceptCloudServicesMail'; "
                                "Status='Success'; Domain='mail.protection.outlook.com'")
        line(0.10, "<", f"EHLO {ehlo}")
        line(0.10, ">", hello.replace(" STARTTLS", ""))
        line(0.11, "<", f"MAIL FROM:<> SIZE={size}")
        line(0.11, "*", f"{sid};{iso(t)};1", "receiving message")
        line(0.12, "<", "RCPT TO:<recipient>")
        line(0.12, ">", "250 2.1.5 Recipient OK")
        line(0.13, "<", f"BDAT {size} LAST")
        line(0.25, ">", f"250 2.6.0 {msgid} [InternalId={rng.randrange(10**13, 10**14)}, "
                        f"Hostname={SERVER}.tailspintoys.ca] {size} bytes in 0.112, "
                        f"{size / 1024 / 0.112:.3f} KB/sec Queued mail for delivery")
        line(0.26, "<", "QUIT")
        line(0.26, ">", "221 2.0.0 Service closing transmission channel")
        line(0.27, "-", "", "Local")

    def write(self, folder: Path) -> None:
        """One file per hour, each with its own header, like Exchange writes them."""
        by_hour: dict[datetime, list[str]] = {}
        for t, text in sorted(self.rows, key=lambda r: r[0]):
            by_hour.setdefault(t.replace(minute=0, second=0, microsecond=0), []).append(text)
        folder.mkdir(parents=True, exist_ok=True)
        for hour, lines in by_hour.items():
            header = ["#Software: Microsoft Exchange Server", "#Version: 15.0.0.0",
                      "#Log-type: SMTP Receive Protocol Log", f"#Date: {iso(hour)}",
                      "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
                      "remote-endpoint,event,data,context"]
            path = folder / f"RECV{hour:%Y%m%d%H}-1.LOG"
            path.write_text("\r\n".join(header + lines) + "\r\n", encoding="utf-8-sig")


TRACKING_FIELDS = (
    "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,"
    "source,event-id,internal-message-id,message-id,network-message-id,recipient-address,"
    "recipient-status,total-bytes,recipient-count,related-recipient-address,reference,"
    "message-subject,sender-address,return-path,message-info,directionality,tenant-id,"
    "original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,"
    "schema-version").split(",")


class TrackingLog:
    """Message tracking on EXCH01: the front end proxies each EOP message to the mailbox's
    transport service (client-ip is the front end, original-client-ip the EOP server), which
    delivers it to the mailbox. No random numbers, so the other files stay as they were."""

    def __init__(self) -> None:
        self.rows: list[tuple[datetime, str]] = []

    def delivered(self, t: datetime, src: str, msg: dict) -> None:
        internal = 40000 + len(self.rows) // 2
        common = {"server-ip": INSIDE, "server-hostname": SERVER,
                  "internal-message-id": str(internal), "message-id": msg["id"],
                  "network-message-id": msg["nmid"], "recipient-address": msg["rcpt"],
                  "total-bytes": str(msg["size"]), "recipient-count": "1",
                  "message-subject": msg["subject"], "sender-address": msg["from"],
                  "return-path": msg["from"], "directionality": "Incoming",
                  "tenant-id": TENANT, "transport-traffic-type": "Email",
                  "schema-version": "15.02.1544.004"}
        self._row(t + timedelta(seconds=1), common, {
            "client-ip": INSIDE, "client-hostname": f"{SERVER}.tailspintoys.ca",
            "source-context": f"08DE2B4C{internal:08X};{iso(t)};0",
            "connector-id": f"{SERVER}\\Default {SERVER}", "source": "SMTP",
            "event-id": "RECEIVE", "original-client-ip": src})
        self._row(t + timedelta(seconds=2), common, {
            "source": "STOREDRIVER", "event-id": "DELIVER",
            "recipient-status": "250 2.0.0 Delivered"})

    def _row(self, t: datetime, common: dict, cells: dict) -> None:
        values = {**common, **cells, "date-time": iso(t)}
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(values.get(f, "") for f in TRACKING_FIELDS)
        self.rows.append((t, buf.getvalue()))

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        header = ["#Software: Microsoft Exchange Server", "#Version: 15.02.1544.004",
                  "#Log-type: Message Tracking Log", f"#Date: {iso(START)}",
                  "#Fields: " + ",".join(TRACKING_FIELDS)]
        lines = [text for _, text in sorted(self.rows, key=lambda r: r[0])]
        (folder / f"MSGTRK{START:%Y%m%d}08-1.LOG").write_text(
            "\r\n".join(header + lines) + "\r\n", encoding="utf-8-sig")


def trace_row(t: datetime, event: str, msg: dict, **cols: str) -> dict:
    row = {c: "" for c in EXT_COLUMNS}
    row.update(date_time_utc=iso(t), event_id=event, message_id=msg["id"],
               network_message_id=msg["nmid"], recipient_address=msg["rcpt"],
               sender_address=msg["from"], message_subject=msg["subject"],
               total_bytes=str(msg["size"]), recipient_count="1", directionality="Incoming",
               tenant_id=TENANT, source="SMTP", return_path=msg["from"])
    row.update(cols)
    return row


def main() -> None:
    receive, tracking = ReceiveLog(), TrackingLog()
    rows: list[dict] = []
    subjects = ["Invoice 2026-11-{n:03d}", "Re: shipment {n}", "Quote request #{n}",
                "Order confirmation {n}", "Meeting notes {n}"]
    t = START
    n = 0
    reference_used = False
    while t < datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc):
        n += 1
        t += timedelta(minutes=rng.randrange(4, 16), seconds=rng.randrange(60))
        msg = {"id": f"<{rng.randrange(16**12):012x}.{n}@partner{n % 7}.example.com>",
               "nmid": f"{rng.randrange(16**8):08x}-1f2e-4d3c-9b8a-{rng.randrange(16**12):012x}",
               "rcpt": f"user{n % 23}@tailspintoys.ca", "from": f"sales@partner{n % 7}.example.com",
               "subject": rng.choice(subjects).format(n=n), "size": rng.randrange(8000, 90000)}
        exo = f"YT2PR01MB{rng.randrange(1000, 9999)}.CANPRD01.PROD.OUTLOOK.COM"
        rows.append(trace_row(t, "RECEIVE", msg, client_ip=f"203.0.113.{n % 200 + 10}",
                              client_hostname=f"mail.partner{n % 7}.example.com",
                              server_hostname=exo))
        attempt = t + timedelta(seconds=rng.randrange(2, 20))
        while attempt < END:
            src = eop_ip(PERMITTED + BLOCKED)
            if attempt >= CHANGE and not reference_used:
                src, reference_used = "104.47.34.97", True  # the sender named in the case
            blocked = attempt >= CHANGE and any(
                ipaddress.ip_address(src) in ipaddress.ip_network(b) for b in BLOCKED)
            common = dict(client_ip=src, client_hostname=exo, server_ip=PUBLIC,
                          server_hostname=FQDN, connector_id=CONNECTOR)
            if not blocked:
                rows.append(trace_row(attempt, "SEND", msg, recipient_status=(
                    f"250 2.6.0 {msg['id']} Queued mail for delivery"), **common))
                receive.session(attempt, src, rng.choice(EHLO_NAMES), msg["id"], msg["size"])
                tracking.delivered(attempt, src, msg)
                break
            reason = (f"[{{LED=450 4.4.316 Connection refused}};{{MSG=Socket error code 10061}};"
                      f"{{FQDN={FQDN}}};{{IP={PUBLIC}}};{{LRT={us_time(attempt)}}}]")
            rows.append(trace_row(attempt, "DEFER", msg, recipient_status=reason, **common))
            attempt += timedelta(minutes=rng.choice([15, 30, 45, 60, 120, 240]))
    # An internal application relays through the same connector; it is not EOP and must not count.
    for hour in range(8, 20, 2):
        at = datetime(2026, 11, 23, hour, 17, 5, tzinfo=timezone.utc)
        receive.session(at, "10.20.0.40", "scanner01.tailspintoys.ca",
                        f"<scan{hour}@scanner01.tailspintoys.ca>", 250000)

    receive.write(CASE / "exchange" / SERVER / "FrontEnd" / "ProtocolLog" / "SmtpReceive")
    tracking.write(CASE / "exchange" / SERVER / "MessageTracking")
    rng.shuffle(rows)  # the extended report is not sorted
    buf = io.StringIO()
    writer = csv.DictWriter(buf, EXT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    (CASE / "trace").mkdir(parents=True, exist_ok=True)
    (CASE / "trace" / "MTDetail_tailspintoys_extended.csv").write_text(
        buf.getvalue(), encoding="utf-16")


if __name__ == "__main__":
    main()
