"""Generate SYNTHETIC Exchange 2019 SmtpReceive protocol logs for the case-store benchmark.

Front End receive logs of several servers, laid out as Exchange writes them
(`<SERVER>/FrontEnd/ProtocolLog/SmtpReceive/RECVyyyymmddhh-n.LOG`, UTF-8 with BOM, CRLF, the
five-line header, a new file each hour or at 10 MB). Sessions interleave as they do on a busy
server: EOP deliveries from the published ranges (STARTTLS, the single-line certificate format,
TLS 1.2), internal relays, other internet senders (some refused, some dropping after EHLO, some
failing TLS). Each server renews its certificate once, half way through, so the thumbprint
changes. The last file of each server ends in a cut-off line, as a log still being written.

Never write the output inside the repository: pass a folder under /tmp.
Run: python benchmarks/gen_receive_logs.py OUT_DIR [--size-gb 2.0] [--servers 4] [--seed 1]
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
from datetime import UTC, datetime, timedelta
from multiprocessing import Pool
from pathlib import Path

START = datetime(2026, 11, 20, tzinfo=UTC)
FILE_LIMIT = 10 * 1024 * 1024
SESSIONS_PER_HOUR = 2600
HEADER = ("#Software: Microsoft Exchange Server\r\n#Version: 15.0.0.0\r\n"
          "#Log-type: SMTP Receive Protocol Log\r\n#Date: {date}\r\n"
          "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
          "remote-endpoint,event,data,context\r\n")
EOP_RANGES = [((40, 92), 2), ((40, 107), 1), ((52, 100), 4), ((104, 47), 1)]  # (/16 start, count)
EOP_NAMES = ["NAM12-BN8", "NAM10-DM6", "NAM11-CO1", "EUR05-DB8", "EUR03-AM7", "CAN01-YT3",
             "APC01-SG2", "NAM04-MW2"]
CERTS = [
    ("CN=mail.tailspintoys.ca, O=Tailspin Toys, L=Toronto, C=CA",
     "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US",
     "0B7C3F1E9A2D4C6B8E0F1A3C5E7D9B2A", "2025-12-01T00:00:00.000Z", "2026-11-21T23:59:59.000Z"),
    ("CN=mail.tailspintoys.ca, O=Tailspin Toys, L=Toronto, C=CA",
     "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1, O=DigiCert Inc, C=US",
     "03AD5E7F9B1C2D4E6F8A0B2C4D6E8F1A", "2026-11-15T00:00:00.000Z", "2027-11-14T23:59:59.000Z"),
]
SANS = "mail.tailspintoys.ca;smtp.tailspintoys.ca;autodiscover.tailspintoys.ca"
TLS_OK = ('"TLS protocol SP_PROT_TLS1_2_SERVER negotiation succeeded using bulk encryption '
          'algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with '
          'strength 0 bits and key exchange algorithm CALG_ECDH_EPHEM with strength 384 bits"')
PERMS_ANON = "SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAnySender AcceptRoutingHeaders"
PERMS_INT = ("SMTPSubmit SMTPAcceptAnyRecipient SMTPAcceptAuthenticationFlag SMTPAcceptAnySender "
             "SMTPAcceptAuthoritativeDomainSender BypassAntiSpam BypassMessageSizeLimit "
             "SMTPAcceptEXCH50 AcceptRoutingHeaders")
EXT = ("SIZE 37748736 PIPELINING DSN ENHANCEDSTATUSCODES {tls}X-ANONYMOUSTLS AUTH NTLM X-EXPS "
       "GSSAPI NTLM 8BITMIME BINARYMIME CHUNKING SMTPUTF8 XRDST")
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]


def _thumb(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(40))


class Server:
    """One front end: its name, address, certificates and session-id counter."""

    def __init__(self, index: int, seed: int) -> None:
        self.rng = random.Random(seed * 1000 + index)
        self.name = f"EXCH{index + 1:02d}"
        self.connector = f"{self.name}\\Default Frontend {self.name}"
        self.local = f"10.20.0.{25 + index}:25"
        self.session = 0x08DE2B4C1A000000 + index * 0x1000000000
        self.certs = []
        for subject, issuer, serial, before, after in CERTS:
            data = f'" {subject} {issuer} {serial} {_thumb(self.rng)} {before} {after} {SANS}"'
            self.certs.append(data + ",Sending certificate Subject Issuer name Serial number "
                                     "Thumbprint Not before Not after Subject alternate names")

    def next_id(self) -> str:
        self.session += self.rng.randrange(1, 4000)
        return f"{self.session:016X}"


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _eop_ip(rng: random.Random) -> str:
    (a, b), count = rng.choice(EOP_RANGES)
    span = 128 if (a, b) == (104, 47) else 256
    return f"{a}.{b + rng.randrange(count)}.{rng.randrange(span)}.{rng.randrange(1, 255)}"


def _session(srv: Server, start: datetime, cert: str, rng: random.Random
             ) -> list[tuple[datetime, str]]:
    """The lines of one session: (time, text after the session-id column)."""
    kind = rng.random()
    if kind < 0.55:
        ip, helo, tls, perms = _eop_ip(rng), f"{rng.choice(EOP_NAMES)}-obe.outbound.protection." \
                                               "outlook.com", "ok", PERMS_ANON
    elif kind < 0.75:
        ip, helo, tls, perms = f"10.20.{rng.randrange(1, 8)}.{rng.randrange(2, 250)}", \
            f"app{rng.randrange(40):02d}.tailspintoys.ca", rng.choice(["ok", "none"]), PERMS_INT
    else:
        ip = f"{rng.choice([185, 198, 203, 91, 45])}.{rng.randrange(256)}." \
             f"{rng.randrange(256)}.{rng.randrange(1, 255)}"
        helo, perms = f"mx{rng.randrange(9)}.partner{rng.randrange(300)}.example", PERMS_ANON
        tls = rng.choice(["ok", "ok", "none", "fail", "reject", "drop"])
    remote = f"{ip}:{rng.randrange(1024, 65535)}"
    host = f"{srv.name}.tailspintoys.ca"
    ev: list[tuple[str, str]] = [
        ("+", ","),
        ("*", f"{perms},Set Session Permissions"),
        (">", f'"220 {host} Microsoft ESMTP MAIL Service ready at '
              f'{start.strftime("%a, %d %b %Y %H:%M:%S")} +0000",'),
        ("<", f"EHLO {helo},"),
        (">", f"250 {host} Hello [{ip}] {EXT.format(tls='STARTTLS ')},"),
    ]
    if tls == "drop":
        ev.append(("-", ",Remote(ConnectionReset)"))
    elif tls == "fail":
        ev += [("<", "STARTTLS,"), (">", "220 2.0.0 SMTP server ready,"), ("*", cert),
               ("*", ",TLS negotiation failed with error UnknownCredentials"),
               ("-", ",Remote(SocketError)")]
    else:
        if tls == "ok":
            ev += [("<", "STARTTLS,"), (">", "220 2.0.0 SMTP server ready,"), ("*", cert),
                   ("*", "," + TLS_OK)]
            if perms is PERMS_ANON and helo.endswith("outlook.com"):
                ev.append(("*", ",TlsDomainCapabilities='AcceptCloudServicesMail'; "
                                "Status='Success'; Domain='mail.protection.outlook.com'"))
            ev += [("<", f"EHLO {helo},"),
                   (">", f"250 {host} Hello [{ip}] {EXT.format(tls='')},")]
        size = rng.randrange(2000, 400000)
        sender = f"{rng.choice(USERS)}@{'contoso.com' if kind >= 0.75 else 'tailspintoys.ca'}"
        ev += [("<", f"MAIL FROM:<{sender}> SIZE={size} BODY=8BITMIME,"),
               ("*", f"{{sid}};{_stamp(start)};1,receiving message"),
               (">", "250 2.1.0 Sender OK,")]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            ev += [("<", f"RCPT TO:<{rng.choice(USERS)}@tailspintoys.ca>,"),
                   (">", "250 2.1.5 Recipient OK,")]
        if tls == "reject":
            ev += [("<", f"BDAT {size} LAST,"),
                   (">", "550 5.7.1 Message rejected as spam by Content Filtering.,"),
                   ("<", "QUIT,"), (">", "221 2.0.0 Service closing transmission channel,"),
                   ("-", ",Local")]
        else:
            took = rng.randrange(20, 900) / 1000
            ev += [("<", f"BDAT {size} LAST,"),
                   ("*", ",Proxy destination(s) obtained from OnProxyInboundMessage event. "
                         f"Correlation Id:{rng.getrandbits(128):032x}"),
                   (">", f'"250 2.6.0 <{rng.getrandbits(64):016x}@{helo}> '
                         f'[InternalId={rng.getrandbits(44)}, Hostname={host}] {size} bytes in '
                         f'{took:.3f}, {size / 1024 / took:.3f} KB/sec Queued mail for delivery",'),
                   ("<", "QUIT,"), (">", "221 2.0.0 Service closing transmission channel,"),
                   ("-", ",Local")]
    sid = srv.next_id()
    prefix = f"{srv.connector},{sid},"
    out, t = [], start
    for seq, (event, rest) in enumerate(ev):
        out.append((t, f"{prefix}{seq},{srv.local},{remote},{event},{rest.replace('{sid}', sid)}"))
        t += timedelta(milliseconds=rng.randrange(0, 40))
    return out


def _write_server(args: tuple[Path, int, int, int]) -> int:
    """All files of one server, hour after hour, until its share of bytes is written."""
    root, index, budget, seed = args
    srv = Server(index, seed)
    rng = srv.rng
    folder = root / srv.name / "FrontEnd" / "ProtocolLog" / "SmtpReceive"
    folder.mkdir(parents=True, exist_ok=True)
    written, hour, out = 0, 0, None
    renew = None
    heap: list[tuple[datetime, int, str]] = []  # lines of open sessions, across hour boundaries
    order = 0
    while written < budget:
        begin = START + timedelta(hours=hour)
        name, number, size = begin.strftime("RECV%Y%m%d%H"), 1, 0
        out = open(folder / f"{name}-{number}.LOG", "wb")
        out.write(b"\xef\xbb\xbf" + HEADER.format(date=_stamp(begin)).encode())
        gaps = sorted(rng.random() * 3600 for _ in range(SESSIONS_PER_HOUR))
        for gap in gaps + [3600.0]:
            when = begin + timedelta(seconds=gap)
            while heap and heap[0][0] < when:
                t, _, text = heapq.heappop(heap)
                line = f"{_stamp(t)},{text}\r\n".encode()
                if size + len(line) > FILE_LIMIT:
                    out.close()
                    number += 1
                    out = open(folder / f"{name}-{number}.LOG", "wb")
                    head = HEADER.format(date=_stamp(t)).encode()
                    out.write(b"\xef\xbb\xbf" + head)
                    size = len(head)
                out.write(line)
                size += len(line)
                written += len(line)
            if gap < 3600.0:
                if renew is None and written >= budget // 2:
                    renew = when
                cert = srv.certs[1 if renew else 0]
                for t, text in _session(srv, when, cert, rng):
                    heapq.heappush(heap, (t, order, text))
                    order += 1
        hour += 1
        if written < budget:
            out.close()
    while heap:
        out.write(f"{_stamp(heap[0][0])},{heapq.heappop(heap)[2]}\r\n".encode())
    out.write(f"{_stamp(START + timedelta(hours=hour))},{srv.connector},08DE".encode())
    out.close()  # the last line is cut off: the log is still being written
    return written


def generate(root: Path, size_gb: float = 2.0, servers: int = 4, seed: int = 1) -> int:
    """Write the logs under `root`; the total size of the rows written, in bytes."""
    budget = int(size_gb * 1024**3 / servers) + 1
    jobs = [(root, i, budget, seed) for i in range(servers)]
    with Pool(min(servers, 2)) as pool:
        return sum(pool.map(_write_server, jobs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    if args.out.resolve().is_relative_to(here):
        print("refusing to write generated logs inside the repository", file=sys.stderr)
        return 2
    total = generate(args.out, args.size_gb, args.servers, args.seed)
    print(f"wrote {total / 1024**3:.2f} GiB of rows under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
