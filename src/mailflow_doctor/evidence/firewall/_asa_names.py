"""Names the Cisco ASA accepts in place of port and protocol numbers.

Facts, kept as data: the literal port names of the ASA command line ("Protocols and Applications"
and "TCP and UDP Ports" tables of the Cisco ASA Series command reference / CLI configuration
guide). A config always shows the name when one exists (`eq smtp`, never `eq 25`), so the table
must be complete for the TCP names; UDP-only names are listed so `tcp-udp` objects still parse.
"""

from __future__ import annotations

# Port names valid for TCP (and for tcp-udp objects).
TCP_PORTS: dict[str, int] = {
    "aol": 5190, "bgp": 179, "chargen": 19, "cifs": 3020, "citrix-ica": 1494, "cmd": 514,
    "ctiqbe": 2748, "daytime": 13, "discard": 9, "domain": 53, "echo": 7, "exec": 512,
    "finger": 79, "ftp": 21, "ftp-data": 20, "gopher": 70, "h323": 1720, "hostname": 101,
    "http": 80, "https": 443, "ident": 113, "imap4": 143, "irc": 194, "kerberos": 750,
    "klogin": 543, "kshell": 544, "ldap": 389, "ldaps": 636, "login": 513, "lotusnotes": 1352,
    "lpd": 515, "netbios-ssn": 139, "nfs": 2049, "nntp": 119, "pcanywhere-data": 5631,
    "pim-auto-rp": 496, "pop2": 109, "pop3": 110, "pptp": 1723, "rsh": 514, "rtsp": 554,
    "sip": 5060, "smtp": 25, "sqlnet": 1521, "ssh": 22, "sunrpc": 111, "tacacs": 49, "talk": 517,
    "telnet": 23, "uucp": 540, "whois": 43, "www": 80,
}

# Port names that exist only for UDP; harmless for the TCP question but must not be errors.
UDP_ONLY_PORTS: dict[str, int] = {
    "biff": 512, "bootpc": 68, "bootps": 67, "dnsix": 195, "isakmp": 500, "mobile-ip": 434,
    "nameserver": 42, "netbios-dgm": 138, "netbios-ns": 137, "ntp": 123, "pcanywhere-status": 5632,
    "radius": 1645, "radius-acct": 1646, "rip": 520, "secureid-udp": 5510, "snmp": 161,
    "snmptrap": 162, "syslog": 514, "tftp": 69, "vxlan": 4789, "who": 513, "xdmcp": 177,
}

# Protocol keywords that can carry TCP: `ip` means every protocol, 6 is TCP's number.
TCP_PROTOCOLS = frozenset({"tcp", "tcp-udp", "ip", "6", "0"})

# Other protocol keywords the ASA knows; they never match a TCP flow.
OTHER_PROTOCOLS = frozenset({
    "udp", "icmp", "icmp6", "esp", "ah", "gre", "eigrp", "igmp", "igrp", "ipinip", "ipsec",
    "nos", "ospf", "pcp", "pim", "pptp", "snp", "sctp", "ipv6", "sip",
})

# `log` may be followed by a level, as a number or one of these names.
LOG_LEVELS = frozenset({
    "emergencies", "alerts", "critical", "errors", "warnings", "notifications",
    "informational", "debugging", "0", "1", "2", "3", "4", "5", "6", "7",
})


def port_number(token: str, tcp: bool = True) -> int:
    """A port token (number or ASA name) as a number; ValueError when unknown."""
    if token.isdigit() and 0 <= int(token) <= 65535:
        return int(token)
    if token in TCP_PORTS:
        return TCP_PORTS[token]
    if not tcp and token in UDP_ONLY_PORTS:
        return UDP_ONLY_PORTS[token]
    raise ValueError(f"unknown port {token!r}")
